"""SQL for shifts: volunteer slots within an event, each with its own pool of places."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

SHIFT_COLUMNS = (
    "s.id, s.event_id, s.org_id, s.name, s.role, s.starts_at, s.ends_at, s.capacity, "
    "s.staffing_target, s.language, s.places_taken, s.places_waitlisted, s.created_at, "
    "s.updated_at"
)


async def insert_shift(
    conn: asyncpg.Connection,
    event_id: UUID,
    org_id: UUID,
    name: dict[str, str],
    role: str,
    starts_at: datetime,
    ends_at: datetime,
    capacity: int | None,
    staffing_target: int | None,
    language: str | None = None,
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""
        INSERT INTO shifts AS s (event_id, org_id, name, role, starts_at, ends_at, capacity,
                                 staffing_target, language)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        RETURNING {SHIFT_COLUMNS}
        """,
        event_id,
        org_id,
        name,
        role,
        starts_at,
        ends_at,
        capacity,
        staffing_target,
        language,
    )
    assert row is not None
    return row


async def select_shift(conn: asyncpg.Connection, shift_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {SHIFT_COLUMNS} FROM shifts s WHERE s.id = $1", shift_id)


async def select_shifts(
    conn: asyncpg.Connection,
    event_id: UUID,
    after: tuple[datetime, UUID] | None,
    limit: int | None,
) -> list[asyncpg.Record]:
    """An event's shifts by start time (then id); `limit` None for all of them."""
    return await conn.fetch(
        f"""
        SELECT {SHIFT_COLUMNS}
          FROM shifts s
         WHERE s.event_id = $1
           AND ($2::timestamptz IS NULL OR (s.starts_at, s.id) > ($2, $3))
         ORDER BY s.starts_at, s.id
         LIMIT $4
        """,
        event_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def update_shift(
    conn: asyncpg.Connection, shift_id: UUID, changes: dict[str, Any]
) -> asyncpg.Record:
    """Apply the given changes; each key picks a fixed assignment, every value is a parameter."""
    row = await conn.fetchrow(
        f"""
        UPDATE shifts AS s
           SET name            = CASE WHEN $2 THEN $3::jsonb ELSE s.name END,
               role            = CASE WHEN $4 THEN $5 ELSE s.role END,
               starts_at       = CASE WHEN $6 THEN $7 ELSE s.starts_at END,
               ends_at         = CASE WHEN $8 THEN $9 ELSE s.ends_at END,
               capacity        = CASE WHEN $10 THEN $11 ELSE s.capacity END,
               staffing_target = CASE WHEN $12 THEN $13 ELSE s.staffing_target END,
               language        = CASE WHEN $14 THEN $15 ELSE s.language END,
               updated_at      = now()
         WHERE s.id = $1
     RETURNING {SHIFT_COLUMNS}
        """,
        shift_id,
        "name" in changes,
        changes.get("name"),
        "role" in changes,
        changes.get("role"),
        "starts_at" in changes,
        changes.get("starts_at"),
        "ends_at" in changes,
        changes.get("ends_at"),
        "capacity" in changes,
        changes.get("capacity"),
        "staffing_target" in changes,
        changes.get("staffing_target"),
        "language" in changes,
        changes.get("language"),
    )
    assert row is not None
    return row


async def count_live_rsvps(conn: asyncpg.Connection, shift_id: UUID) -> int:
    count = await conn.fetchval(
        "SELECT count(*) FROM rsvps WHERE shift_id = $1 AND status <> 'cancelled'", shift_id
    )
    return int(count)


async def delete_shift(conn: asyncpg.Connection, shift_id: UUID) -> None:
    await conn.execute("DELETE FROM shifts WHERE id = $1", shift_id)


async def touch_event(conn: asyncpg.Connection, event_id: UUID) -> None:
    """A shift changed: the event gets a new change_seq so partners pick it up."""
    await conn.execute(
        "UPDATE events SET change_seq = nextval('change_seq') WHERE id = $1", event_id
    )
