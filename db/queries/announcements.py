"""SQL for announcements: organizers' updates to an event's attendees."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

ANNOUNCEMENT_COLUMNS = "a.id, a.event_id, a.body, a.created_at"


async def insert_announcement(
    conn: asyncpg.Connection,
    event_id: UUID,
    org_id: UUID,
    author_id: UUID,
    body: dict[str, str],
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""
        INSERT INTO announcements AS a (event_id, org_id, author_id, body, created_at)
        VALUES ($1, $2, $3, $4, clock_timestamp())
        RETURNING {ANNOUNCEMENT_COLUMNS}
        """,
        event_id,
        org_id,
        author_id,
        body,
    )
    assert row is not None
    return row


async def select_announcements(
    conn: asyncpg.Connection,
    event_id: UUID,
    before: tuple[datetime, UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Newest first."""
    return await conn.fetch(
        f"""
        SELECT {ANNOUNCEMENT_COLUMNS}
          FROM announcements a
         WHERE a.event_id = $1
           AND ($2::timestamptz IS NULL OR (a.created_at, a.id) < ($2, $3))
         ORDER BY a.created_at DESC, a.id DESC
         LIMIT $4
        """,
        event_id,
        before[0] if before else None,
        before[1] if before else None,
        limit,
    )
