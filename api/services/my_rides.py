"""One person's rides: what they drive, request and booked, for /v1/me/rides and their feed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal
from uuid import UUID

import asyncpg

from api.crypto import Keyring
from api.services.ride_pickups import may_see_pickup, open_pickup
from api.services.ride_seats import leg_departure
from api.services.ride_views import booking_view, offer_view, request_view
from db.queries import ride_bookings as booking_queries
from db.queries import ride_offers as offer_queries
from db.queries import ride_requests as request_queries
from db.queries.ride_bookings import BookingRow
from db.queries.ride_offers import OfferRow
from schemas.rides import CalendarRide, Leg, MyRideBooking, MyRides, OfferStatus, RidePickup

MY_RIDES_LIMIT = 200


async def _booked_offers(
    conn: asyncpg.Connection, bookings: Sequence[BookingRow], account_id: UUID
) -> dict[UUID, OfferRow]:
    """The offers these bookings are on, by id, as the account sees them."""
    rows = await offer_queries.select_offers_by_ids(
        conn, list({b.offer_id for b in bookings}), account_id
    )
    return {r.id: r for r in rows}


def _calendar_ride(
    offer: OfferRow,
    *,
    booking_id: UUID | None,
    role: Literal["driver", "rider"],
    leg: Leg,
    departs_at: datetime,
    status: OfferStatus,
    seats: int,
    updated_at: datetime,
    pickup: RidePickup | None,
) -> CalendarRide:
    """One leg of `offer` in a calendar; what the driver's and a rider's entries share comes
    from the offer."""
    return CalendarRide(
        offer_id=offer.id,
        booking_id=booking_id,
        role=role,
        leg=leg,
        event_id=offer.event_id,
        trip_id=offer.trip_id,
        departs_at=departs_at,
        area=offer.area,
        status=status,
        event_changed=offer.event_changed,
        driver_name=offer.driver_name,
        seats=seats,
        updated_at=updated_at,
        pickup=pickup,
    )


async def my_rides(
    conn: asyncpg.Connection, keyring: Keyring, account_id: UUID, *, include_past: bool
) -> MyRides:
    """My offers, requests and bookings, soonest first; by default those leaving from 24 h
    ago on (at most 200 of each)."""
    since = (
        datetime(1970, 1, 1, tzinfo=UTC)
        if include_past
        else datetime.now(UTC) - timedelta(hours=24)
    )
    offers = await offer_queries.select_driver_offers(conn, account_id, since, MY_RIDES_LIMIT)
    requests = await request_queries.select_rider_requests(conn, account_id, since, MY_RIDES_LIMIT)
    bookings = await booking_queries.select_rider_bookings(conn, account_id, since, MY_RIDES_LIMIT)
    booked = await _booked_offers(conn, bookings, account_id)
    return MyRides(
        offers=[await offer_view(conn, keyring, o, account_id) for o in offers],
        requests=[request_view(r, account_id) for r in requests],
        bookings=[
            MyRideBooking(
                booking=booking_view(b, account_id),
                offer=await offer_view(conn, keyring, booked[b.offer_id], account_id),
            )
            for b in bookings
        ],
    )


async def rides_for_calendar(
    conn: asyncpg.Connection,
    keyring: Keyring,
    account_id: UUID,
    *,
    since: datetime,
    include_pickup: bool = False,
) -> list[CalendarRide]:
    """The account's rides for a personal feed: each leg it drives, and each leg it holds (or
    held) a confirmed booking on, cancelled ones included so calendars can drop them.

    `pickup` is filled only with `include_pickup`, and only where the account may see it (its
    own offers, its confirmed bookings on live rides). Feed URLs are bearer secrets that
    calendar services fetch and cache, so the default leaves the exact pickup out.
    """
    items: list[CalendarRide] = []
    for o in await offer_queries.select_driver_offers(conn, account_id, since, MY_RIDES_LIMIT):
        pickup = await open_pickup(conn, keyring, o) if include_pickup else None
        legs: list[tuple[Leg, datetime, int]] = [("outbound", o.departs_at, o.seats)]
        # a CHECK keeps the return time and seats null together
        if o.return_departs_at is not None and o.return_seats is not None:
            legs.append(("return", o.return_departs_at, o.return_seats))
        for leg, departs, seats in legs:
            items.append(
                _calendar_ride(
                    o,
                    booking_id=None,
                    role="driver",
                    leg=leg,
                    departs_at=departs,
                    status=o.status,
                    seats=seats,
                    updated_at=o.updated_at,
                    pickup=pickup,
                )
            )
    bookings = [
        b
        for b in await booking_queries.select_rider_bookings(
            conn, account_id, since, MY_RIDES_LIMIT
        )
        # confirmed, or cancelled after having been confirmed (decided, then cancelled)
        if b.status == "confirmed" or (b.status == "cancelled" and b.decided_at)
    ]
    offers = await _booked_offers(conn, bookings, account_id)
    for b in bookings:
        o = offers[b.offer_id]
        live = b.status == "confirmed"
        pickup = (
            await open_pickup(conn, keyring, o)
            if include_pickup and live and may_see_pickup(o, account_id)
            else None
        )
        leg_departs = leg_departure(o, b.leg)
        assert leg_departs is not None
        items.append(
            _calendar_ride(
                o,
                booking_id=b.id,
                role="rider",
                leg=b.leg,
                departs_at=leg_departs,
                status=o.status if live else "cancelled",
                seats=b.seats,
                updated_at=max(o.updated_at, b.updated_at),
                pickup=pickup,
            )
        )
    items.sort(key=lambda r: (r.departs_at, str(r.offer_id), r.leg))
    return items
