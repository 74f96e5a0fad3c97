"""Ride offers: a driver offers seats to an event or trip, changes them, or cancels.

Event rides may be offered and booked by anyone who may see the event; a trip's only by its
accepted participants and organizers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from msgspec import UNSET

from api.crypto import Keyring
from api.errors import Conflict, Forbidden, NotFound, RuleViolation
from api.patching import sent_fields
from api.services.ride_notices import notify, record_offer_change
from api.services.ride_parents import (
    RETURN_WINDOW,
    Parent,
    load_parent,
    require_parent_open_to_rides,
)
from api.services.ride_pickups import area_point, forget_pickup, seal_contact, seal_pickup
from api.services.ride_views import offer_view
from db.queries import ride_bookings as booking_queries
from db.queries import ride_offers as offer_queries
from db.queries import ride_requests as request_queries
from db.queries.ride_offers import OfferRow, OfferSummary
from schemas.problems import FieldError
from schemas.rides import RideOffer, RideOfferCreate, RideOfferPatch

NO_OFFER = "No ride offer has this id, or it is not visible to you."


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


async def _fresh_view(
    conn: asyncpg.Connection, keyring: Keyring, offer_id: UUID, account_id: UUID
) -> RideOffer:
    """The offer read again after a change, as its caller sees it."""
    row = await offer_queries.select_offer(conn, offer_id, account_id)
    assert row is not None
    return await offer_view(conn, keyring, row, account_id)


async def create_offer(
    conn: asyncpg.Connection,
    keyring: Keyring,
    kind: str,
    parent_id: UUID,
    account_id: UUID,
    data: RideOfferCreate,
) -> RideOffer:
    """Offer seats; the exact pickup and contact are sealed, the area snapped to the grid."""
    now = datetime.now(UTC)
    parent = await require_parent_open_to_rides(conn, kind, parent_id, account_id, now)
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
    values["pickup_ciphertext"] = await seal_pickup(conn, keyring, offer_id, data.pickup)
    values["contact_ciphertext"] = await seal_contact(conn, keyring, offer_id, data.contact)
    await offer_queries.insert_offer(
        conn,
        offer_id,
        event_id=parent.event_id,
        trip_id=parent.trip_id,
        org_id=parent.org_id,
        driver_id=account_id,
        values=values,
    )
    await record_offer_change(conn, offer_id, "ride.offer_created")
    return await _fresh_view(conn, keyring, offer_id, account_id)


async def visible_offer(
    conn: asyncpg.Connection, offer_id: UUID, account_id: UUID, *, lock: bool = False
) -> tuple[OfferRow, Parent]:
    """The offer and its event or trip, if the caller may see them (else 404).

    With `lock`: KEY SHARE on the event or trip row first, then the offer row FOR UPDATE (the
    lock order every booking change follows), and the offer is read after the lock.
    """
    parent_ids = await offer_queries.select_offer_parent(conn, offer_id)
    if parent_ids is None:
        raise NotFound(NO_OFFER)
    if lock:
        await offer_queries.share_lock_parent(conn, *parent_ids)
    offer = await offer_queries.select_offer(conn, offer_id, account_id, for_update=lock)
    if offer is None:
        raise NotFound(NO_OFFER)
    parent = await load_parent(conn, offer.event_id, offer.trip_id, account_id)
    if parent is None or not parent.can_see:
        raise NotFound(NO_OFFER)
    return offer, parent


def require_driver(offer: OfferRow, account_id: UUID, action: str) -> None:
    if offer.driver_id != account_id:
        raise Forbidden(f"Only the driver {action}.")


def _require_editable(offer: OfferRow, now: datetime) -> None:
    if offer.status == "cancelled":
        raise Conflict("This ride is cancelled, and cancelled is final.")
    if offer.status == "completed" or offer.departs_at <= now:
        raise Conflict("This ride has already left.")


async def get_offer(
    conn: asyncpg.Connection, keyring: Keyring, offer_id: UUID, account_id: UUID
) -> RideOffer:
    offer, _ = await visible_offer(conn, offer_id, account_id)
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
    offer, parent = await visible_offer(conn, offer_id, account_id, lock=True)
    require_driver(offer, account_id, "changes a ride offer")
    now = datetime.now(UTC)
    _require_editable(offer, now)
    new: dict[str, Any] = {c: getattr(offer, c) for c in offer_queries.WRITABLE_COLUMNS}
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
    if new["seats"] < offer.seats_taken:
        errors.append(
            FieldError(pointer="#/seats", detail=f"at least {offer.seats_taken} (seats taken)")
        )
    if new["return_seats"] is None:
        if await booking_queries.has_live_bookings(conn, offer_id, "return"):
            errors.append(
                FieldError(
                    pointer="#/return_departs_at",
                    detail="riders hold return bookings; remove or decline them first",
                )
            )
    elif new["return_seats"] < offer.return_seats_taken:
        errors.append(
            FieldError(
                pointer="#/return_seats",
                detail=f"at least {offer.return_seats_taken} (seats taken)",
            )
        )
    if errors:
        raise Conflict(
            "Riders already hold these seats: " + "; ".join(e.detail for e in errors) + ".",
            errors=errors,
        )
    if data.pickup is not UNSET:
        new["area_lat"], new["area_lon"] = area_point(data.pickup.lat, data.pickup.lon)
        new["pickup_ciphertext"] = await seal_pickup(conn, keyring, offer_id, data.pickup)
    if data.contact is not UNSET:
        new["contact_ciphertext"] = await seal_contact(conn, keyring, offer_id, data.contact)
    moved = (
        new["departs_at"] != offer.departs_at or new["return_departs_at"] != offer.return_departs_at
    )
    if moved or data.event_changed is False:
        new["event_changed"] = False
    await offer_queries.update_offer(conn, offer_id, new)
    if moved or data.pickup is not UNSET:
        riders = await booking_queries.select_live_riders(conn, [offer_id])
        after = await offer_queries.select_offer(conn, offer_id, account_id)
        assert after is not None
        await notify(
            conn,
            after,
            riders,
            "ride.changed",
            return_departs_at=after.return_departs_at,
            pickup_changed=data.pickup is not UNSET,
        )
    await record_offer_change(conn, offer_id, "ride.offer_updated")
    return await _fresh_view(conn, keyring, offer_id, account_id)


async def cancel_locked_offer(
    conn: asyncpg.Connection,
    offer: OfferSummary,
    reason: str,
    message: str | None = None,
) -> None:
    """Cancel a locked offer: release every booking, purge the pickup, tell everyone."""
    released = await booking_queries.cancel_offer_bookings(conn, offer.id)
    await offer_queries.cancel_offer(conn, offer.id, reason)
    await forget_pickup(conn, offer.id)
    riders = list(dict.fromkeys(b.rider_id for b in released))
    if riders:
        await request_queries.sync_requests(conn, riders, offer.event_id, offer.trip_id)
    extra: dict[str, Any] = {"reason": reason}
    if message:
        extra["message"] = message
    await notify(conn, offer, riders, "ride.cancelled", **extra)
    if reason != "driver":
        await notify(conn, offer, [offer.driver_id], "ride.cancelled", **extra)
    await record_offer_change(conn, offer.id, "ride.offer_cancelled")


async def cancel_offer(
    conn: asyncpg.Connection,
    keyring: Keyring,
    offer_id: UUID,
    account_id: UUID,
    message: str | None,
) -> RideOffer:
    """The driver cancels: every booking is released, every rider told, the pickup purged."""
    offer, _ = await visible_offer(conn, offer_id, account_id, lock=True)
    require_driver(offer, account_id, "cancels a ride offer")
    if offer.status == "cancelled":
        raise Conflict("This ride is already cancelled.")
    if offer.status == "completed":
        raise Conflict("This ride has already taken place.")
    await cancel_locked_offer(conn, offer, "driver", message.strip() if message else None)
    return await _fresh_view(conn, keyring, offer_id, account_id)
