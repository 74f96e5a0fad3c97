"""Carpools: ride offers, ride requests, matching, seat bookings, and who may see what.

Who sees what (every ride route needs an account):
- offers and requests belong to an event or a trip, and only people who may see it see them
  (events: as `api.services.access.can_view`, plus confirmed attendees of a private event;
  trips: organizers of a hosting org, members for members-only trips, accepted participants);
- everyone who sees an offer sees the driver's display name, the departure area (a label and
  a point on a ~2 km grid), times, seats and notes; never contact data;
- the exact pickup point and the driver's shared contact channel are sealed with the offer's
  own data key and shown only to the driver and riders with a confirmed booking;
- the driver sees confirmed riders' display names and seats (and requesters' names in the
  booking list); ride requests show drivers of the event or trip the area only.

Seats are never overbooked: every booking change takes a KEY SHARE lock on the event or trip
row, then locks the offer row, and seats move only through a conditional UPDATE
(`taken + n <= seats`) with a CHECK behind it. Confirmations and auto-confirmed bookings
compete for the last seat through that one statement: exactly one wins, the others get 409.

Event or trip rides may be offered and booked by anyone who may see the event; a trip's
only by its accepted participants and organizers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import msgspec
from msgspec import UNSET

from api.crypto import Keyring
from api.errors import Conflict, Forbidden, NotFound, RuleViolation
from api.pagination import decode_cursor, split_page
from api.patching import sent_fields
from api.services import encryption
from api.services.access import can_view, is_organizer
from api.services.locations import bounding_box, check_near, snap
from db.queries import audit, data_keys, outbox
from db.queries import events as event_queries
from db.queries import rides as q
from db.queries import trips as trip_queries
from db.queries.notifications import insert_ride_notifications
from schemas.problems import FieldError
from schemas.rides import (
    CalendarRide,
    Leg,
    MyRideBooking,
    MyRides,
    PickupPoint,
    RideBooking,
    RideBookingCreate,
    RideBookingPage,
    RideOffer,
    RideOfferCreate,
    RideOfferLinks,
    RideOfferPage,
    RideOfferPatch,
    RidePickup,
    RideRequest,
    RideRequestCreate,
    RideRequestPage,
    RideRider,
)

#: departure areas snap to this grid (degrees; ≈ 2.2 km of latitude, less of longitude)
RIDE_GRID_DEGREES = 0.02
SCOPE = "ride_offer"
PICKUP_CLASS = "ride_pickup"
#: pickups are purged this long after the ride's last leg left
PICKUP_RETENTION_HOURS = 24
#: a return leg leaves at most this long after the event or trip ends
RETURN_WINDOW = timedelta(hours=48)
MY_RIDES_LIMIT = 200
DEFAULT_MATCH_RADIUS_KM = 25.0

NO_OFFER = "No ride offer has this id, or it is not visible to you."
NO_BOOKING = "No ride booking has this id, or it is not yours."
NO_REQUEST = "No ride request has this id, or it is not yours."

OFFER_RANKING = (
    "Ranking: nearest first, by great-circle distance from `near` to the offer's area point "
    "(`distance_km`); offers at the same distance (area points share a ~2 km grid) by time "
    "fit: the smallest gap between the leg's departure and the middle of the departure window "
    "(with only `depart_from` or `depart_to`, that time); without a window, the earliest "
    "departure first; then by id. Without `near`, by time fit, then id."
)


# ---------------------------------------------------------------- small pieces


def area_point(lat: float, lon: float) -> tuple[float, float]:
    """Snap a point to the ~2 km grid: what anyone may know of a departure area."""
    return snap(lat, lon, RIDE_GRID_DEGREES)


def _now() -> datetime:
    return datetime.now(UTC)


def _leg_departure(offer: asyncpg.Record, leg: str) -> datetime | None:
    return offer["departs_at"] if leg == "outbound" else offer["return_departs_at"]  # type: ignore[no-any-return]


def _leg_seats(offer: asyncpg.Record, leg: str) -> tuple[int | None, int]:
    """(seats offered, seats taken) on a leg; offered is None when there is no return leg."""
    if leg == "outbound":
        return offer["seats"], offer["seats_taken"]
    return offer["return_seats"], offer["return_seats_taken"]


@dataclass(frozen=True)
class Parent:
    """The event or trip an offer or request belongs to, with the caller's standing."""

    kind: str
    row: asyncpg.Record
    organizer: bool
    can_see: bool
    can_ride: bool

    @property
    def id(self) -> UUID:
        return self.row["id"]  # type: ignore[no-any-return]

    @property
    def event_id(self) -> UUID | None:
        return self.id if self.kind == "event" else None

    @property
    def trip_id(self) -> UUID | None:
        return self.id if self.kind == "trip" else None

    @property
    def org_id(self) -> UUID:
        return self.row["org_id"]  # type: ignore[no-any-return]

    @property
    def ends_at(self) -> datetime:
        return self.row["ends_at"]  # type: ignore[no-any-return]

    @property
    def path(self) -> str:
        return f"/v1/{self.kind}s/{self.id}"


async def _load_parent(
    conn: asyncpg.Connection,
    event_id: UUID | None,
    trip_id: UUID | None,
    account_id: UUID | None,
) -> Parent | None:
    if event_id is not None:
        row = await event_queries.select_event(conn, event_id, account_id)
        if row is None:
            return None
        # a private event's confirmed attendees reached it through its share link once
        can_see = can_view(row) or (
            row["visibility"] == "private" and row["status"] != "draft" and row["is_confirmed"]
        )
        return Parent("event", row, is_organizer(row), can_see, can_see and account_id is not None)
    assert trip_id is not None
    row = await trip_queries.select_trip(conn, trip_id, account_id)
    if row is None:
        return None
    # trips share the events' rules: drafts for organizers, members-only for members
    can_see = can_view(row) or (row["status"] != "draft" and row["is_confirmed"])
    organizer = is_organizer(row)
    can_ride = account_id is not None and can_see and (organizer or row["is_confirmed"])
    return Parent("trip", row, organizer, can_see, can_ride)


