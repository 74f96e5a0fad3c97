"""Seat bookings: a rider asks for or takes seats on a leg, the driver decides, either cancels."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from api.errors import Conflict, NotFound
from api.pagination import decode_cursor, split_page
from api.services.ride_notices import notify, record_offer_change
from api.services.ride_offers import require_driver, visible_offer
from api.services.ride_parents import Parent, load_parent, require_can_ride
from api.services.ride_seats import check_bookable, leg_departure, not_enough_seats, seats_free
from api.services.ride_views import booking_view
from db.queries import ride_bookings as booking_queries
from db.queries import ride_offers as offer_queries
from db.queries import ride_requests as request_queries
from db.queries import ride_seats as seat_queries
from db.queries.ride_bookings import BookingRow
from db.queries.ride_offers import OfferRow
from schemas.rides import RideBooking, RideBookingCreate, RideBookingPage

NO_BOOKING = "No ride booking has this id, or it is not yours."


async def create_booking(
    conn: asyncpg.Connection, offer_id: UUID, account_id: UUID, data: RideBookingCreate
) -> RideBooking:
    """Ask for seats (requested), or take them at once when the offer auto-confirms."""
    offer, parent = await visible_offer(conn, offer_id, account_id, lock=True)
    require_can_ride(parent)
    if offer.driver_id == account_id:
        raise Conflict(
            "This is your own ride: you are its driver, so you cannot book a seat on it."
        )
    now = datetime.now(UTC)
    check_bookable(offer, parent, data.leg, data.seats, now)
    if data.seats > (seats_free(offer, data.leg) or 0):
        raise not_enough_seats(offer, data.leg, data.seats)
    status = "confirmed" if offer.auto_confirm else "requested"
    booking = await booking_queries.insert_booking(
        conn, offer_id, offer.org_id, account_id, data.leg, data.seats, status
    )
    if booking is None:
        raise Conflict(
            f"You already hold a booking on the {data.leg} leg of this ride; cancel it first to "
            "change the seats."
        )
    if status == "confirmed":
        # the conditional UPDATE decides: if it finds no room, the booking rolls back with it
        if await seat_queries.move_seats(conn, offer_id, data.leg, data.seats) is None:
            raise not_enough_seats(offer, data.leg, data.seats)
        await request_queries.sync_requests(conn, [account_id], offer.event_id, offer.trip_id)
    extra = {"booking_id": str(booking.id), "leg": data.leg, "seats": data.seats}
    kind = f"ride.booking_{status}"
    await notify(conn, offer, [offer.driver_id], kind, status=status, **extra)
    if status == "confirmed":
        await notify(conn, offer, [account_id], kind, status=status, **extra)
    await record_offer_change(conn, offer_id, "ride.booking_changed")
    return booking_view(booking, account_id)


async def _locked_booking(
    conn: asyncpg.Connection, booking_id: UUID, account_id: UUID
) -> tuple[BookingRow, OfferRow, Parent]:
    """The booking (locked after its offer), its offer and parent; 404 unless the caller is
    the rider or the driver."""
    first = await booking_queries.select_booking(conn, booking_id)
    if first is None:
        raise NotFound(NO_BOOKING)
    parent_ids = await offer_queries.select_offer_parent(conn, first.offer_id)
    assert parent_ids is not None
    await offer_queries.share_lock_parent(conn, *parent_ids)
    offer = await offer_queries.select_offer(conn, first.offer_id, account_id, for_update=True)
    assert offer is not None
    booking = await booking_queries.select_booking(conn, booking_id, for_update=True)
    assert booking is not None
    if account_id not in (booking.rider_id, offer.driver_id):
        raise NotFound(NO_BOOKING)
    parent = await load_parent(conn, offer.event_id, offer.trip_id, account_id)
    assert parent is not None
    return booking, offer, parent


def _notice(booking: BookingRow, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "booking_id": str(booking.id),
        "leg": booking.leg,
        "seats": booking.seats,
        "status": status,
        **extra,
    }


async def decide_booking(
    conn: asyncpg.Connection, booking_id: UUID, account_id: UUID, decision: str
) -> RideBooking:
    """The driver confirms (takes the seats, or 409 when they are gone) or declines."""
    booking, offer, parent = await _locked_booking(conn, booking_id, account_id)
    require_driver(
        offer, account_id, f"{'confirms' if decision == 'confirmed' else 'declines'} bookings"
    )
    if booking.status != "requested":
        raise Conflict(f"Only a requested booking can be {decision}; this one is {booking.status}.")
    if decision == "confirmed":
        check_bookable(offer, parent, booking.leg, booking.seats, datetime.now(UTC))
        if await seat_queries.move_seats(conn, offer.id, booking.leg, booking.seats) is None:
            raise not_enough_seats(offer, booking.leg, booking.seats)
    updated = await booking_queries.update_booking_status(conn, booking_id, decision)
    if decision == "confirmed":
        await request_queries.sync_requests(conn, [booking.rider_id], offer.event_id, offer.trip_id)
    await notify(
        conn, offer, [booking.rider_id], f"ride.booking_{decision}", **_notice(booking, decision)
    )
    await record_offer_change(conn, offer.id, "ride.booking_changed")
    return booking_view(updated, account_id)


async def cancel_booking(
    conn: asyncpg.Connection, booking_id: UUID, account_id: UUID
) -> RideBooking:
    """The rider cancels their booking, or the driver removes the rider; seats free at once."""
    booking, offer, _ = await _locked_booking(conn, booking_id, account_id)
    by = "rider" if booking.rider_id == account_id else "driver"
    if booking.status not in ("requested", "confirmed"):
        raise Conflict(f"This booking is already {booking.status}.")
    departure = leg_departure(offer, booking.leg)
    if offer.status == "completed" or (departure is not None and departure <= datetime.now(UTC)):
        raise Conflict(f"The {booking.leg} leg of this ride has already left.")
    if booking.status == "confirmed":
        moved = await seat_queries.move_seats(conn, offer.id, booking.leg, -booking.seats)
        assert moved is not None
    updated = await booking_queries.update_booking_status(conn, booking_id, "cancelled", by)
    await request_queries.sync_requests(conn, [booking.rider_id], offer.event_id, offer.trip_id)
    told = offer.driver_id if by == "rider" else booking.rider_id
    await notify(
        conn, offer, [told], "ride.booking_cancelled", **_notice(booking, "cancelled", by=by)
    )
    await record_offer_change(conn, offer.id, "ride.booking_changed")
    return booking_view(updated, account_id)


async def list_bookings(
    conn: asyncpg.Connection, offer_id: UUID, account_id: UUID, cursor: str | None, limit: int
) -> RideBookingPage:
    """All bookings for the driver (with requesters' and riders' names); your own otherwise."""
    offer, _ = await visible_offer(conn, offer_id, account_id)
    is_driver = offer.driver_id == account_id
    after = decode_cursor(cursor, tuple[datetime, UUID])
    rows = await booking_queries.select_offer_bookings(
        conn,
        offer_id,
        rider_id=None if is_driver else account_id,
        after=after,
        limit=limit + 1,
    )
    page, next_cursor = split_page(rows, limit, lambda r: (r.created_at, r.id))
    return RideBookingPage(
        items=[
            booking_view(r, account_id, rider_name=r.rider_name if is_driver else None)
            for r in page
        ],
        next_cursor=next_cursor,
    )
