"""What a caller sees of an offer, a booking and a request.

Everyone who sees an offer sees the driver's display name, the departure area, times, seats
and notes; never contact data. The exact pickup shows only as `ride_pickups.may_see_pickup`
allows. The driver sees confirmed riders' display names and seats (and requesters' names in
the booking list); ride requests show drivers of the event or trip the area only.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg
import msgspec

from api.crypto import Keyring
from api.services.ride_pickups import may_see_pickup, open_pickup
from api.services.ride_seats import seats_free
from db.queries.ride_bookings import BookingRow
from db.queries.ride_offers import OfferRow
from db.queries.ride_requests import RequestRow
from schemas.rides import RideBooking, RideOffer, RideOfferLinks, RideRequest, RideRider


async def offer_view(
    conn: asyncpg.Connection,
    keyring: Keyring,
    offer: OfferRow,
    account_id: UUID | None,
) -> RideOffer:
    """The offer as `account_id` may see it (the row comes from db.queries.ride_offers with that
    account as the caller)."""
    is_driver = account_id is not None and offer.driver_id == account_id
    pickup = await open_pickup(conn, keyring, offer) if may_see_pickup(offer, account_id) else None
    riders = (
        [msgspec.convert(r, RideRider) for r in offer.riders]
        if is_driver and offer.riders is not None
        else None
    )
    distance = offer.distance_km
    parent = f"/v1/events/{offer.event_id}" if offer.event_id else f"/v1/trips/{offer.trip_id}"
    return RideOffer(
        id=offer.id,
        event_id=offer.event_id,
        trip_id=offer.trip_id,
        driver_name=offer.driver_name,
        is_driver=is_driver,
        seats=offer.seats,
        seats_free=offer.seats - offer.seats_taken,
        departs_at=offer.departs_at,
        return_departs_at=offer.return_departs_at,
        return_seats=offer.return_seats,
        return_seats_free=seats_free(offer, "return"),
        area=offer.area,
        area_lat=offer.area_lat,
        area_lon=offer.area_lon,
        notes=offer.notes,
        accessibility=list(offer.accessibility),
        auto_confirm=offer.auto_confirm,
        status=offer.status,
        cancel_reason=offer.cancel_reason,
        event_changed=offer.event_changed,
        pickup=pickup,
        riders=riders,
        distance_km=None if distance is None else round(distance, 3),
        created_at=offer.created_at,
        updated_at=offer.updated_at,
        links=RideOfferLinks(
            self=f"/v1/ride-offers/{offer.id}",
            bookings=f"/v1/ride-offers/{offer.id}/bookings",
            parent=parent,
        ),
    )


def booking_view(
    booking: BookingRow, account_id: UUID, *, rider_name: str | None = None
) -> RideBooking:
    return RideBooking(
        id=booking.id,
        offer_id=booking.offer_id,
        leg=booking.leg,
        seats=booking.seats,
        status=booking.status,
        ended_by=booking.ended_by,
        is_mine=booking.rider_id == account_id,
        rider_name=rider_name,
        created_at=booking.created_at,
        updated_at=booking.updated_at,
        decided_at=booking.decided_at,
    )


def request_view(request: RequestRow, account_id: UUID) -> RideRequest:
    distance = request.distance_km
    return RideRequest(
        id=request.id,
        event_id=request.event_id,
        trip_id=request.trip_id,
        leg=request.leg,
        seats=request.seats,
        area=request.area,
        area_lat=request.area_lat,
        area_lon=request.area_lon,
        earliest_at=request.earliest_at,
        latest_at=request.latest_at,
        accessibility=list(request.accessibility),
        status=request.status,
        is_mine=request.rider_id == account_id,
        distance_km=None if distance is None else round(distance, 3),
        created_at=request.created_at,
    )