async def _require_parent(
    conn: asyncpg.Connection, kind: str, parent_id: UUID, account_id: UUID
) -> Parent:
    parent = await _load_parent(
        conn,
        parent_id if kind == "event" else None,
        parent_id if kind == "trip" else None,
        account_id,
    )
    if parent is None or not parent.can_see:
        raise NotFound(f"No {kind} has this id, or it is not visible to you.")
    return parent


def _require_can_ride(parent: Parent) -> None:
    if not parent.can_ride:
        raise Forbidden(
            "Only the trip's accepted participants and its organizers offer, request or book "
            "its rides."
        )


def _require_live_parent(parent: Parent, now: datetime) -> None:
    """New offers, requests and bookings need a published event (or a running trip) that is
    not over yet."""
    status = parent.row["status"]
    what = parent.kind
    if status == "cancelled":
        raise Conflict(f"This {what} is cancelled, so its rides are too.")
    if parent.kind == "event" and status == "postponed":
        raise Conflict("This event is postponed: rides wait until it has new times.")
    if status == "draft":
        raise Conflict(f"This {what} is not published yet.")
    if status == "completed" or parent.ends_at <= now:
        raise Conflict(f"This {what} is over.")


def _payload(offer: asyncpg.Record, **extra: Any) -> dict[str, Any]:
    """A notification payload: ids, time and area; never a pickup point or anyone's contact."""
    return {
        "offer_id": str(offer["id"]),
        "event_id": str(offer["event_id"]) if offer["event_id"] else None,
        "trip_id": str(offer["trip_id"]) if offer["trip_id"] else None,
        "departs_at": offer["departs_at"],
        "area": offer["area"],
        **extra,
    }


async def _notify(
    conn: asyncpg.Connection,
    offer: asyncpg.Record,
    account_ids: Sequence[UUID],
    kind: str,
    **extra: Any,
) -> None:
    if account_ids:
        await insert_ride_notifications(
            conn,
            list(account_ids),
            kind,
            _payload(offer, **extra),
            event_id=offer["event_id"],
            trip_id=offer["trip_id"],
        )


async def _outbox(conn: asyncpg.Connection, offer_id: UUID, topic: str) -> None:
    """A thin change record: ids, status and free seats."""
    row = await q.select_offer(conn, offer_id, None)
    assert row is not None
    await outbox.insert_outbox_entry(
        conn,
        row["org_id"],
        topic,
        offer_id,
        {
            "offer_id": str(offer_id),
            "event_id": str(row["event_id"]) if row["event_id"] else None,
            "trip_id": str(row["trip_id"]) if row["trip_id"] else None,
            "status": row["status"],
            "seats_free": row["seats"] - row["seats_taken"],
            "return_seats_free": None
            if row["return_seats"] is None
            else row["return_seats"] - row["return_seats_taken"],
        },
    )


# ---------------------------------------------------------------- views


async def _open_pickup(
    conn: asyncpg.Connection, keyring: Keyring, offer: asyncpg.Record
) -> RidePickup | None:
    sealed = await encryption.open_sealed(
        conn, keyring, SCOPE, offer["id"], PICKUP_CLASS, offer["pickup_ciphertext"]
    )
    if sealed is None:
        return None
    point = msgspec.json.decode(sealed, type=PickupPoint)
    contact = await encryption.open_sealed(
        conn, keyring, SCOPE, offer["id"], PICKUP_CLASS, offer["contact_ciphertext"]
    )
    return RidePickup(
        address=point.address, lat=point.lat, lon=point.lon, details=point.details, contact=contact
    )


def may_see_pickup(offer: asyncpg.Record, account_id: UUID | None) -> bool:
    """The driver, and riders holding a confirmed booking (`is_confirmed_rider` of the row)."""
    if account_id is None or offer["status"] == "cancelled":
        return False
    return offer["driver_id"] == account_id or bool(offer["is_confirmed_rider"])


async def offer_view(
    conn: asyncpg.Connection,
    keyring: Keyring,
    offer: asyncpg.Record,
    account_id: UUID | None,
) -> RideOffer:
    """The offer as `account_id` may see it (the row comes from db.queries.rides with that
    account as the caller)."""
    is_driver = account_id is not None and offer["driver_id"] == account_id
    pickup = await _open_pickup(conn, keyring, offer) if may_see_pickup(offer, account_id) else None
    riders = (
        [msgspec.convert(r, RideRider) for r in offer["riders"]]
        if is_driver and offer["riders"] is not None
        else None
    )
    distance = offer.get("distance_km")
    parent = (
        f"/v1/events/{offer['event_id']}" if offer["event_id"] else f"/v1/trips/{offer['trip_id']}"
    )
    return RideOffer(
        id=offer["id"],
        event_id=offer["event_id"],
        trip_id=offer["trip_id"],
        driver_name=offer["driver_name"],
        is_driver=is_driver,
        seats=offer["seats"],
        seats_free=offer["seats"] - offer["seats_taken"],
        departs_at=offer["departs_at"],
        return_departs_at=offer["return_departs_at"],
        return_seats=offer["return_seats"],
        return_seats_free=None
        if offer["return_seats"] is None
        else offer["return_seats"] - offer["return_seats_taken"],
        area=offer["area"],
        area_lat=offer["area_lat"],
        area_lon=offer["area_lon"],
        notes=offer["notes"],
        accessibility=list(offer["accessibility"]),
        auto_confirm=offer["auto_confirm"],
        status=offer["status"],
        cancel_reason=offer["cancel_reason"],
        event_changed=offer["event_changed"],
        pickup=pickup,
        riders=riders,
        distance_km=None if distance is None else round(distance, 3),
        created_at=offer["created_at"],
        updated_at=offer["updated_at"],
        links=RideOfferLinks(
            self=f"/v1/ride-offers/{offer['id']}",
            bookings=f"/v1/ride-offers/{offer['id']}/bookings",
            parent=parent,
        ),
    )


