"""Finding rides: an event's or trip's offers ranked by place and time, and requests that fit."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from api.crypto import Keyring
from api.errors import RuleViolation
from api.pagination import decode_cursor, split_page
from api.services.locations import bounding_box, check_near
from api.services.ride_offers import require_driver, visible_offer
from api.services.ride_parents import require_parent
from api.services.ride_views import offer_view, request_view
from db.queries import ride_matching as match_queries
from schemas.problems import FieldError
from schemas.rides import RideOfferPage, RideRequestPage

DEFAULT_MATCH_RADIUS_KM = 25.0


OFFER_RANKING = (
    "Ranking: nearest first, by great-circle distance from `near` to the offer's area point "
    "(`distance_km`); offers at the same distance (area points share a ~2 km grid) by time "
    "fit: the smallest gap between the leg's departure and the middle of the departure window "
    "(with only `depart_from` or `depart_to`, that time); without a window, the earliest "
    "departure first; then by id. Without `near`, by time fit, then id."
)


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
    parent = await require_parent(conn, kind, parent_id, account_id)
    after = decode_cursor(cursor, tuple[float, float, UUID])
    box = None
    if query.near is not None and query.radius_km is not None:
        box = bounding_box(query.near[0], query.near[1], query.radius_km)
    rows = await match_queries.select_offers(
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
    page, next_cursor = split_page(rows, limit, lambda r: (r.sort_distance, r.gap_s, r.id))
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
    offer, _ = await visible_offer(conn, offer_id, account_id)
    require_driver(offer, account_id, "sees the requests that fit a ride offer")
    after = decode_cursor(cursor, tuple[float, float, UUID])
    if offer.status not in ("open", "full"):
        return RideRequestPage(items=[])
    rows = await match_queries.select_matching_requests(
        conn, offer_id, radius_km=radius_km, after=after, limit=limit + 1
    )
    page, next_cursor = split_page(rows, limit, lambda r: (r.distance_km, r.gap_s, r.id))
    return RideRequestPage(
        items=[request_view(r, account_id) for r in page], next_cursor=next_cursor
    )
