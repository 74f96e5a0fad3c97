"""The asyncpg pool: one per process, opened in the app's lifespan."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec


async def init_connection(conn: asyncpg.Connection) -> None:
    """Teach each connection to speak JSON with msgspec (fast, and the same rules as the API)."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name,
            encoder=lambda v: msgspec.json.encode(v).decode(),
            decoder=msgspec.json.decode,
            schema="pg_catalog",
        )


def server_settings(statement_timeout_ms: int) -> dict[str, str]:
    # Timeouts make a stuck query or lock end in a 503 rather than a hung request.
    return {
        "application_name": "caravan",
        "timezone": "UTC",
        # JIT compilation costs far more than it saves on these short OLTP queries
        "jit": "off",
        "statement_timeout": str(statement_timeout_ms),
        "lock_timeout": str(max(statement_timeout_ms // 2, 100)),
        "idle_in_transaction_session_timeout": str(statement_timeout_ms * 3),
    }


async def create_pool(
    dsn: str, *, min_size: int = 2, max_size: int = 10, statement_timeout_ms: int = 10_000
) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=init_connection,
        server_settings=server_settings(statement_timeout_ms),
        # a little above the server's timeout, so the server cancels first and we see why
        command_timeout=statement_timeout_ms / 1000 + 2,
    )
    assert pool is not None
    return pool


async def connect(dsn: str, **kwargs: Any) -> asyncpg.Connection:
    """One connection set up like the pool's (for the CLI and tests)."""
    conn = await asyncpg.connect(dsn, server_settings=server_settings(10_000), **kwargs)
    await init_connection(conn)
    return conn