def booking_view(
    booking: asyncpg.Record, account_id: UUID, *, rider_name: str | None = None
) -> RideBooking:
    return RideBooking(
        id=booking["id"],
        offer_id=booking["offer_id"],
        leg=booking["leg"],
        seats=booking["seats"],
        status=booking["status"],
        ended_by=booking["ended_by"],
        is_mine=booking["rider_id"] == account_id,
        rider_name=rider_name,
        created_at=booking["created_at"],
        updated_at=booking["updated_at"],
        decided_at=booking["decided_at"],
    )


def request_view(request: asyncpg.Record, account_id: UUID) -> RideRequest:
    distance = request.get("distance_km")
    return RideRequest(
        id=request["id"],
        event_id=request["event_id"],
        trip_id=request["trip_id"],
        leg=request["leg"],
        seats=request["seats"],
        area=request["area"],
        area_lat=request["area_lat"],
        area_lon=request["area_lon"],
        earliest_at=request["earliest_at"],
        latest_at=request["latest_at"],
        accessibility=list(request["accessibility"]),
        status=request["status"],
        is_mine=request["rider_id"] == account_id,
        distance_km=None if distance is None else round(distance, 3),
        created_at=request["created_at"],
    )


# ---------------------------------------------------------------- offer rules


def _offer_rules(values: dict[str, Any], parent: Parent, now: datetime) -> None:
    """Rules an offer's fields must satisfy with its event or trip; all broken ones in one 422."""
    errors: list[FieldError] = []
    departs, ends = values["departs_at"], parent.ends_at
    if departs <= now:
        errors.append(FieldError(pointer="#/departs_at", detail="must be in the future"))
    if departs >= ends:
        errors.append(
            FieldError(
                pointer="#/departs_at",
                detail=f"must be before the {parent.kind} ends ({ends.isoformat()})",
            )
        )
    back, back_seats = values["return_departs_at"], values["return_seats"]
    if (back is None) != (back_seats is None):
        missing = "return_seats" if back_seats is None else "return_departs_at"
        errors.append(
            FieldError(pointer=f"#/{missing}", detail="a return leg needs a time and seats")
        )
    if back is not None and back <= departs:
        errors.append(FieldError(pointer="#/return_departs_at", detail="must be after departs_at"))
    if back is not None and back > ends + RETURN_WINDOW:
        errors.append(
            FieldError(
                pointer="#/return_departs_at",
                detail=f"must be within 48 hours after the {parent.kind} ends",
            )
        )
    if errors:
        raise RuleViolation("; ".join(f"{e.pointer[2:]} {e.detail}" for e in errors), errors=errors)


def _pickup_plaintext(pickup: PickupPoint) -> str:
    return msgspec.json.encode(pickup).decode()


# ---------------------------------------------------------------- offers


async def create_offer(
    conn: asyncpg.Connection,
    keyring: Keyring,
    kind: str,
    parent_id: UUID,
    account_id: UUID,
    data: RideOfferCreate,
) -> RideOffer:
    """Offer seats; the exact pickup and contact are sealed, the area snapped to the grid."""
    parent = await _require_parent(conn, kind, parent_id, account_id)
    _require_can_ride(parent)
    now = _now()
    _require_live_parent(parent, now)
    offer_id = uuid4()
    area_lat, area_lon = area_point(data.pickup.lat, data.pickup.lon)
    values: dict[str, Any] = {
        "seats": data.seats,
        "departs_at": data.departs_at,
        "area": data.area,
        "area_lat": area_lat,
        "area_lon": area_lon,
        "return_departs_at": data.return_departs_at,
        "return_seats": data.return_seats,
        "notes": data.notes,
        "accessibility": list(dict.fromkeys(data.accessibility)),
        "auto_confirm": data.auto_confirm,
        "event_changed": False,
    }
    _offer_rules(values, parent, now)
    values["pickup_ciphertext"] = await encryption.seal(
        conn, keyring, SCOPE, offer_id, PICKUP_CLASS, _pickup_plaintext(data.pickup)
    )
    values["contact_ciphertext"] = await encryption.seal(
        conn, keyring, SCOPE, offer_id, PICKUP_CLASS, data.contact
    )
    await q.insert_offer(
        conn,
        offer_id,
        event_id=parent.event_id,
        trip_id=parent.trip_id,
        org_id=parent.org_id,
        driver_id=account_id,
        values=values,
    )
    await _outbox(conn, offer_id, "ride.offer_created")
    row = await q.select_offer(conn, offer_id, account_id)
    assert row is not None
    return await offer_view(conn, keyring, row, account_id)


async def _visible_offer(
    conn: asyncpg.Connection, offer_id: UUID, account_id: UUID, *, lock: bool = False
) -> tuple[asyncpg.Record, Parent]:
    """The offer and its event or trip, if the caller may see them (else 404).

    With `lock`: KEY SHARE on the event or trip row first, then the offer row FOR UPDATE (the
    lock order every booking change follows), and the offer is read after the lock.
    """
    parent_ids = await q.select_offer_parent(conn, offer_id)
    if parent_ids is None:
        raise NotFound(NO_OFFER)
    if lock:
        await q.share_lock_parent(conn, *parent_ids)
    offer = await q.select_offer(conn, offer_id, account_id, for_update=lock)
    if offer is None:
        raise NotFound(NO_OFFER)
    parent = await _load_parent(conn, offer["event_id"], offer["trip_id"], account_id)
    if parent is None or not parent.can_see:
        raise NotFound(NO_OFFER)
    return offer, parent


