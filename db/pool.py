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


def session_defaults(statement_timeout_ms: int) -> dict[str, str]:
    """What every session must start with: timeouts make a stuck query or lock end in a 503
    rather than a hung request."""
    return {
        # JIT compilation costs far more than it saves on these short OLTP queries
        "jit": "off",
        "statement_timeout": str(statement_timeout_ms),
        "lock_timeout": str(max(statement_timeout_ms // 2, 100)),
        "idle_in_transaction_session_timeout": str(statement_timeout_ms * 3),
    }


def server_settings(statement_timeout_ms: int, pooler: str = "none") -> dict[str, str]:
    """Start-up parameters. PgBouncer refuses any but a few (application_name and TimeZone
    among them), and would not carry them from one server connection to the next anyway:
    behind it the session defaults are the database's own, set by `caravan migrate`
    (db.migrate.set_database_defaults) and checked on each new connection (check_defaults)."""
    settings = {"application_name": "caravan", "timezone": "UTC"}
    if pooler == "none":
        settings.update(session_defaults(statement_timeout_ms))
    return settings


class DefaultsMissing(Exception):
    """Raised when a connection through PgBouncer starts without the timeouts it needs."""


async def check_defaults(conn: asyncpg.Connection, expected: dict[str, str]) -> None:
    """Refuse a session (and so the pool, at start-up) whose defaults are not `expected`."""
    rows = await conn.fetch(
        "SELECT name, setting FROM pg_settings WHERE name = ANY($1::text[])", list(expected)
    )
    found = {r["name"]: r["setting"] for r in rows}
    wrong = [
        f"{k} is {found.get(k)!r}, not {v!r}" for k, v in expected.items() if found.get(k) != v
    ]
    if wrong:
        raise DefaultsMissing(
            "Behind PgBouncer the database's own session defaults must hold the timeouts, but "
            + "; ".join(wrong)
            + ". Run `caravan migrate` with the same CARAVAN_STATEMENT_TIMEOUT_MS (it sets them "
            "on the database), then RECONNECT in PgBouncer's console so old server "
            "connections go."
        )


async def create_pool(
    dsn: str,
    *,
    min_size: int = 2,
    max_size: int = 10,
    statement_timeout_ms: int = 10_000,
    pooler: str = "none",
) -> asyncpg.Pool:
    """The app's pool. `pooler="pgbouncer"`: DATABASE_URL is PgBouncer in transaction pooling
    (1.18 as packaged by Debian knows no prepared statements), so no statement cache, and the
    timeouts come from the database's defaults, which each new connection checks."""
    init = init_connection
    if pooler == "pgbouncer":
        expected = session_defaults(statement_timeout_ms)

        async def init(conn: asyncpg.Connection) -> None:
            await init_connection(conn)
            await check_defaults(conn, expected)

    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=init,
        server_settings=server_settings(statement_timeout_ms, pooler),
        # asyncpg then describes each statement unnamed and parses it again with its execution;
        # the description ends with Flush, not Sync, so PgBouncer keeps the two on one server
        # connection even outside a transaction (the cost: one more round trip per statement)
        statement_cache_size=0 if pooler == "pgbouncer" else 100,
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
