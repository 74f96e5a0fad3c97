"""SQL for partner calendar imports, their runs, and the events they mirror."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from db.queries.events import WRITABLE_COLUMNS

IMPORT_COLUMNS = """f.id, f.org_id, f.url, f.name, f.interval_s, f.is_active, f.next_fetch_at,
       f.etag, f.last_modified, f.last_run_at, f.last_status, f.last_error, f.created_at,
       f.updated_at"""
RUN_COLUMNS = """r.id, r.started_at, r.finished_at, r.status, r.added, r.updated, r.removed,
       r.rejected, r.skipped, r.shared, r.error, r.notice"""
#: what a run needs to know about the importing org
ORG_COLUMNS = "o.timezone AS org_timezone, o.slug AS org_slug, o.name AS org_name"
#: `event-<uuid>@caravan`, the UID Caravan's feeds give an event (api.services.feed_items)
CARAVAN_EVENT_UID = "^event-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})@caravan$"


async def insert_feed_import(
    conn: asyncpg.Connection, org_id: UUID, url: str, name: str, interval_s: int
) -> asyncpg.Record | None:
    """None when the org already imports this URL."""
    return await conn.fetchrow(
        f"""
        INSERT INTO feed_imports AS f (org_id, url, name, interval_s)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT ON CONSTRAINT feed_imports_org_id_url_key DO NOTHING
        RETURNING {IMPORT_COLUMNS}
        """,
        org_id,
        url,
        name,
        interval_s,
    )


async def select_feed_imports(
    conn: asyncpg.Connection, org_id: UUID, after: tuple[datetime, UUID] | None, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""
        SELECT {IMPORT_COLUMNS}
          FROM feed_imports f
         WHERE f.org_id = $1
           AND ($2::timestamptz IS NULL OR (f.created_at, f.id) > ($2, $3))
         ORDER BY f.created_at, f.id
         LIMIT $4
        """,
        org_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def select_feed_import(
    conn: asyncpg.Connection, org_id: UUID, import_id: UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {IMPORT_COLUMNS} FROM feed_imports f WHERE f.id = $1 AND f.org_id = $2",
        import_id,
        org_id,
    )


async def lock_feed_import(
    conn: asyncpg.Connection, org_id: UUID, import_id: UUID
) -> asyncpg.Record | None:
    """The import, locked: waits for a worker running it (rows first, then the org's import
    lock, in the order runs take them)."""
    return await conn.fetchrow(
        f"SELECT {IMPORT_COLUMNS} FROM feed_imports f WHERE f.id = $1 AND f.org_id = $2 FOR UPDATE",
        import_id,
        org_id,
    )


async def update_feed_import(
    conn: asyncpg.Connection,
    import_id: UUID,
    url: str,
    name: str,
    interval_s: int,
    is_active: bool,
    url_changed: bool,
) -> asyncpg.Record:
    """Write the settings; a new URL forgets the old validators and is fetched soon."""
    row = await conn.fetchrow(
        f"""
        UPDATE feed_imports f
           SET url = $2, name = $3, interval_s = $4, is_active = $5,
               etag          = CASE WHEN $6 THEN NULL ELSE f.etag END,
               last_modified = CASE WHEN $6 THEN NULL ELSE f.last_modified END,
               next_fetch_at = CASE WHEN $6 THEN now() ELSE f.next_fetch_at END,
               updated_at = now()
         WHERE f.id = $1
        RETURNING {IMPORT_COLUMNS}
        """,
        import_id,
        url,
        name,
        interval_s,
        is_active,
        url_changed,
    )
    assert row is not None
    return row


