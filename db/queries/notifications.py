"""SQL for the notifications inbox (accounts, and RSVPs made without an account).

Rows are stamped with clock_timestamp(), not now(): several notifications written in one
transaction still come out in the order they were written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

#: RSVPs that are still coming: everyone told about the event unless a caller narrows it
LIVE_STATUSES = ("going", "waitlisted", "attended")


async def insert_event_notifications(
    conn: asyncpg.Connection,
    event_id: UUID,
    kind: str,
    payload: dict[str, Any],
    statuses: tuple[str, ...] = LIVE_STATUSES,
) -> int:
    """One notification per live RSVP of the event (its account's inbox, else its manage link's).

    Live means going, waitlisted or already checked in: someone checked in at the door is
    still coming (and is the one most in need of a change of plan). An account with several
    RSVPs (event and shifts) gets one notification.
    """
    status = await conn.execute(
        """
        INSERT INTO notifications (account_id, rsvp_id, kind, event_id, payload, created_at)
        SELECT DISTINCT ON (coalesce(r.account_id, r.id))
               r.account_id,
               CASE WHEN r.account_id IS NULL THEN r.id END,
               $2, $1, $3, clock_timestamp()
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
        INSERT INTO notifications (account_id, rsvp_id, kind, event_id, payload, created_at)
        SELECT r.account_id, CASE WHEN r.account_id IS NULL THEN r.id END, $2, r.event_id, $3,
               clock_timestamp()
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
        INSERT INTO notifications (account_id, rsvp_id, kind, event_id, payload, created_at)
        SELECT r.account_id, CASE WHEN r.account_id IS NULL THEN r.id END, $2, r.event_id, $3,
               clock_timestamp()
          FROM rsvps r
         WHERE r.id = ANY($1::uuid[])
        """,
        rsvp_ids,
        kind,
        payload,
    )
    return int(status.split()[-1])


NOTIFICATION_COLUMNS = "n.id, n.kind, n.event_id, n.payload, n.created_at, n.read_at"

# Inbox orders, chosen from this fixed mapping: the keyset is (unread rank, created_at, id).
_INBOX_ORDER = {
    "newest": ("0", "ORDER BY n.created_at DESC, n.id DESC"),
    "unread_first": (
        "(n.read_at IS NOT NULL)::int",
        "ORDER BY (n.read_at IS NOT NULL)::int, n.created_at DESC, n.id DESC",
    ),
}


async def select_account_notifications(
    conn: asyncpg.Connection,
    account_id: UUID,
    *,
    order: str,
    unread_only: bool,
    after: tuple[int, datetime, UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """An account's inbox, a page at a time (keyset on rank, created_at, id)."""
    rank, order_by = _INBOX_ORDER[order]
    return await conn.fetch(
        f"""
        SELECT {NOTIFICATION_COLUMNS}, {rank} AS rank
          FROM notifications n
         WHERE n.account_id = $1
           AND (NOT $2 OR n.read_at IS NULL)
           AND ($3::int IS NULL
                OR {rank} > $3
                OR ({rank} = $3 AND (n.created_at, n.id) < ($4::timestamptz, $5::uuid)))
         {order_by}
         LIMIT $6
        """,
        account_id,
        unread_only,
        after[0] if after else None,
        after[1] if after else None,
        after[2] if after else None,
        limit,
    )


async def count_unread(conn: asyncpg.Connection, account_id: UUID) -> int:
    count = await conn.fetchval(
        "SELECT count(*) FROM notifications WHERE account_id = $1 AND read_at IS NULL",
        account_id,
    )
    return int(count)


async def mark_read(
    conn: asyncpg.Connection, account_id: UUID, notification_id: UUID
) -> asyncpg.Record | None:
    """Mark one of the account's notifications read (keeps the first read time)."""
    return await conn.fetchrow(
        f"""
        UPDATE notifications AS n
           SET read_at = coalesce(n.read_at, now())
         WHERE n.id = $2 AND n.account_id = $1
     RETURNING {NOTIFICATION_COLUMNS}
        """,
        account_id,
        notification_id,
    )


async def mark_all_read(conn: asyncpg.Connection, account_id: UUID) -> int:
    status = await conn.execute(
        "UPDATE notifications SET read_at = now() WHERE account_id = $1 AND read_at IS NULL",
        account_id,
    )
    return int(status.split()[-1])


async def select_rsvp_notifications(
    conn: asyncpg.Connection,
    rsvp_id: UUID,
    account_id: UUID | None,
    event_id: UUID,
    limit: int,
) -> list[asyncpg.Record]:
    """What the manage link shows, newest first: the RSVP's own notifications, or (an RSVP
    made with an account) the account's notifications about this event."""
    return await conn.fetch(
        f"""
        SELECT {NOTIFICATION_COLUMNS}
          FROM notifications n
         WHERE n.rsvp_id = $1
            OR (n.account_id = $2 AND n.event_id = $3)
         ORDER BY n.created_at DESC, n.id DESC
         LIMIT $4
        """,
        rsvp_id,
        account_id,
        event_id,
        limit,
    )


async def insert_trip_notifications(
    conn: asyncpg.Connection,
    trip_id: UUID,
    kind: str,
    payload: dict[str, Any],
    statuses: tuple[str, ...] = ("accepted",),
) -> int:
    """One notification per account with an application to the trip in one of `statuses`."""
    status = await conn.execute(
        """
        INSERT INTO notifications (account_id, kind, trip_id, payload, created_at)
        SELECT DISTINCT a.account_id, $2::text, $1::uuid, $3::jsonb, clock_timestamp()
          FROM trip_applications a
         WHERE a.trip_id = $1
           AND a.account_id IS NOT NULL
           AND a.status = ANY($4::text[])
        """,
        trip_id,
        kind,
        payload,
        list(statuses),
    )
    return int(status.split()[-1])


async def insert_trip_application_notification(
    conn: asyncpg.Connection, application_id: UUID, kind: str, payload: dict[str, Any]
) -> None:
    """A notification about one trip application, to its applicant's inbox."""
    await conn.execute(
        """
        INSERT INTO notifications (account_id, kind, trip_id, payload, created_at)
        SELECT a.account_id, $2::text, a.trip_id, $3::jsonb, clock_timestamp()
          FROM trip_applications a
         WHERE a.id = $1 AND a.account_id IS NOT NULL
        """,
        application_id,
        kind,
        payload,
    )


async def insert_ride_notifications(
    conn: asyncpg.Connection,
    account_ids: list[UUID],
    kind: str,
    payload: dict[str, Any],
    *,
    event_id: UUID | None,
    trip_id: UUID | None,
) -> int:
    """The same carpool notification (kind `ride.*`) to each of these accounts, once each."""
    status = await conn.execute(
        """
        INSERT INTO notifications (account_id, kind, event_id, trip_id, payload, created_at)
        SELECT a, $2, $3::uuid, $4::uuid, $5::jsonb, clock_timestamp()
          FROM (SELECT DISTINCT unnest($1::uuid[]) AS a) accounts
        """,
        account_ids,
        kind,
        event_id,
        trip_id,
        payload,
    )
    return int(status.split()[-1])
