"""Carpools: ride offers and requests for events and trips, matching, seat bookings, my rides."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from litestar import Controller, Request, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from api.crypto import Keyring
from api.errors import BadRequest
from api.pagination import Cursor, Limit, link_header
from api.services import my_rides, ride_bookings, ride_matching, ride_offers, ride_requests
from api.services.accounts import Caller
from api.services.locations import parse_near
from schemas.common import NEAR_PATTERN
from schemas.problems import FieldError
from schemas.rides import (
    Leg,
    MyRides,
    RideBooking,
    RideBookingCreate,
    RideBookingPage,
    RideOffer,
    RideOfferCancel,
    RideOfferCreate,
    RideOfferPage,
    RideOfferPatch,
    RideRequest,
    RideRequestCreate,
    RideRequestPage,
)

NearQuery = Annotated[
    str | None,
    QueryParameter(
        max_length=60,
        pattern=NEAR_PATTERN,
        description="`lat,lon` of where you leave from: nearest first, with `distance_km` "
        "(needs radius_km)",
    ),
]
RadiusQuery = Annotated[
    float | None,
    QueryParameter(gt=0, le=1000, description="Kilometres around `near` (great-circle)"),
]
MatchRadiusQuery = Annotated[
    float,
    QueryParameter(
        gt=0, le=1000, description="Kilometres between the offer's and the request's areas"
    ),
]
SeatsQuery = Annotated[
    int | None, QueryParameter(ge=1, le=8, description="Only rides with this many free seats")
]
LegQuery = Annotated[
    Leg, QueryParameter(description="Which leg the seats and window apply to (default outbound)")
]
DepartFrom = Annotated[
    datetime | None,
    QueryParameter(description="Leaving at or after this time (RFC 3339 with an offset)"),
]
DepartTo = Annotated[
    datetime | None,
    QueryParameter(description="Leaving at or before this time (RFC 3339 with an offset)"),
]
IncludePast = Annotated[
    bool, QueryParameter(description="Also rides that left more than 24 hours ago")
]
_NO_STORE = {"Cache-Control": "no-store"}

OFFER_LIST_DOC = (
    "Open and full ride offers whose leg has not left, for those who may see it; `seats` keeps "
    "those with that many free seats on the leg, `depart_from`/`depart_to` the departure "
    "window. " + ride_matching.OFFER_RANKING
)


def _aware(name: str, value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise BadRequest(
            f"`{name}` needs a UTC offset (e.g. 2026-12-05T10:00:00-08:00 or …Z).",
            errors=[FieldError(pointer=f"#/query/{name}", detail="datetime without offset")],
        )
    return value


def _ride_query(
    near: str | None,
    radius_km: float | None,
    seats: int | None,
    leg: str,
    depart_from: datetime | None,
    depart_to: datetime | None,
) -> ride_matching.RideQuery:
    return ride_matching.RideQuery(
        near=parse_near(near) if near is not None else None,
        radius_km=radius_km,
        seats=seats,
        leg=leg,
        depart_from=_aware("depart_from", depart_from),
        depart_to=_aware("depart_to", depart_to),
    )


def _page_headers(request: Request[Any, Any, Any], next_cursor: str | None) -> dict[str, str]:
    return {**_NO_STORE, **link_header(request, next_cursor)}


#: a booking is a seat count and a leg: a larger body is refused (413)
BOOKING_BODY_MAX = 1024


class RideController(Controller):
    tags = ["rides"]

    # ------------------------------------------------------------ offers

    @post(
        "/v1/events/{event_id:uuid}/ride-offers",
        status_code=201,
        opt={"problems": (401, 403, 404, 409, 422)},
    )
    async def create_event_offer(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        keyring: NamedDependency[Keyring],
        event_id: FromPath[UUID],
        data: JSONBody[RideOfferCreate],
    ) -> Response[RideOffer]:
        """Offer seats to an event; the exact pickup is encrypted and shown only to confirmed riders."""
        offer = await ride_offers.create_offer(
            conn, keyring, "event", event_id, account.account_id, data
        )
        return Response(offer, status_code=201, headers=_NO_STORE)

    @post(
        "/v1/trips/{trip_id:uuid}/ride-offers",
        status_code=201,
        opt={"problems": (401, 403, 404, 409, 422)},
    )
    async def create_trip_offer(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        keyring: NamedDependency[Keyring],
        trip_id: FromPath[UUID],
        data: JSONBody[RideOfferCreate],
    ) -> Response[RideOffer]:
        """Offer seats to a trip (accepted participants and organizers); the pickup stays encrypted."""
        offer = await ride_offers.create_offer(
            conn, keyring, "trip", trip_id, account.account_id, data
        )
        return Response(offer, status_code=201, headers=_NO_STORE)

    @get(
        "/v1/events/{event_id:uuid}/ride-offers",
        opt={"problems": (401, 404, 422)},
        description=OFFER_LIST_DOC,
    )
    async def list_event_offers(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        keyring: NamedDependency[Keyring],
        event_id: FromPath[UUID],
        near: NearQuery = None,
        radius_km: RadiusQuery = None,
        seats: SeatsQuery = None,
        leg: LegQuery = "outbound",
        depart_from: DepartFrom = None,
        depart_to: DepartTo = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[RideOfferPage]:
        """Ride offers for an event, nearest first with `near` (ranking: distance, then time fit)."""
        query = _ride_query(near, radius_km, seats, leg, depart_from, depart_to)
        page = await ride_matching.list_offers(
            conn, keyring, "event", event_id, account.account_id, query, cursor, limit
        )
        return Response(
            page,
            headers=_page_headers(request, page.next_cursor),
        )

    @get(
        "/v1/trips/{trip_id:uuid}/ride-offers",
        opt={"problems": (401, 404, 422)},
        description=OFFER_LIST_DOC,
    )
    async def list_trip_offers(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        keyring: NamedDependency[Keyring],
        trip_id: FromPath[UUID],
        near: NearQuery = None,
        radius_km: RadiusQuery = None,
        seats: SeatsQuery = None,
        leg: LegQuery = "outbound",
        depart_from: DepartFrom = None,
        depart_to: DepartTo = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[RideOfferPage]:
        """Ride offers for a trip, nearest first with `near` (ranking: distance, then time fit)."""
        query = _ride_query(near, radius_km, seats, leg, depart_from, depart_to)
        page = await ride_matching.list_offers(
            conn, keyring, "trip", trip_id, account.account_id, query, cursor, limit
        )
        return Response(
            page,
            headers=_page_headers(request, page.next_cursor),
        )

    @get("/v1/ride-offers/{offer_id:uuid}", opt={"problems": (401, 404)})
    async def get_offer(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        keyring: NamedDependency[Keyring],
        offer_id: FromPath[UUID],
    ) -> Response[RideOffer]:
        """A ride offer: the pickup only for its driver and confirmed riders, riders only for the driver."""
        offer = await ride_offers.get_offer(conn, keyring, offer_id, account.account_id)
        return Response(offer, headers=_NO_STORE)

    @patch("/v1/ride-offers/{offer_id:uuid}", opt={"problems": (401, 403, 404, 409, 422)})
    async def update_offer(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        keyring: NamedDependency[Keyring],
        offer_id: FromPath[UUID],
        data: JSONBody[RideOfferPatch],
    ) -> Response[RideOffer]:
        """Change your offer (seats never below those taken); riders are told of a new time or pickup."""
        offer = await ride_offers.update_offer(conn, keyring, offer_id, account.account_id, data)
        return Response(offer, headers=_NO_STORE)

    @post(
        "/v1/ride-offers/{offer_id:uuid}/cancel",
        status_code=200,
        opt={"problems": (401, 403, 404, 409)},
    )
    async def cancel_offer(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        keyring: NamedDependency[Keyring],
        offer_id: FromPath[UUID],
        data: JSONBody[RideOfferCancel | None] = None,
    ) -> Response[RideOffer]:
        """Cancel your offer: every booking is released, every rider told, the pickup purged."""
        message = data.message if data is not None else None
        offer = await ride_offers.cancel_offer(conn, keyring, offer_id, account.account_id, message)
        return Response(offer, headers=_NO_STORE)

    @get(
        "/v1/ride-offers/{offer_id:uuid}/matching-requests",
        opt={"problems": (401, 403, 404)},
    )
    async def list_matching_requests(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        offer_id: FromPath[UUID],
        radius_km: MatchRadiusQuery = ride_matching.DEFAULT_MATCH_RADIUS_KM,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[RideRequestPage]:
        """For the driver: open requests that fit the offer (leg time in their window, enough free
        seats, area within radius_km), nearest first, then departure closest to the window's middle."""
        page = await ride_matching.matching_requests(
            conn, offer_id, account.account_id, radius_km, cursor, limit
        )
        return Response(
            page,
            headers=_page_headers(request, page.next_cursor),
        )

    # ------------------------------------------------------------ bookings

    @post(
        "/v1/ride-offers/{offer_id:uuid}/bookings",
        status_code=201,
        opt={"problems": (401, 403, 404, 409)},
        request_max_body_size=BOOKING_BODY_MAX,
    )
    async def create_booking(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        offer_id: FromPath[UUID],
        data: JSONBody[RideBookingCreate],
    ) -> Response[RideBooking]:
        """Ask for seats on one leg (requested), confirmed at once when the offer auto-confirms."""
        booking = await ride_bookings.create_booking(conn, offer_id, account.account_id, data)
        return Response(booking, status_code=201, headers=_NO_STORE)

    @get("/v1/ride-offers/{offer_id:uuid}/bookings", opt={"problems": (401, 404)})
    async def list_bookings(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        offer_id: FromPath[UUID],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[RideBookingPage]:
        """Every booking for the driver (names while requested or confirmed); your own for anyone else."""
        page = await ride_bookings.list_bookings(conn, offer_id, account.account_id, cursor, limit)
        return Response(
            page,
            headers=_page_headers(request, page.next_cursor),
        )

    @post(
        "/v1/ride-bookings/{booking_id:uuid}/confirm",
        status_code=200,
        opt={"problems": (401, 403, 404, 409)},
    )
    async def confirm_booking(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        booking_id: FromPath[UUID],
    ) -> Response[RideBooking]:
        """The driver confirms a requested booking; 409 when its seats are no longer free."""
        booking = await ride_bookings.decide_booking(
            conn, booking_id, account.account_id, "confirmed"
        )
        return Response(booking, headers=_NO_STORE)

    @post(
        "/v1/ride-bookings/{booking_id:uuid}/decline",
        status_code=200,
        opt={"problems": (401, 403, 404, 409)},
    )
    async def decline_booking(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        booking_id: FromPath[UUID],
    ) -> Response[RideBooking]:
        """The driver declines a requested booking."""
        booking = await ride_bookings.decide_booking(
            conn, booking_id, account.account_id, "declined"
        )
        return Response(booking, headers=_NO_STORE)

    @post(
        "/v1/ride-bookings/{booking_id:uuid}/cancel",
        status_code=200,
        opt={"problems": (401, 404, 409)},
    )
    async def cancel_booking(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        booking_id: FromPath[UUID],
    ) -> Response[RideBooking]:
        """The rider cancels, or the driver removes the rider; confirmed seats free at once."""
        booking = await ride_bookings.cancel_booking(conn, booking_id, account.account_id)
        return Response(booking, headers=_NO_STORE)

    # ------------------------------------------------------------ requests

    @post(
        "/v1/events/{event_id:uuid}/ride-requests",
        status_code=201,
        opt={"problems": (401, 403, 404, 409, 422)},
    )
    async def create_event_request(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        event_id: FromPath[UUID],
        data: JSONBody[RideRequestCreate],
    ) -> Response[RideRequest]:
        """Ask for seats to an event from an area (the point is stored snapped to a ~2 km grid)."""
        created = await ride_requests.create_request(
            conn, "event", event_id, account.account_id, data
        )
        return Response(created, status_code=201, headers=_NO_STORE)

    @post(
        "/v1/trips/{trip_id:uuid}/ride-requests",
        status_code=201,
        opt={"problems": (401, 403, 404, 409, 422)},
    )
    async def create_trip_request(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        trip_id: FromPath[UUID],
        data: JSONBody[RideRequestCreate],
    ) -> Response[RideRequest]:
        """Ask for seats to a trip from an area (accepted participants and organizers)."""
        created = await ride_requests.create_request(
            conn, "trip", trip_id, account.account_id, data
        )
        return Response(created, status_code=201, headers=_NO_STORE)

    @get("/v1/events/{event_id:uuid}/ride-requests", opt={"problems": (401, 404)})
    async def list_event_requests(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        event_id: FromPath[UUID],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[RideRequestPage]:
        """Ride requests for an event: all of them (area only) for its drivers, your own otherwise."""
        page = await ride_requests.list_requests(
            conn, "event", event_id, account.account_id, cursor, limit
        )
        return Response(
            page,
            headers=_page_headers(request, page.next_cursor),
        )

    @get("/v1/trips/{trip_id:uuid}/ride-requests", opt={"problems": (401, 404)})
    async def list_trip_requests(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        trip_id: FromPath[UUID],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[RideRequestPage]:
        """Ride requests for a trip: all of them (area only) for its drivers, your own otherwise."""
        page = await ride_requests.list_requests(
            conn, "trip", trip_id, account.account_id, cursor, limit
        )
        return Response(
            page,
            headers=_page_headers(request, page.next_cursor),
        )

    @post(
        "/v1/ride-requests/{request_id:uuid}/cancel",
        status_code=200,
        opt={"problems": (401, 404, 409)},
    )
    async def cancel_request(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        request_id: FromPath[UUID],
    ) -> Response[RideRequest]:
        """Withdraw your ride request."""
        cancelled = await ride_requests.cancel_request(conn, request_id, account.account_id)
        return Response(cancelled, headers=_NO_STORE)

    # ------------------------------------------------------------ mine

    @get("/v1/me/rides", opt={"problems": (401,)})
    async def list_my_rides(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        keyring: NamedDependency[Keyring],
        include_past: IncludePast = False,
    ) -> Response[MyRides]:
        """Your ride offers, requests and bookings with their states, soonest first."""
        mine = await my_rides.my_rides(conn, keyring, account.account_id, include_past=include_past)
        return Response(mine, headers=_NO_STORE)
