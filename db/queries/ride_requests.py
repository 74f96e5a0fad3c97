"""SQL for ride requests: a rider asking for seats from an area, matched while booked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from schemas.rides import Accessibility, Leg, RequestStatus

REQUEST_COLUMNS = """
       r.id, r.event_id, r.trip_id, r.org_id, r.rider_id, r.leg, r.seats, r.area, r.area_lat,
       r.area_lon, r.earliest_at, r.latest_at, r.accessibility, r.status, r.created_at,
       r.updated_at"""


class RequestRow(msgspec.Struct, frozen=True, kw_only=True):
    """A ride request as REQUEST_COLUMNS reads it, typed so that a mistyped column fails mypy."""

    id: UUID
    event_id: UUID | None
    trip_id: UUID | None
    org_id: UUID
    rider_id: UUID
    leg: Leg
    seats: int
    area: str
    area_lat: float
    area_lon: float
    earliest_at: datetime
    latest_at: datetime
    accessibility: list[Accessibility]
    status: RequestStatus
    created_at: datetime
    updated_at: datetime
    #: only from ride_matching.select_matching_requests
    distance_km: float | None = None


class RankedRequestRow(RequestRow, frozen=True, kw_only=True):
    """A request from ride_matching.select_matching_requests, with the keys it is ranked by."""

    gap_s: float


def request_row(row: asyncpg.Record) -> RequestRow:
    return msgspec.convert(dict(row.items()), RequestRow)


def _maybe_request(row: asyncpg.Record | None) -> RequestRow | None:
    return None if row is None else request_row(row)


async def _fetch_requests(conn: asyncpg.Connection, query: str, *args: Any) -> list[RequestRow]:
    return [request_row(r) for r in await conn.fetch(query, *args)]


async def insert_request(
    conn: asyncpg.Connection,
    *,
    event_id: UUID | None,
    trip_id: UUID | None,
    org_id: UUID,
    rider_id: UUID,
    values: Mapping[str, Any],
) -> RequestRow | None:
    """None when the rider already has a live request for this leg of the event or trip."""
    row = await conn.fetchrow(
        f"""
        INSERT INTO ride_requests AS r (event_id, trip_id, org_id, rider_id, leg, seats, area,
                                        area_lat, area_lon, earliest_at, latest_at,
                                        accessibility)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
        ON CONFLICT DO NOTHING
        RETURNING {REQUEST_COLUMNS}
        """,
        event_id,
        trip_id,
        org_id,
        rider_id,
        values["leg"],
        values["seats"],
        values["area"],
        values["area_lat"],
        values["area_lon"],
        values["earliest_at"],
        values["latest_at"],
        values["accessibility"],
    )
    return _maybe_request(row)


async def select_request(conn: asyncpg.Connection, request_id: UUID) -> RequestRow | None:
    row = await conn.fetchrow(
        f"SELECT {REQUEST_COLUMNS} FROM ride_requests r WHERE r.id = $1", request_id
    )
    return _maybe_request(row)


async def cancel_request(conn: asyncpg.Connection, request_id: UUID) -> RequestRow:
    row = await conn.fetchrow(
        f"""
        UPDATE ride_requests AS r SET status = 'cancelled', updated_at = now()
         WHERE r.id = $1
     RETURNING {REQUEST_COLUMNS}
        """,
        request_id,
    )
    assert row is not None
    return request_row(row)


async def cancel_parent_requests(
    conn: asyncpg.Connection, *, event_id: UUID | None = None, trip_id: UUID | None = None
) -> int:
    status = await conn.execute(
        """
        UPDATE ride_requests SET status = 'cancelled', updated_at = now()
         WHERE (event_id = $1 OR trip_id = $2) AND status <> 'cancelled'
        """,
        event_id,
        trip_id,
    )
    return int(status.split()[-1])


async def sync_requests(
    conn: asyncpg.Connection, rider_ids: Sequence[UUID], event_id: UUID | None, trip_id: UUID | None
) -> None:
    """A request is matched while its rider holds a confirmed booking on that leg for the
    same event or trip, and open again otherwise."""
    await conn.execute(
        """
        UPDATE ride_requests AS r
           SET status = CASE WHEN EXISTS (
                                  SELECT 1 FROM ride_bookings b
                                    JOIN ride_offers o ON o.id = b.offer_id
                                   WHERE b.rider_id = r.rider_id AND b.leg = r.leg
                                     AND b.status = 'confirmed'
                                     AND (o.event_id = r.event_id OR o.trip_id = r.trip_id))
                             THEN 'matched' ELSE 'open' END,
               updated_at = now()
         WHERE r.rider_id = ANY($1::uuid[])
           AND (r.event_id = $2 OR r.trip_id = $3)
           AND r.status IN ('open', 'matched')
        """,
        list(rider_ids),
        event_id,
        trip_id,
    )


async def select_requests(
    conn: asyncpg.Connection,
    *,
    event_id: UUID | None,
    trip_id: UUID | None,
    rider_id: UUID | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[RequestRow]:
    """Live (open or matched) requests of the event or trip, earliest window first; only
    `rider_id`'s when given."""
    return await _fetch_requests(
        conn,
        f"""
        SELECT {REQUEST_COLUMNS}
          FROM ride_requests r
         WHERE (r.event_id = $1 OR r.trip_id = $2)
           AND r.status IN ('open', 'matched')
           AND ($3::uuid IS NULL OR r.rider_id = $3)
           AND ($4::timestamptz IS NULL OR (r.earliest_at, r.id) > ($4, $5::uuid))
         ORDER BY r.earliest_at, r.id
         LIMIT $6
        """,
        event_id,
        trip_id,
        rider_id,
        *(after or (None, None)),
        limit,
    )


async def select_rider_requests(
    conn: asyncpg.Connection, account_id: UUID, since: datetime, limit: int
) -> list[RequestRow]:
    return await _fetch_requests(
        conn,
        f"""
        SELECT {REQUEST_COLUMNS}
          FROM ride_requests r
         WHERE r.rider_id = $1 AND r.latest_at >= $2
         ORDER BY r.earliest_at, r.id
         LIMIT $3
        """,
        account_id,
        since,
        limit,
    )
