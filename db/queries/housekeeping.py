"""SQL for routine clean-up: rows that must not outlive their purpose."""

from __future__ import annotations

import asyncpg


async def delete_expired_idempotency_keys(conn: asyncpg.Connection) -> int:
    status = await conn.execute("DELETE FROM idempotency_keys WHERE expires_at <= now()")
    return int(status.split()[-1])


async def delete_stale_rate_limits(conn: asyncpg.Connection, older_than_s: int) -> int:
    status = await conn.execute(
        "DELETE FROM rate_limits WHERE window_started_at < now() - make_interval(secs => $1)",
        older_than_s,
    )
    return int(status.split()[-1])