def _require_driver(offer: asyncpg.Record, account_id: UUID, action: str) -> None:
    if offer["driver_id"] != account_id:
        raise Forbidden(f"Only the driver {action}.")


def _require_editable(offer: asyncpg.Record, now: datetime) -> None:
    if offer["status"] == "cancelled":
        raise Conflict("This ride is cancelled, and cancelled is final.")
    if offer["status"] == "completed" or offer["departs_at"] <= now:
        raise Conflict("This ride has already left.")


async def get_offer(
    conn: asyncpg.Connection, keyring: Keyring, offer_id: UUID, account_id: UUID
) -> RideOffer:
    offer, _ = await _visible_offer(conn, offer_id, account_id)
    return await offer_view(conn, keyring, offer, account_id)


async def update_offer(
    conn: asyncpg.Connection,
    keyring: Keyring,
    offer_id: UUID,
    account_id: UUID,
    data: RideOfferPatch,
) -> RideOffer:
    """The driver changes the offer. Seats never go below those taken; riders are told when
    the time or pickup changes. Any new time, or `event_changed: false`, clears the flag."""
    offer, parent = await _visible_offer(conn, offer_id, account_id, lock=True)
    _require_driver(offer, account_id, "changes a ride offer")
    now = _now()
    _require_editable(offer, now)
    new: dict[str, Any] = {c: offer[c] for c in q.WRITABLE_COLUMNS}
    new["accessibility"] = list(new["accessibility"])
    new.update(
        sent_fields(
            data,
            (
                "seats",
                "departs_at",
                "area",
                "return_departs_at",
                "return_seats",
                "notes",
                "auto_confirm",
            ),
        )
    )
    if data.accessibility is not UNSET:
        new["accessibility"] = list(dict.fromkeys(data.accessibility))
    # dropping the return time drops its seats too (and the other way round)
    if data.return_departs_at is None and data.return_seats is UNSET:
        new["return_seats"] = None
    if data.return_seats is None and data.return_departs_at is UNSET:
        new["return_departs_at"] = None
    _offer_rules(new, parent, now)
    errors: list[FieldError] = []
    if new["seats"] < offer["seats_taken"]:
        errors.append(
            FieldError(pointer="#/seats", detail=f"at least {offer['seats_taken']} (seats taken)")
        )
    if new["return_seats"] is None:
        if await q.has_live_bookings(conn, offer_id, "return"):
            errors.append(
                FieldError(
                    pointer="#/return_departs_at",
                    detail="riders hold return bookings; remove or decline them first",
                )
            )
    elif new["return_seats"] < offer["return_seats_taken"]:
        errors.append(
            FieldError(
                pointer="#/return_seats",
                detail=f"at least {offer['return_seats_taken']} (seats taken)",
            )
        )
    if errors:
        raise Conflict(
            "Riders already hold these seats: " + "; ".join(e.detail for e in errors) + ".",
            errors=errors,
        )
    if data.pickup is not UNSET:
        new["area_lat"], new["area_lon"] = area_point(data.pickup.lat, data.pickup.lon)
        new["pickup_ciphertext"] = await encryption.seal(
            conn, keyring, SCOPE, offer_id, PICKUP_CLASS, _pickup_plaintext(data.pickup)
        )
    if data.contact is not UNSET:
        new["contact_ciphertext"] = await encryption.seal(
            conn, keyring, SCOPE, offer_id, PICKUP_CLASS, data.contact
        )
    moved = (
        new["departs_at"] != offer["departs_at"]
        or new["return_departs_at"] != offer["return_departs_at"]
    )
    if moved or data.event_changed is False:
        new["event_changed"] = False
    await q.update_offer(conn, offer_id, new)
    if moved or data.pickup is not UNSET:
        riders = await q.select_live_riders(conn, [offer_id])
        after = await q.select_offer(conn, offer_id, account_id)
        assert after is not None
        await _notify(
            conn,
            after,
            riders,
            "ride.changed",
            return_departs_at=after["return_departs_at"],
            pickup_changed=data.pickup is not UNSET,
        )
    await _outbox(conn, offer_id, "ride.offer_updated")
    row = await q.select_offer(conn, offer_id, account_id)
    assert row is not None
    return await offer_view(conn, keyring, row, account_id)


async def _cancel_locked(
    conn: asyncpg.Connection,
    offer: asyncpg.Record,
    reason: str,
    message: str | None = None,
) -> None:
    """Cancel a locked offer: release every booking, purge the pickup, tell everyone."""
    released = await q.cancel_offer_bookings(conn, offer["id"])
    await q.cancel_offer(conn, offer["id"], reason)
    await q.purge_offer_pickup(conn, offer["id"])
    await data_keys.destroy_data_key(conn, SCOPE, offer["id"], PICKUP_CLASS)
    riders = list(dict.fromkeys(b["rider_id"] for b in released))
    if riders:
        await q.sync_requests(conn, riders, offer["event_id"], offer["trip_id"])
    extra: dict[str, Any] = {"reason": reason}
    if message:
        extra["message"] = message
    await _notify(conn, offer, riders, "ride.cancelled", **extra)
    if reason != "driver":
        await _notify(conn, offer, [offer["driver_id"]], "ride.cancelled", **extra)
    await _outbox(conn, offer["id"], "ride.offer_cancelled")


