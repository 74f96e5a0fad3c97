"""SQL for the notifications inbox (accounts, and RSVPs made without an account)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg


async def insert_event_notifications(
    conn: asyncpg.Connection,
    event_id: UUID,
    kind: str,
    payload: dict[str, Any],
    statuses: tuple[str, ...] = ("going", "waitlisted"),
) -> int:
    """One notification per live RSVP of the event (its account's inbox, else its manage link's).

    An account with several RSVPs (event and shifts) gets one notification.
    """
    status = await conn.execute(
        """
        INSERT INTO notifications (account_id, rsvp_id, kind, event_id, payload)
        SELECT DISTINCT ON (coalesce(r.account_id, r.id))
               r.account_id,
               CASE WHEN r.account_id IS NULL THEN r.id END,
               $2, $1, $3
          FROM rsvps r
         WHERE r.event_id = $1
           AND r.status = ANY($4::text[])
         ORDER BY coalesce(r.account_id, r.id), r.shift_id NULLS FIRST
        """,
        event_id,
        kind,
        payload,
        list(statuses),
    )
    return int(status.split()[-1])


async def insert_rsvp_notification(
    conn: asyncpg.Connection, rsvp_id: UUID, kind: str, payload: dict[str, Any]
) -> None:
    """A notification about one RSVP, to its account or (no account) its manage link."""
    await conn.execute(
        """
        INSERT INTO notifications (account_id, rsvp_id, kind, event_id, payload)
        SELECT r.account_id, CASE WHEN r.account_id IS NULL THEN r.id END, $2, r.event_id, $3
          FROM rsvps r
         WHERE r.id = $1
        """,
        rsvp_id,
        kind,
        payload,
    )


async def insert_rsvps_notifications(
    conn: asyncpg.Connection, rsvp_ids: list[UUID], kind: str, payload: dict[str, Any]
) -> int:
    """The same notification about each of these RSVPs, to its account or its manage link."""
    status = await conn.execute(
        """
        INSERT INTO notifications (account_id, rsvp_id, kind, event_id, payload)
        SELECT r.account_id, CASE WHEN r.account_id IS NULL THEN r.id END, $2, r.event_id, $3
          FROM rsvps r
         WHERE r.id = ANY($1::uuid[])
        """,
        rsvp_ids,
        kind,
        payload,
    )
    return int(status.split()[-1])
