"""Two workers running two imports of one calendar at the same time mirror it once.

Real workers on a real pool: each claims one import (SKIP LOCKED), both fetch and parse at
once, and their changes are applied one org at a time, so the second sees what the first
added and counts it as shared instead of adding a copy or failing on the unique key.

Teeth check (done by hand, not committed): with the per-org lock in `lock_org_imports`
removed, 3 runs out of 3 failed: one import's run ended in "could not be saved
(UniqueViolationError)"; with the lock every run passes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.services import feed_imports
from api.services.feed_imports import ImportLimits
from db.pool import create_pool
from tests.conftest import settings_for
from tests.people import create_org, sign_up
from tests.test_feed_imports import Feed, day, ics, imported_events, register, vevent
from tests.test_webhooks_helpers import LoopbackServer

pytestmark = pytest.mark.concurrency


@pytest.fixture
async def live(live_database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, Any, Any]]:
    """A client, its pool and its (loopback-allowing) settings; tables emptied afterwards."""
    settings = settings_for(live_database_url, CARAVAN_OUTBOUND_ALLOW_LOOPBACK="1")
    pool = await create_pool(live_database_url, min_size=2, max_size=6)
    app = create_app(settings, pool=pool)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as http:
            yield http, pool, settings
    finally:
        async with pool.acquire() as c:
            tables = await c.fetch(
                "SELECT tablename FROM pg_tables"
                " WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
            )
            await c.execute(
                "TRUNCATE " + ", ".join(f'"{t["tablename"]}"' for t in tables) + " CASCADE"
            )
        await pool.close()


async def test_two_workers_importing_one_calendar_at_once_mirror_it_once(live):
    client, pool, settings = live
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    body = ics(*(vevent(f"e{i}@partner", f"Event {i}", day(2 + i)) for i in range(20)))
    async with LoopbackServer(Feed(body)) as server:
        await register(client, org, owner, server.url + "/events.ics")
        await register(client, org, owner, server.url + "/events.ics?copy=1")
        done = await asyncio.gather(
            *(
                feed_imports.run_due_imports(pool, settings, limits=ImportLimits(), batch=1)
                for _ in range(2)
            )
        )
    assert done == [1, 1]
    async with pool.acquire() as c:
        runs = await c.fetch("SELECT status, added, shared, error FROM feed_import_runs")
    assert sorted((r["status"], r["added"], r["shared"]) for r in runs) == [
        ("ok", 0, 20),
        ("ok", 20, 0),
    ], [r["error"] for r in runs]
    assert len(await imported_events(client, org)) == 20