async def cancel_offer(
    conn: asyncpg.Connection,
    keyring: Keyring,
    offer_id: UUID,
    account_id: UUID,
    message: str | None,
) -> RideOffer:
    """The driver cancels: every booking is released, every rider told, the pickup purged."""
    offer, _ = await _visible_offer(conn, offer_id, account_id, lock=True)
    _require_driver(offer, account_id, "cancels a ride offer")
    if offer["status"] == "cancelled":
        raise Conflict("This ride is already cancelled.")
    if offer["status"] == "completed":
        raise Conflict("This ride has already taken place.")
    await _cancel_locked(conn, offer, "driver", message.strip() if message else None)
    row = await q.select_offer(conn, offer_id, account_id)
    assert row is not None
    return await offer_view(conn, keyring, row, account_id)


# ---------------------------------------------------------------- offer lists and matching


class RideQuery(msgspec.Struct, kw_only=True):
    """Validated filters of an offer list (the route parses the query string into this)."""

    near: tuple[float, float] | None = None
    radius_km: float | None = None
    seats: int | None = None
    leg: str = "outbound"
    depart_from: datetime | None = None
    depart_to: datetime | None = None


def check_ride_query(query: RideQuery) -> None:
    """Rules between filters (422), after each matched its schema."""
    check_near(query.near, query.radius_km)
    if query.depart_from and query.depart_to and query.depart_from > query.depart_to:
        raise RuleViolation(
            "`depart_from` is after `depart_to`; no ride leaves in that window.",
            errors=[
                FieldError(pointer="#/query/depart_to", detail="must not be before depart_from")
            ],
        )


def _time_target(query: RideQuery) -> datetime | None:
    if query.depart_from and query.depart_to:
        return query.depart_from + (query.depart_to - query.depart_from) / 2
    return query.depart_from or query.depart_to


async def list_offers(
    conn: asyncpg.Connection,
    keyring: Keyring,
    kind: str,
    parent_id: UUID,
    account_id: UUID,
    query: RideQuery,
    cursor: str | None,
    limit: int,
) -> RideOfferPage:
    """Open and full offers of the event or trip whose leg has not left. See OFFER_RANKING."""
    check_ride_query(query)
    parent = await _require_parent(conn, kind, parent_id, account_id)
    after = decode_cursor(cursor, tuple[float, float, UUID])
    box = None
    if query.near is not None and query.radius_km is not None:
        box = bounding_box(query.near[0], query.near[1], query.radius_km)
    rows = await q.select_offers(
        conn,
        account_id=account_id,
        event_id=parent.event_id,
        trip_id=parent.trip_id,
        leg=query.leg,
        seats=query.seats,
        depart_from=query.depart_from,
        depart_to=query.depart_to,
        target=_time_target(query),
        near=query.near,
        radius_km=query.radius_km,
        box=box,
        after=after,
        limit=limit + 1,
    )
    page, next_cursor = split_page(rows, limit, lambda r: (r["sort_distance"], r["gap_s"], r["id"]))
    return RideOfferPage(
        items=[await offer_view(conn, keyring, r, account_id) for r in page],
        next_cursor=next_cursor,
    )


async def matching_requests(
    conn: asyncpg.Connection,
    offer_id: UUID,
    account_id: UUID,
    radius_km: float,
    cursor: str | None,
    limit: int,
) -> RideRequestPage:
    """For the driver: open requests that fit the offer, nearest first, then by time fit."""
    offer, _ = await _visible_offer(conn, offer_id, account_id)
    _require_driver(offer, account_id, "sees the requests that fit a ride offer")
    after = decode_cursor(cursor, tuple[float, float, UUID])
    if offer["status"] not in ("open", "full"):
        return RideRequestPage(items=[])
    rows = await q.select_matching_requests(
        conn, offer_id, radius_km=radius_km, after=after, limit=limit + 1
    )
    page, next_cursor = split_page(rows, limit, lambda r: (r["distance_km"], r["gap_s"], r["id"]))
    return RideRequestPage(
        items=[request_view(r, account_id) for r in page], next_cursor=next_cursor
    )


# ---------------------------------------------------------------- bookings


def _bookable(offer: asyncpg.Record, parent: Parent, leg: str, seats: int, now: datetime) -> None:
    """Why these seats cannot be booked now (409), if they cannot."""
    if offer["status"] == "cancelled":
        raise Conflict("This ride is cancelled; it takes no bookings.")
    departure = _leg_departure(offer, leg)
    if departure is None:
        raise Conflict(
            "This ride offers no return leg; book the outbound leg or ask the driver.",
            errors=[FieldError(pointer="#/leg", detail="this ride has no return leg")],
        )
    if offer["status"] == "completed" or departure <= now:
        raise Conflict(f"The {leg} leg of this ride has already left.")
    _require_live_parent(parent, now)
    offered = _leg_seats(offer, leg)[0]
    assert offered is not None
    if seats > offered:
        raise Conflict(
            f"This ride offers {offered} seats on the {leg} leg; you asked for {seats}.",
            errors=[FieldError(pointer="#/seats", detail=f"at most {offered} (seats offered)")],
        )


def _not_enough_seats(offer: asyncpg.Record, leg: str, seats: int) -> Conflict:
    offered, taken = _leg_seats(offer, leg)
    free = (offered or 0) - taken
    return Conflict(
        f"Not enough free seats on the {leg} leg: {free} free, {seats} asked. "
        "Someone else took them first.",
        errors=[FieldError(pointer="#/seats", detail=f"{free} free")],
    )


