"""SQL for partner views: the incremental change feed with tombstones, OSDI and schema.org rows.

Why the sync cursor never skips a change
----------------------------------------
`change_seq` comes from a sequence, allocated in the middle of the writing transaction: a
transaction holding 95 can commit after another one that took 100 has committed. A cursor on
change_seq alone would then hand out 100, move past it, and never return 95. Filtering on
"transactions that have ended" is not enough either while the order is by change_seq: an old
transaction may take change_seq 100 after a younger one took 95 and is still running.

So every change also records its writing transaction (`change_xid`, an xid8 that never wraps;
set by default on insert and by the `events_stamp_change` trigger on update), and the feed is
ordered by (change_xid, change_seq). One poll hands out only rows written by transactions older
than the snapshot's xmin — every such transaction has ended, so all of their rows are visible
and none can appear later — and the cursor is the (change_xid, change_seq) of the last row
handed out. Any change committed afterwards comes from a transaction at or above that xmin, so
it sorts after the cursor; a transaction still running is simply returned by a later poll. A
row changed again gets a new, larger change_xid and comes again, at its latest state.

The horizon is read once per poll and passed to every query of that poll. Rows written by the
polling transaction itself (only in tests that write and read in one transaction) are visible
and never in flight, so they are included too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from db.queries.events import EVENT_COLUMNS
from db.queries.hosts import hosted_by

_PARTNER_COLUMNS = f"""{EVENT_COLUMNS},
       e.change_xid::text AS change_xid, (e.imported_from IS NOT NULL) AS imported,
       (SELECT coalesce(array_agg(ec.org_id), '{{}}') FROM event_cohosts ec
         WHERE ec.event_id = e.id) AS cohost_ids"""


async def select_horizon(conn: asyncpg.Connection) -> asyncpg.Record:
    """The commit-safe horizon: the oldest transaction still running, and our own (if any)."""
    row = await conn.fetchrow(
        """
        SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin,
               pg_current_xact_id_if_assigned()::text AS own
        """
    )
    assert row is not None
    return row


async def select_event_changes(
    conn: asyncpg.Connection,
    org_id: UUID,
    after: tuple[int, int],
    horizon: asyncpg.Record,
    limit: int,
) -> list[asyncpg.Record]:
    """Events the org's partners may have seen (see partner_exposures), changed after the
    cursor and below the horizon, in (change_xid, change_seq) order. The page's ids are
    chosen first, so the view's columns are computed for its rows only."""
    return await conn.fetch(
        f"""
        SELECT {_PARTNER_COLUMNS}
          FROM (SELECT c.id
                  FROM partner_exposures x
                 CROSS JOIN LATERAL (
                       -- LIMIT 1 keeps this one lookup per exposure of the org: as a plain
                       -- join PostgreSQL may walk every event in change order instead.
                       SELECT e.id, e.change_xid, e.change_seq
                         FROM events e
                        WHERE e.id = x.event_id
                          AND (e.change_xid, e.change_seq) > ($2::text::xid8, $3::bigint)
                          AND (e.change_xid < $4::text::xid8 OR e.change_xid = $5::text::xid8)
                        LIMIT 1) c
                 WHERE x.org_id = $1
                 ORDER BY c.change_xid, c.change_seq
                 LIMIT $6) page
          JOIN events e ON e.id = page.id
         ORDER BY e.change_xid, e.change_seq
        """,
        org_id,
        str(after[0]),
        after[1],
        horizon["xmin"],
        horizon["own"],
        limit,
    )


async def select_tombstones(
    conn: asyncpg.Connection,
    org_id: UUID,
    after: tuple[int, int],
    horizon: asyncpg.Record,
    limit: int,
) -> list[asyncpg.Record]:
    """Deleted events the org's partners may have seen, in the same order as the events."""
    return await conn.fetch(
        """
        SELECT t.event_id AS id, t.reason, t.change_seq, t.change_xid::text AS change_xid
          FROM partner_tombstones t
         WHERE t.org_id = $1
           AND (t.change_xid, t.change_seq) > ($2::text::xid8, $3::bigint)
           AND (t.change_xid < $4::text::xid8 OR t.change_xid = $5::text::xid8)
         ORDER BY t.change_xid, t.change_seq
         LIMIT $6
        """,
        org_id,
        str(after[0]),
        after[1],
        horizon["xmin"],
        horizon["own"],
        limit,
    )


# ---------------------------------------------------------------- public views (OSDI)


async def select_public_events(
    conn: asyncpg.Connection,
    *,
    org_id: UUID | None,
    event_id: UUID | None = None,
    ends_after: datetime | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Public, non-draft events (cancelled ones included, so consumers update), by start;
    with `org_id`, only that org's and those it co-hosts (starting from the org's events: a
    catch-all `$1 IS NULL OR …` would walk every event for one org)."""
    hosted = hosted_by("event", "$1") if org_id is not None else "$1::uuid IS NULL"
    return await conn.fetch(
        f"""
        SELECT {_PARTNER_COLUMNS},
               (SELECT o.name FROM orgs o WHERE o.id = e.org_id) AS org_name
          FROM events e
         WHERE e.visibility = 'public' AND e.status <> 'draft'
           AND {hosted}
           AND ($2::uuid IS NULL OR e.id = $2)
           AND ($3::timestamptz IS NULL OR e.ends_at > $3)
           AND ($4::timestamptz IS NULL OR (e.starts_at, e.id) > ($4, $5))
         ORDER BY e.starts_at, e.id
         LIMIT $6
        """,
        org_id,
        event_id,
        ends_after,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def select_shifts_of(
    conn: asyncpg.Connection, event_ids: Sequence[UUID]
) -> list[asyncpg.Record]:
    """The shifts of these events, by event then start (no attendee data: counters only)."""
    return await conn.fetch(
        """
        SELECT s.id, s.event_id, s.name, s.role, s.starts_at, s.ends_at, s.capacity,
               s.places_taken, s.places_waitlisted, s.created_at, s.updated_at
          FROM shifts s
         WHERE s.event_id = ANY($1::uuid[])
         ORDER BY s.event_id, s.starts_at, s.id
        """,
        list(event_ids),
    )


async def select_shift_event_id(conn: asyncpg.Connection, shift_id: UUID) -> UUID | None:
    event_id: UUID | None = await conn.fetchval(
        "SELECT event_id FROM shifts WHERE id = $1", shift_id
    )
    return event_id


# ---------------------------------------------------------------- schema.org


async def select_jsonld_facts(conn: asyncpg.Connection, event_id: UUID) -> asyncpg.Record | None:
    """What schema.org needs beyond the Event view: history and the hosts' names."""
    return await conn.fetchrow(
        """
        SELECT e.previous_starts_at, e.moved_online_at,
               (e.venue_name IS NOT NULL OR e.venue_address IS NOT NULL
                OR e.venue_lat IS NOT NULL OR e.area IS NOT NULL) AS has_place,
               (e.virtual_url IS NOT NULL) AS has_virtual,
               o.slug AS org_slug, o.name AS org_name,
               coalesce((SELECT jsonb_agg(jsonb_build_object('slug', co.slug, 'name', co.name)
                                          ORDER BY co.slug)
                           FROM event_cohosts ec JOIN orgs co ON co.id = ec.org_id
                          WHERE ec.event_id = e.id), '[]'::jsonb) AS cohosts
          FROM events e
          JOIN orgs o ON o.id = e.org_id
         WHERE e.id = $1
        """,
        event_id,
    )
