"""Seat accounting: when each leg leaves, how many seats it has, and whether they can be booked.

Seats are never overbooked: every booking change takes a KEY SHARE lock on the event or trip
row, then locks the offer row, and seats move only through a conditional UPDATE
(`taken + n <= seats`, db.queries.ride_seats) with a CHECK behind it. Confirmations and
auto-confirmed bookings compete for the last seat through that one statement: exactly one
wins, the others get 409.
"""

from __future__ import annotations

from datetime import datetime

from api.errors import Conflict
from api.services.ride_parents import Parent, require_live_parent
from db.queries.ride_offers import OfferRow
from schemas.problems import FieldError


def leg_departure(offer: OfferRow, leg: str) -> datetime | None:
    return offer.departs_at if leg == "outbound" else offer.return_departs_at


def _leg_seats(offer: OfferRow, leg: str) -> tuple[int | None, int]:
    """(seats offered, seats taken) on a leg; offered is None when there is no return leg."""
    if leg == "outbound":
        return offer.seats, offer.seats_taken
    return offer.return_seats, offer.return_seats_taken


def seats_free(offer: OfferRow, leg: str) -> int | None:
    """Free seats on a leg; None when the offer has no return leg."""
    offered, taken = _leg_seats(offer, leg)
    return None if offered is None else offered - taken


def check_bookable(offer: OfferRow, parent: Parent, leg: str, seats: int, now: datetime) -> None:
    """Why these seats cannot be booked now (409), if they cannot."""
    if offer.status == "cancelled":
        raise Conflict("This ride is cancelled; it takes no bookings.")
    departure = leg_departure(offer, leg)
    if departure is None:
        raise Conflict(
            "This ride offers no return leg; book the outbound leg or ask the driver.",
            errors=[FieldError(pointer="#/leg", detail="this ride has no return leg")],
        )
    if offer.status == "completed" or departure <= now:
        raise Conflict(f"The {leg} leg of this ride has already left.")
    require_live_parent(parent, now)
    offered = _leg_seats(offer, leg)[0]
    assert offered is not None
    if seats > offered:
        raise Conflict(
            f"This ride offers {offered} seats on the {leg} leg; you asked for {seats}.",
            errors=[FieldError(pointer="#/seats", detail=f"at most {offered} (seats offered)")],
        )


def not_enough_seats(offer: OfferRow, leg: str, seats: int) -> Conflict:
    free = seats_free(offer, leg) or 0
    return Conflict(
        f"Not enough free seats on the {leg} leg: {free} free, {seats} asked. "
        "Someone else took them first.",
        errors=[FieldError(pointer="#/seats", detail=f"{free} free")],
    )