async def create_booking(
    conn: asyncpg.Connection, offer_id: UUID, account_id: UUID, data: RideBookingCreate
) -> RideBooking:
    """Ask for seats (requested), or take them at once when the offer auto-confirms."""
    offer, parent = await _visible_offer(conn, offer_id, account_id, lock=True)
    _require_can_ride(parent)
    if offer["driver_id"] == account_id:
        raise Conflict(
            "This is your own ride: you are its driver, so you cannot book a seat on it."
        )
    now = _now()
    _bookable(offer, parent, data.leg, data.seats, now)
    offered, taken = _leg_seats(offer, data.leg)
    if data.seats > (offered or 0) - taken:
        raise _not_enough_seats(offer, data.leg, data.seats)
    status = "confirmed" if offer["auto_confirm"] else "requested"
    booking = await q.insert_booking(
        conn, offer_id, offer["org_id"], account_id, data.leg, data.seats, status
    )
    if booking is None:
        raise Conflict(
            f"You already hold a booking on the {data.leg} leg of this ride; cancel it first to "
            "change the seats."
        )
    if status == "confirmed":
        # the conditional UPDATE decides: if it finds no room, the booking rolls back with it
        if await q.move_seats(conn, offer_id, data.leg, data.seats) is None:
            raise _not_enough_seats(offer, data.leg, data.seats)
        await q.sync_requests(conn, [account_id], offer["event_id"], offer["trip_id"])
    extra = {"booking_id": str(booking["id"]), "leg": data.leg, "seats": data.seats}
    kind = f"ride.booking_{status}"
    await _notify(conn, offer, [offer["driver_id"]], kind, status=status, **extra)
    if status == "confirmed":
        await _notify(conn, offer, [account_id], kind, status=status, **extra)
    await _outbox(conn, offer_id, "ride.booking_changed")
    return booking_view(booking, account_id)


async def _locked_booking(
    conn: asyncpg.Connection, booking_id: UUID, account_id: UUID
) -> tuple[asyncpg.Record, asyncpg.Record, Parent]:
    """The booking (locked after its offer), its offer and parent; 404 unless the caller is
    the rider or the driver."""
    first = await q.select_booking(conn, booking_id)
    if first is None:
        raise NotFound(NO_BOOKING)
    parent_ids = await q.select_offer_parent(conn, first["offer_id"])
    assert parent_ids is not None
    await q.share_lock_parent(conn, *parent_ids)
    offer = await q.select_offer(conn, first["offer_id"], account_id, for_update=True)
    assert offer is not None
    booking = await q.select_booking(conn, booking_id, for_update=True)
    assert booking is not None
    if account_id not in (booking["rider_id"], offer["driver_id"]):
        raise NotFound(NO_BOOKING)
    parent = await _load_parent(conn, offer["event_id"], offer["trip_id"], account_id)
    assert parent is not None
    return booking, offer, parent


def _notice(booking: asyncpg.Record, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "booking_id": str(booking["id"]),
        "leg": booking["leg"],
        "seats": booking["seats"],
        "status": status,
        **extra,
    }


async def decide_booking(
    conn: asyncpg.Connection, booking_id: UUID, account_id: UUID, decision: str
) -> RideBooking:
    """The driver confirms (takes the seats, or 409 when they are gone) or declines."""
    booking, offer, parent = await _locked_booking(conn, booking_id, account_id)
    _require_driver(
        offer, account_id, f"{'confirms' if decision == 'confirmed' else 'declines'} bookings"
    )
    if booking["status"] != "requested":
        raise Conflict(
            f"Only a requested booking can be {decision}; this one is {booking['status']}."
        )
    if decision == "confirmed":
        _bookable(offer, parent, booking["leg"], booking["seats"], _now())
        if await q.move_seats(conn, offer["id"], booking["leg"], booking["seats"]) is None:
            raise _not_enough_seats(offer, booking["leg"], booking["seats"])
    updated = await q.update_booking_status(conn, booking_id, decision)
    if decision == "confirmed":
        await q.sync_requests(conn, [booking["rider_id"]], offer["event_id"], offer["trip_id"])
    await _notify(
        conn, offer, [booking["rider_id"]], f"ride.booking_{decision}", **_notice(booking, decision)
    )
    await _outbox(conn, offer["id"], "ride.booking_changed")
    return booking_view(updated, account_id)


async def cancel_booking(
    conn: asyncpg.Connection, booking_id: UUID, account_id: UUID
) -> RideBooking:
    """The rider cancels their booking, or the driver removes the rider; seats free at once."""
    booking, offer, _ = await _locked_booking(conn, booking_id, account_id)
    by = "rider" if booking["rider_id"] == account_id else "driver"
    if booking["status"] not in ("requested", "confirmed"):
        raise Conflict(f"This booking is already {booking['status']}.")
    departure = _leg_departure(offer, booking["leg"])
    if offer["status"] == "completed" or (departure is not None and departure <= _now()):
        raise Conflict(f"The {booking['leg']} leg of this ride has already left.")
    if booking["status"] == "confirmed":
        moved = await q.move_seats(conn, offer["id"], booking["leg"], -booking["seats"])
        assert moved is not None
    updated = await q.update_booking_status(conn, booking_id, "cancelled", by)
    await q.sync_requests(conn, [booking["rider_id"]], offer["event_id"], offer["trip_id"])
    told = offer["driver_id"] if by == "rider" else booking["rider_id"]
    await _notify(
        conn, offer, [told], "ride.booking_cancelled", **_notice(booking, "cancelled", by=by)
    )
    await _outbox(conn, offer["id"], "ride.booking_changed")
    return booking_view(updated, account_id)


