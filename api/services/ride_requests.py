"""Ride requests: a rider asks for seats from an area; drivers of the event or trip see them."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from api.errors import Conflict, NotFound, RuleViolation
from api.pagination import decode_cursor, split_page
from api.services.ride_parents import (
    RETURN_WINDOW,
    require_parent,
    require_parent_open_to_rides,
)
from api.services.ride_pickups import area_point
from api.services.ride_views import request_view
from db.queries import ride_offers as offer_queries
from db.queries import ride_requests as request_queries
from schemas.problems import FieldError
from schemas.rides import RideRequest, RideRequestCreate, RideRequestPage

NO_REQUEST = "No ride request has this id, or it is not yours."


async def create_request(
    conn: asyncpg.Connection,
    kind: str,
    parent_id: UUID,
    account_id: UUID,
    data: RideRequestCreate,
) -> RideRequest:
    """Ask for seats from an area; only the snapped area point is stored."""
    now = datetime.now(UTC)
    parent = await require_parent_open_to_rides(conn, kind, parent_id, account_id, now)
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
    row = await request_queries.insert_request(
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
    await request_queries.sync_requests(conn, [account_id], parent.event_id, parent.trip_id)
    fresh = await request_queries.select_request(conn, row.id)
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
    parent = await require_parent(conn, kind, parent_id, account_id)
    driver = await offer_queries.is_driver_for(conn, account_id, parent.event_id, parent.trip_id)
    after = decode_cursor(cursor, tuple[datetime, UUID])
    rows = await request_queries.select_requests(
        conn,
        event_id=parent.event_id,
        trip_id=parent.trip_id,
        rider_id=None if driver else account_id,
        after=after,
        limit=limit + 1,
    )
    page, next_cursor = split_page(rows, limit, lambda r: (r.earliest_at, r.id))
    return RideRequestPage(
        items=[request_view(r, account_id) for r in page], next_cursor=next_cursor
    )


async def cancel_request(
    conn: asyncpg.Connection, request_id: UUID, account_id: UUID
) -> RideRequest:
    row = await request_queries.select_request(conn, request_id)
    if row is None or row.rider_id != account_id:
        raise NotFound(NO_REQUEST)
    if row.status == "cancelled":
        raise Conflict("This ride request is already cancelled.")
    return request_view(await request_queries.cancel_request(conn, request_id), account_id)
