"""SQL for retention: per-org windows, what falls out of them, and purge receipts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

SETTING_COLUMNS = "rsvp_contact_hours, ride_pickup_hours, trip_emergency_days, audit_days"
RECEIPT_COLUMNS = (
    "id, data_class, event_id, trip_id, row_count, keys_destroyed, window_hours, purged_at"
)


async def select_org_retention(conn: asyncpg.Connection, org_id: UUID) -> asyncpg.Record | None:
    """The org's own windows (NULL = the deployment default); None when it never set any."""
    return await conn.fetchrow(
        f"SELECT {SETTING_COLUMNS} FROM org_retention_settings WHERE org_id = $1", org_id
    )


async def upsert_org_retention(
    conn: asyncpg.Connection,
    org_id: UUID,
    rsvp_contact_hours: int | None,
    ride_pickup_hours: int | None,
    trip_emergency_days: int | None,
    audit_days: int | None,
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""
        INSERT INTO org_retention_settings AS s (org_id, {SETTING_COLUMNS})
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (org_id) DO UPDATE
           SET rsvp_contact_hours  = EXCLUDED.rsvp_contact_hours,
               ride_pickup_hours   = EXCLUDED.ride_pickup_hours,
               trip_emergency_days = EXCLUDED.trip_emergency_days,
               audit_days          = EXCLUDED.audit_days,
               updated_at          = now()
        RETURNING {SETTING_COLUMNS}
        """,
        org_id,
        rsvp_contact_hours,
        ride_pickup_hours,
        trip_emergency_days,
        audit_days,
    )
    assert row is not None
    return row


async def select_orgs_with_shorter_windows(
    conn: asyncpg.Connection, column: str
) -> list[asyncpg.Record]:
    """Orgs that set `column` (one of SETTING_COLUMNS, never input): org_id and value."""
    if column not in SETTING_COLUMNS.split(", "):
        raise ValueError(f"not a retention setting: {column}")
    return await conn.fetch(
        f"""
        SELECT org_id, {column} AS value
          FROM org_retention_settings
         WHERE {column} IS NOT NULL
         ORDER BY org_id
        """
    )


async def select_contact_keys_to_destroy(
    conn: asyncpg.Connection, now: datetime, default_hours: int
) -> list[asyncpg.Record]:
    """Events whose RSVP data key ('rsvp_contact') is still live although their window has
    passed and none of their RSVPs is left: org_id, event_id."""
    return await conn.fetch(
        """
        SELECT e.org_id, e.id AS event_id
          FROM data_keys k
          JOIN events e ON e.id = k.scope_id
          LEFT JOIN org_retention_settings s ON s.org_id = e.org_id
         WHERE k.scope = 'event' AND k.data_class = 'rsvp_contact'
           AND k.wrapped_key IS NOT NULL
           AND e.ends_at + make_interval(hours => least(coalesce(s.rsvp_contact_hours, $2), $2))
               <= $1
           AND e.status <> 'postponed'
           AND NOT EXISTS (SELECT 1 FROM rsvps r WHERE r.event_id = e.id)
         ORDER BY e.id
        """,
        now,
        default_hours,
    )


async def select_keys_destroyed_now(
    conn: asyncpg.Connection, scope: str, scope_ids: Sequence[UUID], data_class: str
) -> set[UUID]:
    """Which of these scopes had their key destroyed by the running transaction (destroying
    stamps `destroyed_at` with now(), the transaction's start)."""
    rows = await conn.fetch(
        """
        SELECT scope_id
          FROM data_keys
         WHERE scope = $1 AND scope_id = ANY($2::uuid[]) AND data_class = $3
           AND destroyed_at = now()
        """,
        scope,
        list(scope_ids),
        data_class,
    )
    return {r["scope_id"] for r in rows}


async def select_offer_parents(
    conn: asyncpg.Connection, offer_ids: Sequence[UUID]
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, org_id, event_id, trip_id FROM ride_offers WHERE id = ANY($1::uuid[])",
        list(offer_ids),
    )


async def delete_past_ride_riders(
    conn: asyncpg.Connection, now: datetime, default_hours: int
) -> list[asyncpg.Record]:
    """Delete who booked or asked for seats on rides whose last leg left longer ago than the
    org's window for ride data (the seat counters on the offer stay). One row per event or
    trip: org_id, event_id, trip_id, deleted."""
    return await conn.fetch(
        """
        WITH bookings AS (
            DELETE FROM ride_bookings b
             USING ride_offers o
              LEFT JOIN org_retention_settings s ON s.org_id = o.org_id
             WHERE b.offer_id = o.id
               AND coalesce(o.return_departs_at, o.departs_at)
                   + make_interval(hours => least(coalesce(s.ride_pickup_hours, $2), $2)) <= $1
         RETURNING o.org_id, o.event_id, o.trip_id
        ),
        requests AS (
            DELETE FROM ride_requests r
             WHERE r.latest_at + make_interval(hours => least(coalesce(
                       (SELECT s.ride_pickup_hours FROM org_retention_settings s
                         WHERE s.org_id = r.org_id), $2), $2)) <= $1
         RETURNING r.org_id, r.event_id, r.trip_id
        )
        SELECT org_id, event_id, trip_id, count(*)::int AS deleted
          FROM (SELECT * FROM bookings UNION ALL SELECT * FROM requests) gone
         GROUP BY org_id, event_id, trip_id
         ORDER BY org_id, event_id, trip_id
        """,
        now,
        default_hours,
    )


async def delete_old_audit_rows(
    conn: asyncpg.Connection, now: datetime, default_days: int
) -> list[asyncpg.Record]:
    """Delete audit rows older than their org's window: one row per org, org_id and deleted
    (org_id NULL for rows of no org, kept `default_days`)."""
    return await conn.fetch(
        """
        WITH gone AS (
            DELETE FROM audit_log a
             WHERE a.created_at + make_interval(days => least(coalesce(
                       (SELECT s.audit_days FROM org_retention_settings s
                         WHERE s.org_id = a.org_id), $2), $2)) <= $1
         RETURNING a.org_id
        )
        SELECT org_id, count(*)::int AS deleted FROM gone GROUP BY org_id ORDER BY org_id
        """,
        now,
        default_days,
    )


async def delete_old_receipts(conn: asyncpg.Connection, now: datetime, default_days: int) -> int:
    """Receipts are kept as long as the org keeps audit rows."""
    status = await conn.execute(
        """
        DELETE FROM purge_receipts p
         WHERE p.purged_at + make_interval(days => least(coalesce(
                   (SELECT s.audit_days FROM org_retention_settings s
                     WHERE s.org_id = p.org_id), $2), $2)) <= $1
        """,
        now,
        default_days,
    )
    return int(status.split()[-1])


async def insert_purge_receipts(
    conn: asyncpg.Connection, receipts: Sequence[dict[str, Any]]
) -> list[asyncpg.Record]:
    """Write receipts ({org_id, data_class, event_id, trip_id, row_count, keys_destroyed,
    window_hours}) in one statement; returns them as stored, in the order given."""
    if not receipts:
        return []
    return await conn.fetch(
        f"""
        INSERT INTO purge_receipts (org_id, data_class, event_id, trip_id, row_count,
                                    keys_destroyed, window_hours)
        SELECT org_id, data_class, event_id, trip_id, row_count, keys_destroyed, window_hours
          FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::uuid[], $5::int[], $6::int[],
                      $7::int[])
                 WITH ORDINALITY AS r(org_id, data_class, event_id, trip_id, row_count,
                                      keys_destroyed, window_hours, n)
         ORDER BY n
        RETURNING org_id, {RECEIPT_COLUMNS}
        """,
        [r["org_id"] for r in receipts],
        [r["data_class"] for r in receipts],
        [r.get("event_id") for r in receipts],
        [r.get("trip_id") for r in receipts],
        [r["row_count"] for r in receipts],
        [r.get("keys_destroyed", 0) for r in receipts],
        [r["window_hours"] for r in receipts],
    )


async def select_purge_receipts(
    conn: asyncpg.Connection,
    org_id: UUID,
    before: tuple[datetime, UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """An org's receipts, newest first; keyset on (purged_at, id)."""
    return await conn.fetch(
        f"""
        SELECT {RECEIPT_COLUMNS}
          FROM purge_receipts
         WHERE org_id = $1
           AND ($2::timestamptz IS NULL OR (purged_at, id) < ($2, $3))
         ORDER BY purged_at DESC, id DESC
         LIMIT $4
        """,
        org_id,
        before[0] if before else None,
        before[1] if before else None,
        limit,
    )
