"""The hot queries use indexes at a seeded scale: no sequential scan of events or RSVPs.

The plans are read with EXPLAIN on a database holding 30,000 events (orgs, RSVPs in
proportion) after ANALYZE, large enough for the planner to prefer indexes where they exist.
Speed itself is measured by `make bench`, never here.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from api.services import event_search as event_service
from bench.seed import seed_events
from db.pool import connect
from db.queries import events as event_queries
from db.queries import feeds, partner_sync
from tests.conftest import create_test_database, drop_test_database

BIG_TABLES = {"events", "rsvps"}


class ExplainingConnection:
    """Runs every query twice: once under EXPLAIN (recorded), once for real."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self.plans: list[tuple[str, dict[str, Any]]] = []

    async def _explain(self, query: str, args: tuple[Any, ...]) -> None:
        if query.lstrip().upper().startswith(("SELECT", "WITH")):
            # ANALYZE: the rows each node really read, not the planner's guess
            raw = await self._conn.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + query, *args)
            document = json.loads(raw) if isinstance(raw, str) else raw  # json codec decodes
            self.plans.append((query, document[0]["Plan"]))

    async def fetch(self, query: str, *args: Any, **kw: Any) -> Any:
        await self._explain(query, args)
        return await self._conn.fetch(query, *args, **kw)

    async def fetchrow(self, query: str, *args: Any, **kw: Any) -> Any:
        await self._explain(query, args)
        return await self._conn.fetchrow(query, *args, **kw)

    async def fetchval(self, query: str, *args: Any, **kw: Any) -> Any:
        await self._explain(query, args)
        return await self._conn.fetchval(query, *args, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def sequential_scans(plan: dict[str, Any]) -> list[str]:
    found = []
    if plan.get("Node Type") == "Seq Scan" and plan.get("Relation Name") in BIG_TABLES:
        found.append(plan["Relation Name"])
    for child in plan.get("Plans", []):
        found += sequential_scans(child)
    return found


@pytest.fixture(scope="module")
async def seeded() -> AsyncIterator[str]:
    url = await create_test_database("caravan_plans")
    conn = await connect(url)
    try:
        await seed_events(conn, 30_000)
    finally:
        await conn.close()
    yield url
    await drop_test_database(url)


@pytest.fixture
async def explaining(seeded: str) -> AsyncIterator[ExplainingConnection]:
    conn = await connect(seeded)
    try:
        yield ExplainingConnection(conn)
    finally:
        await conn.close()


def events_read(plan: dict[str, Any]) -> int:
    """Rows of `events` the plan read: those its scans returned and those they filtered out."""
    read = 0
    if plan.get("Relation Name") == "events":
        loops = plan.get("Actual Loops", 1)
        read += (plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)) * loops
    for child in plan.get("Plans", []):
        read += events_read(child)
    return read


def assert_reads_at_most(conn: ExplainingConnection, rows: int) -> None:
    """The work stays bounded by what the query is about (an org's events, a page), not by
    the size of the table: a plan that walks the table reads thousands of rows here."""
    for query, plan in conn.plans:
        assert events_read(plan) <= rows, (
            f"{events_read(plan)} rows of events read by:\n{query}\n{json.dumps(plan)[:2000]}"
        )


def assert_index_only(conn: ExplainingConnection) -> None:
    assert conn.plans, "no query was explained"
    for query, plan in conn.plans:
        assert not sequential_scans(plan), (
            f"sequential scan in:\n{query}\n{json.dumps(plan)[:2000]}"
        )


@pytest.mark.parametrize(
    "query",
    [
        event_service.EventQuery(),
        event_service.EventQuery(near=(32.52, -117.03), radius_km=25),
        event_service.EventQuery(text="asylum"),
        event_service.EventQuery(text='Familia or "border shelter" -court'),
        event_service.EventQuery(tags=["vigil"]),
        event_service.EventQuery(kinds=["march"]),
    ],
    ids=["first-page", "near", "text", "text-syntax", "tag", "kind"],
)
async def test_public_list_plans_use_indexes(explaining, query):
    page = await event_service.list_events(explaining, None, None, query, None, 50, ["en"])
    assert page.items
    assert_index_only(explaining)