async def schedule_now(
    conn: asyncpg.Connection, org_id: UUID, import_id: UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""
        UPDATE feed_imports f SET next_fetch_at = now(), updated_at = now()
         WHERE f.id = $1 AND f.org_id = $2
        RETURNING {IMPORT_COLUMNS}
        """,
        import_id,
        org_id,
    )


async def delete_feed_import(conn: asyncpg.Connection, org_id: UUID, import_id: UUID) -> bool:
    status = await conn.execute(
        "DELETE FROM feed_imports WHERE id = $1 AND org_id = $2", import_id, org_id
    )
    return status != "DELETE 0"


async def claim_due_import(conn: asyncpg.Connection) -> asyncpg.Record | None:
    """The most overdue active import, locked; imports other workers hold are skipped."""
    return await conn.fetchrow(
        f"""
        SELECT {IMPORT_COLUMNS}, {ORG_COLUMNS}
          FROM feed_imports f
          JOIN orgs o ON o.id = f.org_id
         WHERE f.is_active AND f.next_fetch_at <= now()
         ORDER BY f.next_fetch_at, f.id
         LIMIT 1
           FOR UPDATE OF f SKIP LOCKED
        """
    )


async def select_import_for_run(conn: asyncpg.Connection, import_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""
        SELECT {IMPORT_COLUMNS}, {ORG_COLUMNS}
          FROM feed_imports f JOIN orgs o ON o.id = f.org_id
         WHERE f.id = $1
        """,
        import_id,
    )


async def finish_run(
    conn: asyncpg.Connection,
    import_id: UUID,
    started_at: datetime,
    status: str,
    counts: tuple[int, int, int, int, int, int],
    error: str | None,
    notice: str | None,
    etag: str | None,
    last_modified: str | None,
    keep_validators: bool,
) -> asyncpg.Record:
    """Record the run and schedule the next one. The run finishes now by the clock, not at
    the transaction's start (`now()`), which came before the run's own start."""
    await conn.execute(
        """
        UPDATE feed_imports
           SET last_run_at   = now(),
               last_status   = $2,
               last_error    = $3,
               etag          = CASE WHEN $6 THEN etag ELSE $4 END,
               last_modified = CASE WHEN $6 THEN last_modified ELSE $5 END,
               next_fetch_at = now() + make_interval(secs => interval_s)
         WHERE id = $1
        """,
        import_id,
        status,
        error,
        etag,
        last_modified,
        keep_validators,
    )
    row = await conn.fetchrow(
        f"""
        INSERT INTO feed_import_runs AS r (feed_import_id, started_at, finished_at, status,
                                           added, updated, removed, rejected, skipped, shared,
                                           error, notice)
        VALUES ($1, $2, greatest(clock_timestamp(), $2), $3, $4, $5, $6, $7, $8, $9, $10, $11)
        RETURNING {RUN_COLUMNS}
        """,
        import_id,
        started_at,
        status,
        *counts,
        error,
        notice,
    )
    assert row is not None
    return row


async def select_runs(
    conn: asyncpg.Connection, import_id: UUID, before_id: int | None, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""
        SELECT {RUN_COLUMNS}
          FROM feed_import_runs r
         WHERE r.feed_import_id = $1 AND ($2::bigint IS NULL OR r.id < $2)
         ORDER BY r.id DESC
         LIMIT $3
        """,
        import_id,
        before_id,
        limit,
    )


# ---------------------------------------------------------------- mirrored events


async def lock_org_imports(conn: asyncpg.Connection, org_id: UUID) -> None:
    """Runs of one org's imports apply their changes one at a time (until the transaction
    ends): two imports carrying one calendar never both add the same event."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext('feed_imports'), hashtext($1::uuid::text))", org_id
    )


async def select_mirrored_events(
    conn: asyncpg.Connection,
    org_id: UUID,
    import_id: UUID,
    calendars: list[str],
    uids: list[str],
) -> list[asyncpg.Record]:
    """The org's mirrored events with one of these (calendar, UID) keys, and every event this
    import carries, locked for the run; `carried` says whether this import carries it, and
    `owner_active` whether the import writing it still runs."""
    columns = ", ".join(f"e.{c}" for c in WRITABLE_COLUMNS)
    return await conn.fetch(
        f"""
        SELECT e.id, e.org_id, e.imported_from, e.source_calendar, e.source_uid, e.source_url,
               e.status, e.sequence, {columns},
               (e.imported_from = $2 OR EXISTS (
                    SELECT 1 FROM feed_import_events c
                     WHERE c.event_id = e.id AND c.feed_import_id = $2)) AS carried,
               o.is_active AS owner_active
          FROM events e
          JOIN feed_imports o ON o.id = e.imported_from
         WHERE e.org_id = $1
           AND e.imported_from IS NOT NULL
           AND ((e.source_calendar, e.source_uid) IN (
                    SELECT k.calendar, k.uid FROM unnest($3::text[], $4::text[]) AS k(calendar, uid))
                OR e.imported_from = $2
                OR e.id IN (SELECT c.event_id FROM feed_import_events c
                             WHERE c.feed_import_id = $2))
         ORDER BY e.id
           FOR UPDATE OF e
        """,
        org_id,
        import_id,
        calendars,
        uids,
    )