async def list_bookings(
    conn: asyncpg.Connection, offer_id: UUID, account_id: UUID, cursor: str | None, limit: int
) -> RideBookingPage:
    """All bookings for the driver (with requesters' and riders' names); your own otherwise."""
    offer, _ = await _visible_offer(conn, offer_id, account_id)
    is_driver = offer["driver_id"] == account_id
    after = decode_cursor(cursor, tuple[datetime, UUID])
    rows = await q.select_offer_bookings(
        conn,
        offer_id,
        rider_id=None if is_driver else account_id,
        after=after,
        limit=limit + 1,
    )
    page, next_cursor = split_page(rows, limit, lambda r: (r["created_at"], r["id"]))
    return RideBookingPage(
        items=[
            booking_view(r, account_id, rider_name=r["rider_name"] if is_driver else None)
            for r in page
        ],
        next_cursor=next_cursor,
    )


# ---------------------------------------------------------------- requests


async def create_request(
    conn: asyncpg.Connection,
    kind: str,
    parent_id: UUID,
    account_id: UUID,
    data: RideRequestCreate,
) -> RideRequest:
    """Ask for seats from an area; only the snapped area point is stored."""
    parent = await _require_parent(conn, kind, parent_id, account_id)
    _require_can_ride(parent)
    now = _now()
    _require_live_parent(parent, now)
    errors: list[FieldError] = []
    if data.latest_at < data.earliest_at:
        errors.append(FieldError(pointer="#/latest_at", detail="must not be before earliest_at"))
    if data.latest_at <= now:
        errors.append(FieldError(pointer="#/latest_at", detail="must be in the future"))
    limit = parent.ends_at if data.leg == "outbound" else parent.ends_at + RETURN_WINDOW
    if data.earliest_at >= limit:
        errors.append(
            FieldError(
                pointer="#/earliest_at",
                detail=f"must be before the {parent.kind} ends"
                if data.leg == "outbound"
                else f"must be within 48 hours after the {parent.kind} ends",
            )
        )
    if errors:
        raise RuleViolation("; ".join(f"{e.pointer[2:]} {e.detail}" for e in errors), errors=errors)
    area_lat, area_lon = area_point(data.lat, data.lon)
    row = await q.insert_request(
        conn,
        event_id=parent.event_id,
        trip_id=parent.trip_id,
        org_id=parent.org_id,
        rider_id=account_id,
        values={
            "leg": data.leg,
            "seats": data.seats,
            "area": data.area,
            "area_lat": area_lat,
            "area_lon": area_lon,
            "earliest_at": data.earliest_at,
            "latest_at": data.latest_at,
            "accessibility": list(dict.fromkeys(data.accessibility)),
        },
    )
    if row is None:
        raise Conflict(
            f"You already have a ride request for the {data.leg} leg of this {parent.kind}; "
            "cancel it first to change it."
        )
    await q.sync_requests(conn, [account_id], parent.event_id, parent.trip_id)
    fresh = await q.select_request(conn, row["id"])
    assert fresh is not None
    return request_view(fresh, account_id)


async def list_requests(
    conn: asyncpg.Connection,
    kind: str,
    parent_id: UUID,
    account_id: UUID,
    cursor: str | None,
    limit: int,
) -> RideRequestPage:
    """Drivers of the event or trip see every live request (area only); others their own."""
    parent = await _require_parent(conn, kind, parent_id, account_id)
    driver = await q.is_driver_for(conn, account_id, parent.event_id, parent.trip_id)
    after = decode_cursor(cursor, tuple[datetime, UUID])
    rows = await q.select_requests(
        conn,
        event_id=parent.event_id,
        trip_id=parent.trip_id,
        rider_id=None if driver else account_id,
        after=after,
        limit=limit + 1,
    )
    page, next_cursor = split_page(rows, limit, lambda r: (r["earliest_at"], r["id"]))
    return RideRequestPage(
        items=[request_view(r, account_id) for r in page], next_cursor=next_cursor
    )


async def cancel_request(
    conn: asyncpg.Connection, request_id: UUID, account_id: UUID
) -> RideRequest:
    row = await q.select_request(conn, request_id)
    if row is None or row["rider_id"] != account_id:
        raise NotFound(NO_REQUEST)
    if row["status"] == "cancelled":
        raise Conflict("This ride request is already cancelled.")
    return request_view(await q.cancel_request(conn, request_id), account_id)


# ---------------------------------------------------------------- one person's rides