async def test_the_first_page_reads_about_a_page_of_events(explaining):
    page = await event_service.list_events(
        explaining, None, None, event_service.EventQuery(), None, 50, ["en"]
    )
    assert len(page.items) == 50
    assert_reads_at_most(explaining, 500)


async def test_signed_in_list_plan_uses_indexes(explaining):
    account = await explaining._conn.fetchval("SELECT gen_random_uuid()")
    await event_service.list_events(
        explaining, None, account, event_service.EventQuery(), None, 50, ["en"]
    )
    assert_index_only(explaining)
    assert_reads_at_most(explaining, 500)


async def test_event_detail_plan_uses_indexes(explaining):
    event_id = await explaining._conn.fetchval(
        "SELECT id FROM events WHERE visibility = 'public' AND status = 'published' LIMIT 1 OFFSET 999"
    )
    row = await event_queries.select_event(explaining, event_id, None)
    assert row is not None
    assert_index_only(explaining)


async def test_partner_sync_plan_uses_indexes(explaining):
    org_id = await explaining._conn.fetchval("SELECT id FROM orgs ORDER BY slug LIMIT 1")
    horizon = await partner_sync.select_horizon(explaining._conn)
    rows = await partner_sync.select_event_changes(explaining, org_id, (0, 0), horizon, 100)
    assert rows
    assert_index_only(explaining)
    # the org's ~250 events, not the 30,000 of the table
    assert_reads_at_most(explaining, 1_000)


async def test_one_orgs_osdi_view_reads_that_orgs_events_only(explaining):
    org_id = await explaining._conn.fetchval("SELECT id FROM orgs ORDER BY slug LIMIT 1")
    rows = await partner_sync.select_public_events(
        explaining, org_id=org_id, ends_after=datetime.now(UTC), after=None, limit=25
    )
    assert rows
    assert_index_only(explaining)
    assert_reads_at_most(explaining, 1_000)


async def test_org_feed_plan_uses_indexes(explaining):
    org_id: UUID = await explaining._conn.fetchval("SELECT id FROM orgs ORDER BY slug LIMIT 1")
    now = datetime.now(UTC)
    rows = await feeds.select_org_feed_events(
        explaining,
        org_id,
        now=now,
        since=now - timedelta(days=30),
        until=now + timedelta(days=365),
        kinds=None,
        tags=None,
        language=None,
        limit=1000,
    )
    assert rows
    await feeds.select_org_feed_watermark(
        explaining, org_id, now=now, since=now - timedelta(days=30), until=now + timedelta(days=365)
    )
    slug = await explaining._conn.fetchval("SELECT slug FROM orgs WHERE id = $1", org_id)
    assert await feeds.select_org_feed_fingerprint(explaining, slug)
    assert_index_only(explaining)
    # the org's ~250 events, not the 30,000 of the table
    assert_reads_at_most(explaining, 1_000)


async def test_the_read_count_spots_a_query_that_walks_the_table(explaining):
    """The bound has teeth: the old way to ask for an org's events ('org_id = $1 OR a
    co-host') walks the start-time index past thousands of other orgs' events."""
    org_id = await explaining._conn.fetchval("SELECT id FROM orgs ORDER BY slug LIMIT 1")
    await explaining.fetch(
        """SELECT e.id FROM events e
            WHERE (e.org_id = $1 OR EXISTS (SELECT 1 FROM event_cohosts ec
                                             WHERE ec.event_id = e.id AND ec.org_id = $1))
              AND e.visibility = 'public' AND e.status <> 'draft' AND e.ends_at > now()
            ORDER BY e.starts_at, e.id LIMIT 1000""",
        org_id,
    )
    with pytest.raises(AssertionError):
        assert_reads_at_most(explaining, 1_000)


async def test_the_check_spots_a_sequential_scan(explaining):
    """The check has teeth: a filter on an unindexed column is reported."""
    await explaining.fetch("SELECT id FROM events WHERE venue_name = $1", "Venue 7")
    _, plan = explaining.plans[-1]
    assert sequential_scans(plan) == ["events"]