async def mark_imported(
    conn: asyncpg.Connection,
    event_id: UUID,
    import_id: UUID,
    source_calendar: str,
    source_uid: str,
    source_url: str | None,
) -> None:
    await conn.execute(
        """
        UPDATE events
           SET imported_from = $2, source_calendar = $3, source_uid = $4, source_url = $5,
               cancelled_at = CASE WHEN status = 'cancelled' THEN now() END
         WHERE id = $1
        """,
        event_id,
        import_id,
        source_calendar,
        source_uid,
        source_url,
    )
    await insert_carrier(conn, import_id, event_id)


async def insert_carrier(conn: asyncpg.Connection, import_id: UUID, event_id: UUID) -> None:
    """Record that this import's feed carries the event (it may or may not write it)."""
    await conn.execute(
        """
        INSERT INTO feed_import_events (feed_import_id, event_id) VALUES ($1, $2)
        ON CONFLICT ON CONSTRAINT feed_import_events_pkey DO NOTHING
        """,
        import_id,
        event_id,
    )


async def delete_carrier(conn: asyncpg.Connection, import_id: UUID, event_id: UUID) -> None:
    await conn.execute(
        "DELETE FROM feed_import_events WHERE feed_import_id = $1 AND event_id = $2",
        import_id,
        event_id,
    )


async def set_owner(conn: asyncpg.Connection, event_id: UUID, import_id: UUID) -> None:
    await conn.execute("UPDATE events SET imported_from = $2 WHERE id = $1", event_id, import_id)


async def hand_over(conn: asyncpg.Connection, event_id: UUID, leaving_id: UUID) -> UUID | None:
    """Give the event to the longest-standing other import that carries it (running ones
    first), which fetches afresh at the next round so that its version replaces the leaving
    one's; None when no other import carries it."""
    heir: UUID | None = await conn.fetchval(
        """
        SELECT c.feed_import_id
          FROM feed_import_events c
          JOIN feed_imports f ON f.id = c.feed_import_id
         WHERE c.event_id = $1 AND c.feed_import_id <> $2
         ORDER BY f.is_active DESC, c.created_at, c.feed_import_id
         LIMIT 1
        """,
        event_id,
        leaving_id,
    )
    if heir is None:
        return None
    await set_owner(conn, event_id, heir)
    # an heir a worker holds right now is running anyway: waiting for it could deadlock
    await conn.execute(
        """
        UPDATE feed_imports f
           SET etag = NULL, last_modified = NULL,
               next_fetch_at = LEAST(f.next_fetch_at, now())
         WHERE f.id = (SELECT x.id FROM feed_imports x WHERE x.id = $1 FOR UPDATE SKIP LOCKED)
        """,
        heir,
    )
    return heir


async def hand_over_all(conn: asyncpg.Connection, import_id: UUID) -> int:
    """Give every event this import writes, and another running import carries, to that one
    (the longest-standing), which fetches afresh at the next round; how many moved."""
    moved: int = await conn.fetchval(
        """
        WITH heirs AS (
            SELECT DISTINCT ON (c.event_id) c.event_id, c.feed_import_id
              FROM feed_import_events c
              JOIN feed_imports f ON f.id = c.feed_import_id
              JOIN events e ON e.id = c.event_id
             WHERE e.imported_from = $1 AND c.feed_import_id <> $1 AND f.is_active
             ORDER BY c.event_id, c.created_at, c.feed_import_id
        ), moved AS (
            UPDATE events e SET imported_from = h.feed_import_id
              FROM heirs h
             WHERE e.id = h.event_id
            RETURNING h.feed_import_id
        ), refetch AS (
            UPDATE feed_imports f
               SET etag = NULL, last_modified = NULL, next_fetch_at = LEAST(f.next_fetch_at, now())
             WHERE f.id IN (SELECT x.id FROM feed_imports x
                             WHERE x.id IN (SELECT m.feed_import_id FROM moved m)
                               FOR UPDATE SKIP LOCKED)
        )
        SELECT count(*) FROM moved
        """,
        import_id,
    )
    return moved


