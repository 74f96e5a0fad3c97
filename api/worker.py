"""`caravan worker`: background jobs run from PostgreSQL, safe to run on any number of machines."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from api.config import Settings
from db.pool import create_pool
from db.queries import housekeeping, sessions

log = logging.getLogger("caravan.worker")


async def run_housekeeping(conn: Any) -> dict[str, int]:
    """Delete expired sessions, idempotency records and stale rate-limit windows."""
    async with conn.transaction():
        return {
            "sessions": await sessions.delete_expired_sessions(conn),
            "idempotency_keys": await housekeeping.delete_expired_idempotency_keys(conn),
            "rate_limits": await housekeeping.delete_stale_rate_limits(conn, 24 * 3600),
        }


async def run_worker(settings: Settings, *, interval_s: float = 60.0, once: bool = False) -> None:
    assert settings.database_url
    pool = await create_pool(settings.database_url, min_size=1, max_size=2)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        while not stop.is_set():
            async with pool.acquire() as conn:
                counts = await run_housekeeping(conn)
            log.info("housekeeping done: %s", counts)
            if once:
                break
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
            except TimeoutError:
                pass
    finally:
        await pool.close()
