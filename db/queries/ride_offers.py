"""SQL for ride offers: the offer row with what its caller may see, its lifecycle, its lists.

Lock order, everywhere: the event or trip row (KEY SHARE from booking paths, FOR UPDATE from
the event's or trip's own lifecycle), then the offer row (FOR UPDATE), then its bookings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from schemas.rides import Accessibility, CancelReason, OfferStatus

# The columns a driver edits; the service merges a PATCH into the current row first.
WRITABLE_COLUMNS = (
    "seats",
    "departs_at",
    "area",
    "area_lat",
    "area_lon",
    "pickup_ciphertext",
    "contact_ciphertext",
    "return_departs_at",
    "return_seats",
    "notes",
    "accessibility",
    "auto_confirm",
    "event_changed",
)


# {a} is the caller's account parameter (NULL = anonymous).
_OFFER_COLUMNS = """
       o.id, o.event_id, o.trip_id, o.org_id, o.driver_id, o.seats, o.seats_taken, o.departs_at,
       o.area, o.area_lat, o.area_lon, o.pickup_ciphertext, o.contact_ciphertext,
       o.return_departs_at, o.return_seats, o.return_seats_taken, o.notes, o.accessibility,
       o.auto_confirm, o.status, o.cancel_reason, o.event_changed, o.pickup_purged_at,
       o.created_at, o.updated_at, o.cancelled_at,
       (SELECT a.display_name FROM accounts a WHERE a.id = o.driver_id) AS driver_name,
       EXISTS (SELECT 1 FROM ride_bookings b
                WHERE b.offer_id = o.id AND b.rider_id = {a}::uuid
                  AND b.status = 'confirmed') AS is_confirmed_rider,
       -- confirmed riders' names and seats: computed for the driver only
       CASE WHEN o.driver_id = {a}::uuid THEN
            coalesce((SELECT jsonb_agg(jsonb_build_object(
                                 'booking_id', b.id, 'display_name', ra.display_name,
                                 'leg', b.leg, 'seats', b.seats)
                             ORDER BY b.leg, b.created_at, b.id)
                        FROM ride_bookings b
                        JOIN accounts ra ON ra.id = b.rider_id
                       WHERE b.offer_id = o.id AND b.status = 'confirmed'), '[]'::jsonb)
       END AS riders"""


def offer_columns(account_param: str) -> str:
    return _OFFER_COLUMNS.format(a=account_param)


class OfferSummary(msgspec.Struct, frozen=True, kw_only=True):
    """What a notice about an offer needs: lock_live_offers reads only this much."""

    id: UUID
    event_id: UUID | None
    trip_id: UUID | None
    org_id: UUID
    driver_id: UUID
    departs_at: datetime
    area: str
    status: OfferStatus


class OfferRow(OfferSummary, frozen=True, kw_only=True):
    """An offer as offer_columns reads it for a caller, typed so that a mistyped column fails
    mypy."""

    seats: int
    seats_taken: int
    area_lat: float
    area_lon: float
    pickup_ciphertext: bytes | None
    contact_ciphertext: bytes | None
    return_departs_at: datetime | None
    return_seats: int | None
    return_seats_taken: int
    notes: str | None
    accessibility: list[Accessibility]
    auto_confirm: bool
    cancel_reason: CancelReason | None
    event_changed: bool
    pickup_purged_at: datetime | None
    created_at: datetime
    updated_at: datetime
    cancelled_at: datetime | None
    driver_name: str
    is_confirmed_rider: bool
    #: confirmed riders' booking ids, names, legs and seats; None unless the caller drives
    riders: list[dict[str, Any]] | None
    #: only from ride_matching.select_offers with `near`
    distance_km: float | None = None


class RankedOfferRow(OfferRow, frozen=True, kw_only=True):
    """An offer from ride_matching.select_offers, with the keys it is ranked by."""

    sort_distance: float
    gap_s: float


def offer_row(row: asyncpg.Record) -> OfferRow:
    return msgspec.convert(dict(row.items()), OfferRow)


def _offer_summary(row: asyncpg.Record) -> OfferSummary:
    return msgspec.convert(dict(row.items()), OfferSummary)


async def _fetch_offers(conn: asyncpg.Connection, query: str, *args: Any) -> list[OfferRow]:
    return [offer_row(r) for r in await conn.fetch(query, *args)]


def _maybe_offer(row: asyncpg.Record | None) -> OfferRow | None:
    return None if row is None else offer_row(row)


async def share_lock_parent(
    conn: asyncpg.Connection, event_id: UUID | None, trip_id: UUID | None
) -> None:
    """KEY SHARE on the event or trip: waits for its cancellation or move to finish first."""
    if event_id is not None:
        await conn.execute("SELECT 1 FROM events WHERE id = $1 FOR KEY SHARE", event_id)
    else:
        await conn.execute("SELECT 1 FROM trips WHERE id = $1 FOR KEY SHARE", trip_id)


async def insert_offer(
    conn: asyncpg.Connection,
    offer_id: UUID,
    *,
    event_id: UUID | None,
    trip_id: UUID | None,
    org_id: UUID,
    driver_id: UUID,
    values: Mapping[str, Any],
) -> None:
    columns = ", ".join(WRITABLE_COLUMNS)
    params = ", ".join(f"${i}" for i in range(6, 6 + len(WRITABLE_COLUMNS)))
    await conn.execute(
        f"""
        INSERT INTO ride_offers (id, event_id, trip_id, org_id, driver_id, {columns}, status)
        VALUES ($1, $2, $3, $4, $5, {params}, 'open')
        """,
        offer_id,
        event_id,
        trip_id,
        org_id,
        driver_id,
        *(values[c] for c in WRITABLE_COLUMNS),
    )


async def select_offer(
    conn: asyncpg.Connection,
    offer_id: UUID,
    account_id: UUID | None,
    *,
    for_update: bool = False,
) -> OfferRow | None:
    lock = "FOR UPDATE OF o" if for_update else ""
    row = await conn.fetchrow(
        f"""
        SELECT {offer_columns("$2")}
          FROM ride_offers o
         WHERE o.id = $1
         {lock}
        """,
        offer_id,
        account_id,
    )
    return _maybe_offer(row)


async def select_offer_parent(
    conn: asyncpg.Connection, offer_id: UUID
) -> tuple[UUID | None, UUID | None] | None:
    """(event_id, trip_id) of the offer, read without a lock; None when it does not exist."""
    row = await conn.fetchrow("SELECT event_id, trip_id FROM ride_offers WHERE id = $1", offer_id)
    return None if row is None else (row["event_id"], row["trip_id"])


_UPDATE_SET = ",\n               ".join(
    f"{c} = ${i}" for i, c in enumerate(WRITABLE_COLUMNS, start=2)
)


async def update_offer(conn: asyncpg.Connection, offer_id: UUID, values: Mapping[str, Any]) -> None:
    """Write every editable column, then let the status follow the seat counters."""
    await conn.execute(
        f"""
        UPDATE ride_offers
           SET {_UPDATE_SET},
               updated_at = now()
         WHERE id = $1
        """,
        offer_id,
        *(values[c] for c in WRITABLE_COLUMNS),
    )
    await refresh_offer_status(conn, offer_id)


async def refresh_offer_status(conn: asyncpg.Connection, offer_id: UUID) -> None:
    """open ↔ full from the counters: full when no offered leg has a free seat."""
    await conn.execute(
        """
        UPDATE ride_offers
           SET status = CASE WHEN seats_taken >= seats
                              AND (return_seats IS NULL OR return_seats_taken >= return_seats)
                             THEN 'full' ELSE 'open' END
         WHERE id = $1 AND status IN ('open', 'full')
        """,
        offer_id,
    )


async def cancel_offer(conn: asyncpg.Connection, offer_id: UUID, reason: str) -> None:
    """Cancelled is final: counters back to zero (every booking is released with it)."""
    await conn.execute(
        """
        UPDATE ride_offers
           SET status = 'cancelled', cancel_reason = $2, cancelled_at = now(),
               seats_taken = 0, return_seats_taken = 0, updated_at = now()
         WHERE id = $1
        """,
        offer_id,
        reason,
    )


async def lock_live_offers(
    conn: asyncpg.Connection, *, event_id: UUID | None = None, trip_id: UUID | None = None
) -> list[OfferSummary]:
    """Open and full offers of an event or trip, locked in id order (no deadlock between two)."""
    rows = await conn.fetch(
        """
        SELECT id, event_id, trip_id, org_id, driver_id, departs_at, area, status
          FROM ride_offers
         WHERE (event_id = $1 OR trip_id = $2) AND status IN ('open', 'full')
         ORDER BY id
           FOR UPDATE
        """,
        event_id,
        trip_id,
    )
    return [_offer_summary(r) for r in rows]


async def flag_offers(conn: asyncpg.Connection, offer_ids: Sequence[UUID]) -> None:
    await conn.execute(
        """
        UPDATE ride_offers SET event_changed = true, updated_at = now()
         WHERE id = ANY($1::uuid[])
        """,
        list(offer_ids),
    )


async def complete_offer(conn: asyncpg.Connection, offer_id: UUID) -> None:
    await conn.execute(
        """
        UPDATE ride_offers SET status = 'completed', updated_at = now()
         WHERE id = $1 AND status IN ('open', 'full')
        """,
        offer_id,
    )


async def is_driver_for(
    conn: asyncpg.Connection, account_id: UUID, event_id: UUID | None, trip_id: UUID | None
) -> bool:
    """Whether the account drives a live (open or full) offer for the event or trip."""
    found: bool = await conn.fetchval(
        """
        SELECT EXISTS (SELECT 1 FROM ride_offers
                        WHERE driver_id = $1 AND (event_id = $2 OR trip_id = $3)
                          AND status IN ('open', 'full'))
        """,
        account_id,
        event_id,
        trip_id,
    )
    return found


async def select_driver_offers(
    conn: asyncpg.Connection, account_id: UUID, since: datetime, limit: int
) -> list[OfferRow]:
    """Offers the account drives whose last leg leaves after `since`, soonest first."""
    return await _fetch_offers(
        conn,
        f"""
        SELECT {offer_columns("$1")}
          FROM ride_offers o
         WHERE o.driver_id = $1 AND coalesce(o.return_departs_at, o.departs_at) >= $2
         ORDER BY o.departs_at, o.id
         LIMIT $3
        """,
        account_id,
        since,
        limit,
    )


async def select_offers_by_ids(
    conn: asyncpg.Connection, offer_ids: Sequence[UUID], account_id: UUID
) -> list[OfferRow]:
    return await _fetch_offers(
        conn,
        f"SELECT {offer_columns('$2')} FROM ride_offers o WHERE o.id = ANY($1::uuid[])",
        list(offer_ids),
        account_id,
    )