async def select_caravan_chains(
    conn: asyncpg.Connection, org_id: UUID, event_ids: list[UUID]
) -> list[asyncpg.Record]:
    """Each event here and, when it is itself mirrored from a Caravan feed of this server,
    the event it mirrors, and so on (at most 8 links): one row per link, with whether that
    event belongs to the org (hosted or co-hosted) and its own source key."""
    return await conn.fetch(
        f"""
        WITH RECURSIVE chain AS (
            SELECT e.id AS start_id, e.id, e.org_id, e.imported_from, e.source_calendar,
                   e.source_uid, 0 AS depth
              FROM events e
             WHERE e.id = ANY($2::uuid[])
            UNION ALL
            SELECT c.start_id, e.id, e.org_id, e.imported_from, e.source_calendar,
                   e.source_uid, c.depth + 1
              FROM chain c
              JOIN events e
                ON e.id = CASE WHEN c.source_uid ~ '{CARAVAN_EVENT_UID}'
                               THEN substring(c.source_uid FROM '{CARAVAN_EVENT_UID}')::uuid
                          END
             WHERE c.imported_from IS NOT NULL AND c.depth < 8
        )
        SELECT c.start_id, c.depth, c.imported_from IS NOT NULL AS imported,
               c.source_calendar, c.source_uid,
               (c.org_id = $1 OR EXISTS (
                    SELECT 1 FROM event_cohosts h WHERE h.event_id = c.id AND h.org_id = $1
               )) AS ours
          FROM chain c
         ORDER BY c.start_id, c.depth
        """,
        org_id,
        event_ids,
    )


async def select_own_occasions(
    conn: asyncpg.Connection, org_id: UUID, ids: list[UUID]
) -> set[UUID]:
    """Which of these ids are the org's (hosted or co-hosted) events, shifts, trips or
    itinerary items."""
    rows = await conn.fetch(
        """
        SELECT e.id FROM events e
         WHERE e.id = ANY($2::uuid[])
           AND (e.org_id = $1 OR EXISTS (
                SELECT 1 FROM event_cohosts h WHERE h.event_id = e.id AND h.org_id = $1))
        UNION ALL
        SELECT s.id FROM shifts s JOIN events e ON e.id = s.event_id
         WHERE s.id = ANY($2::uuid[])
           AND (e.org_id = $1 OR EXISTS (
                SELECT 1 FROM event_cohosts h WHERE h.event_id = e.id AND h.org_id = $1))
        UNION ALL
        SELECT t.id FROM trips t
         WHERE t.id = ANY($2::uuid[])
           AND (t.org_id = $1 OR EXISTS (
                SELECT 1 FROM trip_cohosts h WHERE h.trip_id = t.id AND h.org_id = $1))
        UNION ALL
        SELECT i.id FROM itinerary_items i JOIN trips t ON t.id = i.trip_id
         WHERE i.id = ANY($2::uuid[])
           AND (t.org_id = $1 OR EXISTS (
                SELECT 1 FROM trip_cohosts h WHERE h.trip_id = t.id AND h.org_id = $1))
        """,
        org_id,
        ids,
    )
    return {r["id"] for r in rows}


async def select_imported_events(conn: asyncpg.Connection, import_id: UUID) -> list[asyncpg.Record]:
    """The events this import writes."""
    return await conn.fetch(
        """
        SELECT e.id, e.source_calendar, e.source_uid
          FROM events e
         WHERE e.imported_from = $1
         ORDER BY e.id
        """,
        import_id,
    )


async def update_source_url(
    conn: asyncpg.Connection, event_id: UUID, source_url: str | None
) -> None:
    await conn.execute("UPDATE events SET source_url = $2 WHERE id = $1", event_id, source_url)


async def delete_imported_event(conn: asyncpg.Connection, event_id: UUID) -> None:
    await conn.execute("DELETE FROM events WHERE id = $1 AND imported_from IS NOT NULL", event_id)


async def select_event_sequence(conn: asyncpg.Connection, event_id: UUID) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT sequence, status FROM events WHERE id = $1", event_id)
    assert row is not None
    return row
