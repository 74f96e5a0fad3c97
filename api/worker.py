"""`caravan worker`: background jobs run from PostgreSQL, safe to run on any number of machines."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from api.config import Settings
from api.crypto import Keyring
from api.services import feed_imports, webhook_delivery
from api.services.events import notify_revealed_locations
from api.services.retention import (
    DELIVERY_LOG_DAYS,
    OUTBOX_DAYS,
    RATE_LIMIT_WINDOW_HOURS,
    Retention,
    run_retention,
    totals,
)
from api.services.rsvp_keys import seal_plaintext_aliases
from db.pool import create_pool
from db.queries import challenges, housekeeping, sessions
from db.queries import webhooks as webhook_queries

log = logging.getLogger("caravan.worker")


async def run_housekeeping(
    conn: Any, retention: Retention | None = None, keyring: Keyring | None = None
) -> dict[str, int]:
    """Delete expired sessions, idempotency records, stale rate-limit windows, finished
    deliveries, spent challenges past their expiry, and everything past its retention (with purge receipts); tell attendees of
    locations whose reveal time has come; with the keyring, seal the aliases of RSVPs written
    before aliases were sealed."""
    async with conn.transaction():
        counts = {
            "sessions": await sessions.delete_expired_sessions(conn),
            "idempotency_keys": await housekeeping.delete_expired_idempotency_keys(conn),
            "rate_limits": await housekeeping.delete_stale_rate_limits(
                conn, RATE_LIMIT_WINDOW_HOURS * 3600
            ),
            "spent_challenges": await challenges.delete_expired_challenges(conn),
            "webhook_deliveries": await webhook_queries.delete_finished_deliveries(
                conn, DELIVERY_LOG_DAYS
            ),
            "outbox": await webhook_queries.delete_dispatched_outbox(conn, OUTBOX_DAYS),
            **totals(await run_retention(conn, retention=retention)),
        }
    revealed = 0
    while True:
        async with conn.transaction():
            batch = await notify_revealed_locations(conn)
        revealed += batch
        if batch < 100:
            break
    counts["locations_revealed"] = revealed
    if keyring is not None:
        counts["aliases_sealed"] = await seal_plaintext_aliases(conn, keyring)
    return counts


async def run_partner_jobs(pool: Any, settings: Settings, keyring: Keyring) -> int:
    """Webhooks (outbox fan-out, then due deliveries) and due calendar imports; work done."""
    done = await webhook_delivery.run_webhooks(pool, settings, keyring)
    done += await feed_imports.run_due_imports(pool, settings)
    return done


async def run_worker(
    settings: Settings, *, interval_s: float = 60.0, once: bool = False, tick_s: float = 1.0
) -> None:
    """Housekeeping every `interval_s`; webhooks and imports every `tick_s` (at once while busy)."""
    assert settings.session_database_url
    # the direct connection when DATABASE_URL is a transaction pooler: background jobs are
    # where session state (LISTEN, advisory locks) belongs, and they need no pooling of theirs
    pool = await create_pool(settings.session_database_url, min_size=1, max_size=2)
    keyring = Keyring(settings.secret_key)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    next_housekeeping = 0.0
    try:
        while not stop.is_set():
            if loop.time() >= next_housekeeping:
                try:
                    async with pool.acquire() as conn:
                        counts = await run_housekeeping(
                            conn, Retention.from_settings(settings), keyring
                        )
                except Exception:
                    # the database is away or busy: nothing was lost (each step is a
                    # transaction); try again next tick rather than die
                    log.exception("housekeeping failed; retrying")
                    next_housekeeping = loop.time() + min(interval_s, 5 * tick_s)
                else:
                    log.info("housekeeping done: %s", counts)
                    next_housekeeping = loop.time() + interval_s
            try:
                busy = await run_partner_jobs(pool, settings, keyring)
            except Exception:
                # one bad round must not stop the worker; the jobs stay in PostgreSQL
                log.exception("webhook or import round failed")
                busy = 0
            if once:
                break
            try:
                await asyncio.wait_for(stop.wait(), timeout=0 if busy else tick_s)
            except TimeoutError:
                pass
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await pool.close()
