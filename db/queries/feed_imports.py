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
       r.rejected, r.error"""


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
        SELECT {IMPORT_COLUMNS}, o.timezone AS org_timezone
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
        SELECT {IMPORT_COLUMNS}, o.timezone AS org_timezone
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
    counts: tuple[int, int, int, int],
    error: str | None,
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
                                           added, updated, removed, rejected, error)
        VALUES ($1, $2, greatest(clock_timestamp(), $2), $3, $4, $5, $6, $7, $8)
        RETURNING {RUN_COLUMNS}
        """,
        import_id,
        started_at,
        status,
        *counts,
        error,
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


async def select_imported_events(conn: asyncpg.Connection, import_id: UUID) -> list[asyncpg.Record]:
    """The events this import mirrors, locked for the run."""
    columns = ", ".join(f"e.{c}" for c in WRITABLE_COLUMNS)
    return await conn.fetch(
        f"""
        SELECT e.id, e.org_id, e.source_uid, e.source_url, e.status, e.sequence, {columns}
          FROM events e
         WHERE e.imported_from = $1
         ORDER BY e.id
           FOR UPDATE
        """,
        import_id,
    )


async def mark_imported(
    conn: asyncpg.Connection,
    event_id: UUID,
    import_id: UUID,
    source_uid: str,
    source_url: str | None,
) -> None:
    await conn.execute(
        """
        UPDATE events
           SET imported_from = $2, source_uid = $3, source_url = $4,
               cancelled_at = CASE WHEN status = 'cancelled' THEN now() END
         WHERE id = $1
        """,
        event_id,
        import_id,
        source_uid,
        source_url,
    )


async def update_source_url(
    conn: asyncpg.Connection, event_id: UUID, source_url: str | None
) -> None:
    await conn.execute("UPDATE events SET source_url = $2 WHERE id = $1", event_id, source_url)


async def delete_imported_event(conn: asyncpg.Connection, event_id: UUID) -> None:
    await conn.execute("DELETE FROM events WHERE id = $1 AND imported_from IS NOT NULL", event_id)