async def my_rides(
    conn: asyncpg.Connection, keyring: Keyring, account_id: UUID, *, include_past: bool
) -> MyRides:
    """My offers, requests and bookings, soonest first; by default those leaving from 24 h
    ago on (at most 200 of each)."""
    since = datetime(1970, 1, 1, tzinfo=UTC) if include_past else _now() - timedelta(hours=24)
    offers = await q.select_driver_offers(conn, account_id, since, MY_RIDES_LIMIT)
    requests = await q.select_rider_requests(conn, account_id, since, MY_RIDES_LIMIT)
    bookings = await q.select_rider_bookings(conn, account_id, since, MY_RIDES_LIMIT)
    booked = {
        r["id"]: r
        for r in await q.select_offers_by_ids(
            conn, list({b["offer_id"] for b in bookings}), account_id
        )
    }
    return MyRides(
        offers=[await offer_view(conn, keyring, o, account_id) for o in offers],
        requests=[request_view(r, account_id) for r in requests],
        bookings=[
            MyRideBooking(
                booking=booking_view(b, account_id),
                offer=await offer_view(conn, keyring, booked[b["offer_id"]], account_id),
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
    for o in await q.select_driver_offers(conn, account_id, since, MY_RIDES_LIMIT):
        pickup = await _open_pickup(conn, keyring, o) if include_pickup else None
        legs: list[tuple[Leg, datetime, int]] = [("outbound", o["departs_at"], o["seats"])]
        if o["return_departs_at"] is not None:
            legs.append(("return", o["return_departs_at"], o["return_seats"]))
        for leg, departs, seats in legs:
            items.append(
                CalendarRide(
                    offer_id=o["id"],
                    booking_id=None,
                    role="driver",
                    leg=leg,
                    event_id=o["event_id"],
                    trip_id=o["trip_id"],
                    departs_at=departs,
                    area=o["area"],
                    status=o["status"],
                    event_changed=o["event_changed"],
                    driver_name=o["driver_name"],
                    seats=seats,
                    updated_at=o["updated_at"],
                    pickup=pickup,
                )
            )
    bookings = [
        b
        for b in await q.select_rider_bookings(conn, account_id, since, MY_RIDES_LIMIT)
        # confirmed, or cancelled after having been confirmed (decided, then cancelled)
        if b["status"] == "confirmed" or (b["status"] == "cancelled" and b["decided_at"])
    ]
    offers = {
        r["id"]: r
        for r in await q.select_offers_by_ids(
            conn, list({b["offer_id"] for b in bookings}), account_id
        )
    }
    for b in bookings:
        o = offers[b["offer_id"]]
        live = b["status"] == "confirmed"
        pickup = (
            await _open_pickup(conn, keyring, o)
            if include_pickup and live and may_see_pickup(o, account_id)
            else None
        )
        leg_departs = _leg_departure(o, b["leg"])
        assert leg_departs is not None
        items.append(
            CalendarRide(
                offer_id=o["id"],
                booking_id=b["id"],
                role="rider",
                leg=b["leg"],
                event_id=o["event_id"],
                trip_id=o["trip_id"],
                departs_at=leg_departs,
                area=o["area"],
                status=o["status"] if live else "cancelled",
                event_changed=o["event_changed"],
                driver_name=o["driver_name"],
                seats=b["seats"],
                updated_at=max(o["updated_at"], b["updated_at"]),
                pickup=pickup,
            )
        )
    items.sort(key=lambda r: (r.departs_at, str(r.offer_id), r.leg))
    return items


# ---------------------------------------------------------------- events and trips change


async def _cancel_parent_rides(
    conn: asyncpg.Connection, *, event_id: UUID | None, trip_id: UUID | None, reason: str
) -> int:
    offers = await q.lock_live_offers(conn, event_id=event_id, trip_id=trip_id)
    for offer in offers:
        await _cancel_locked(conn, offer, reason)
    await q.cancel_parent_requests(conn, event_id=event_id, trip_id=trip_id)
    return len(offers)


async def _flag_parent_rides(
    conn: asyncpg.Connection, *, event_id: UUID | None, trip_id: UUID | None
) -> int:
    offers = await q.lock_live_offers(conn, event_id=event_id, trip_id=trip_id)
    if not offers:
        return 0
    await q.flag_offers(conn, [o["id"] for o in offers])
    for offer in offers:
        riders = await q.select_live_riders(conn, [offer["id"]])
        await _notify(conn, offer, [offer["driver_id"], *riders], "ride.event_changed")
        await _outbox(conn, offer["id"], "ride.offer_updated")
    return len(offers)


async def cancel_rides_for_event(conn: asyncpg.Connection, event_id: UUID) -> int:
    """The event was cancelled: cancel its open and full rides (bookings released, pickups
    purged, drivers and riders told) and its ride requests; how many rides.

    Call it in the transaction that cancelled the event, after locking the event row."""
    return await _cancel_parent_rides(
        conn, event_id=event_id, trip_id=None, reason="event_cancelled"
    )


async def flag_rides_for_event(conn: asyncpg.Connection, event_id: UUID) -> int:
    """The event's times changed: flag its live rides "event time changed — please confirm"
    and tell their drivers and riders; how many rides."""
    return await _flag_parent_rides(conn, event_id=event_id, trip_id=None)


async def cancel_rides_for_trip(conn: asyncpg.Connection, trip_id: UUID) -> int:
    """The trip was cancelled: as cancel_rides_for_event."""
    return await _cancel_parent_rides(conn, event_id=None, trip_id=trip_id, reason="trip_cancelled")


async def flag_rides_for_trip(conn: asyncpg.Connection, trip_id: UUID) -> int:
    """The trip's times changed: as flag_rides_for_event."""
    return await _flag_parent_rides(conn, event_id=None, trip_id=trip_id)


# ---------------------------------------------------------------- retention


async def purge_ride_pickups(
    conn: asyncpg.Connection,
    *,
    now: datetime | None = None,
    hours: int = PICKUP_RETENTION_HOURS,
    org_id: UUID | None = None,
) -> list[dict[str, Any]]:
    """Purge exact pickups and contacts of rides whose last leg left `hours` ago or more: null
    the ciphertext, record `pickup_purged_at` and an audit row, destroy the offer's data key
    (so backups cannot be opened either), and mark open or full rides completed.

    Run it inside a transaction; rows another worker is purging are skipped. With `org_id`,
    only that org's rides (an org with a shorter window). Returns what was purged: offer,
    event and trip ids.
    """
    if hours < 0 or not math.isfinite(hours):
        raise ValueError("hours must be a finite number >= 0")
    cutoff = (now or _now()) - timedelta(hours=hours)
    purged: list[dict[str, Any]] = []
    for row in await q.select_offers_to_purge(conn, cutoff):
        if org_id is not None and row["org_id"] != org_id:
            continue
        await q.purge_offer_pickup(conn, row["id"])
        await data_keys.destroy_data_key(conn, SCOPE, row["id"], PICKUP_CLASS)
        await q.complete_offer(conn, row["id"])
        await audit.insert_audit_entry(
            conn, row["org_id"], None, "ride.pickup_purged", "ride_offer", row["id"]
        )
        purged.append(
            {"offer_id": row["id"], "event_id": row["event_id"], "trip_id": row["trip_id"]}
        )
    return purged
