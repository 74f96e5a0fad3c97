"""SQL for seat bookings on ride offers: one rider's seats on one leg, requested or confirmed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from schemas.rides import BookingStatus, EndedBy, Leg

BOOKING_COLUMNS = """
       b.id, b.offer_id, b.org_id, b.rider_id, b.leg, b.seats, b.status, b.ended_by,
       b.created_at, b.updated_at, b.decided_at, b.cancelled_at"""


class BookingRow(msgspec.Struct, frozen=True, kw_only=True):
    """A booking as BOOKING_COLUMNS reads it, typed so that a mistyped column fails mypy."""

    id: UUID
    offer_id: UUID
    org_id: UUID
    rider_id: UUID
    leg: Leg
    seats: int
    status: BookingStatus
    ended_by: EndedBy | None
    created_at: datetime
    updated_at: datetime
    decided_at: datetime | None
    cancelled_at: datetime | None
    #: only from select_offer_bookings: the rider's display name while the booking is live
    rider_name: str | None = None


def _booking(row: asyncpg.Record) -> BookingRow:
    return msgspec.convert(dict(row.items()), BookingRow)


async def _fetch_bookings(conn: asyncpg.Connection, query: str, *args: Any) -> list[BookingRow]:
    return [_booking(r) for r in await conn.fetch(query, *args)]


def _maybe_booking(row: asyncpg.Record | None) -> BookingRow | None:
    return None if row is None else _booking(row)


async def insert_booking(
    conn: asyncpg.Connection,
    offer_id: UUID,
    org_id: UUID,
    rider_id: UUID,
    leg: str,
    seats: int,
    status: str,
) -> BookingRow | None:
    """None when the rider already holds a live booking on this leg of the offer."""
    row = await conn.fetchrow(
        f"""
        INSERT INTO ride_bookings AS b (offer_id, org_id, rider_id, leg, seats, status, decided_at)
        VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $6 = 'confirmed' THEN now() END)
        ON CONFLICT (offer_id, rider_id, leg) WHERE status IN ('requested', 'confirmed')
        DO NOTHING
        RETURNING {BOOKING_COLUMNS}
        """,
        offer_id,
        org_id,
        rider_id,
        leg,
        seats,
        status,
    )
    return _maybe_booking(row)


async def select_booking(
    conn: asyncpg.Connection, booking_id: UUID, *, for_update: bool = False
) -> BookingRow | None:
    lock = "FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT {BOOKING_COLUMNS} FROM ride_bookings b WHERE b.id = $1 {lock}", booking_id
    )
    return _maybe_booking(row)


async def update_booking_status(
    conn: asyncpg.Connection, booking_id: UUID, status: str, ended_by: str | None = None
) -> BookingRow:
    row = await conn.fetchrow(
        f"""
        UPDATE ride_bookings AS b
           SET status       = $2,
               ended_by     = $3,
               decided_at   = CASE WHEN $2 IN ('confirmed', 'declined') THEN now()
                                   ELSE b.decided_at END,
               cancelled_at = CASE WHEN $2 = 'cancelled' THEN now() ELSE b.cancelled_at END,
               updated_at   = now()
         WHERE b.id = $1
     RETURNING {BOOKING_COLUMNS}
        """,
        booking_id,
        status,
        ended_by,
    )
    assert row is not None
    return _booking(row)


async def cancel_offer_bookings(conn: asyncpg.Connection, offer_id: UUID) -> list[BookingRow]:
    """Release every live booking of a cancelled offer; the released rows."""
    return await _fetch_bookings(
        conn,
        f"""
        UPDATE ride_bookings AS b
           SET status = 'cancelled', ended_by = 'ride', cancelled_at = now(), updated_at = now()
         WHERE b.offer_id = $1 AND b.status IN ('requested', 'confirmed')
     RETURNING {BOOKING_COLUMNS}
        """,
        offer_id,
    )


async def has_live_bookings(conn: asyncpg.Connection, offer_id: UUID, leg: str) -> bool:
    found: bool = await conn.fetchval(
        """
        SELECT EXISTS (SELECT 1 FROM ride_bookings
                        WHERE offer_id = $1 AND leg = $2 AND status IN ('requested', 'confirmed'))
        """,
        offer_id,
        leg,
    )
    return found


async def select_live_riders(conn: asyncpg.Connection, offer_ids: Sequence[UUID]) -> list[UUID]:
    """Riders holding a requested or confirmed booking on any of these offers."""
    rows = await conn.fetch(
        """
        SELECT DISTINCT rider_id FROM ride_bookings
         WHERE offer_id = ANY($1::uuid[]) AND status IN ('requested', 'confirmed')
        """,
        list(offer_ids),
    )
    return [r["rider_id"] for r in rows]


async def select_offer_bookings(
    conn: asyncpg.Connection,
    offer_id: UUID,
    *,
    rider_id: UUID | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[BookingRow]:
    """An offer's bookings, oldest first (only `rider_id`'s when given), with the rider's
    display name while a booking is requested or confirmed."""
    return await _fetch_bookings(
        conn,
        f"""
        SELECT {BOOKING_COLUMNS},
               CASE WHEN b.status IN ('requested', 'confirmed')
                    THEN (SELECT a.display_name FROM accounts a WHERE a.id = b.rider_id)
               END AS rider_name
          FROM ride_bookings b
         WHERE b.offer_id = $1
           AND ($2::uuid IS NULL OR b.rider_id = $2)
           AND ($3::timestamptz IS NULL OR (b.created_at, b.id) > ($3, $4::uuid))
         ORDER BY b.created_at, b.id
         LIMIT $5
        """,
        offer_id,
        rider_id,
        *(after or (None, None)),
        limit,
    )


async def select_rider_bookings(
    conn: asyncpg.Connection, account_id: UUID, since: datetime, limit: int
) -> list[BookingRow]:
    """The account's bookings on legs leaving after `since`, soonest first."""
    return await _fetch_bookings(
        conn,
        f"""
        SELECT {BOOKING_COLUMNS}
          FROM ride_bookings b
          JOIN ride_offers o ON o.id = b.offer_id
         CROSS JOIN LATERAL (
               SELECT CASE b.leg WHEN 'outbound' THEN o.departs_at
                                 ELSE o.return_departs_at END AS departs_at) l
         WHERE b.rider_id = $1 AND l.departs_at >= $2
         ORDER BY l.departs_at, b.id
         LIMIT $3
        """,
        account_id,
        since,
        limit,
    )
