"""SQL for finding rides: offers near a point and a time, and requests that fit an offer."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from db.queries.ride_offers import RankedOfferRow, offer_columns
from db.queries.ride_requests import REQUEST_COLUMNS, RankedRequestRow


class _Params:
    """Numbered parameters for a query assembled from this module's fixed fragments."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


# Offer lists: ordered by (sort distance, time gap, id); a keyset cursor on those three.
_LEG_DEPARTURE = {"outbound": "o.departs_at", "return": "o.return_departs_at"}


_LEG_FREE = {
    "outbound": "o.seats - o.seats_taken",
    "return": "o.return_seats - o.return_seats_taken",
}


async def select_offers(
    conn: asyncpg.Connection,
    *,
    account_id: UUID | None,
    event_id: UUID | None,
    trip_id: UUID | None,
    leg: str,
    seats: int | None,
    depart_from: datetime | None,
    depart_to: datetime | None,
    target: datetime | None,
    near: tuple[float, float] | None,
    radius_km: float | None,
    box: tuple[float, float, float | None, float | None] | None,
    after: tuple[float, float, UUID] | None,
    limit: int,
) -> list[RankedOfferRow]:
    """Open and full offers of an event or trip whose leg has not left yet.

    With `near`: within `radius_km` of the point (great-circle, to the area point), nearest
    first. Ties (offers on the same grid point) go to the departure closest to `target`;
    without a target, to the earliest departure.
    """
    p = _Params()
    a = p.add(account_id)
    departure = _LEG_DEPARTURE[leg]
    where = [
        "o.status IN ('open', 'full')",
        f"{departure} > now()",
        f"o.event_id = {p.add(event_id)}"
        if event_id is not None
        else f"o.trip_id = {p.add(trip_id)}",
    ]
    if seats is not None:
        where.append(f"{_LEG_FREE[leg]} >= {p.add(seats)}")
    if depart_from is not None:
        where.append(f"{departure} >= {p.add(depart_from)}")
    if depart_to is not None:
        where.append(f"{departure} <= {p.add(depart_to)}")
    if target is not None:
        gap = f"abs(extract(epoch FROM {departure} - {p.add(target)}::timestamptz))::float8"
    else:
        gap = f"extract(epoch FROM {departure})::float8"
    if near is not None and radius_km is not None and box is not None:
        distance = f"great_circle_km({p.add(near[0])}, {p.add(near[1])}, o.area_lat, o.area_lon)"
        where.append(f"o.area_lat BETWEEN {p.add(box[0])} AND {p.add(box[1])}")
        if box[2] is not None and box[3] is not None:
            where.append(f"o.area_lon BETWEEN {p.add(box[2])} AND {p.add(box[3])}")
        where.append(f"k.distance_km <= {p.add(radius_km)}")
        sort_distance = "k.distance_km"
    else:
        distance = "NULL::float8"
        sort_distance = "0::float8"
    if after is not None:
        where.append(
            f"({sort_distance}, k.gap_s, o.id) > "
            f"({p.add(after[0])}::float8, {p.add(after[1])}::float8, {p.add(after[2])}::uuid)"
        )
    lim = p.add(limit)
    rows = await conn.fetch(
        f"""
        SELECT {offer_columns(a)}, k.distance_km, {sort_distance} AS sort_distance, k.gap_s
          FROM ride_offers o
         CROSS JOIN LATERAL (SELECT {distance} AS distance_km, {gap} AS gap_s) k
         WHERE {" AND ".join(where)}
         ORDER BY {sort_distance}, k.gap_s, o.id
         LIMIT {lim}
        """,
        *p.values,
    )
    return [msgspec.convert(dict(r.items()), RankedOfferRow) for r in rows]


async def select_matching_requests(
    conn: asyncpg.Connection,
    offer_id: UUID,
    *,
    radius_km: float,
    after: tuple[float, float, UUID] | None,
    limit: int,
) -> list[RankedRequestRow]:
    """Open requests that fit the offer: same event or trip, a leg the offer drives whose
    departure falls in the request's window, enough free seats on it, the request's area
    within `radius_km` of the offer's, not the driver's own, and no live booking on that leg
    yet. Nearest first, then the departure closest to the middle of the window."""
    rows = await conn.fetch(
        f"""
        SELECT {REQUEST_COLUMNS}, k.distance_km, k.gap_s
          FROM ride_offers o
          JOIN ride_requests r ON (r.event_id = o.event_id OR r.trip_id = o.trip_id)
         CROSS JOIN LATERAL (
               SELECT CASE r.leg WHEN 'outbound' THEN o.departs_at
                                 ELSE o.return_departs_at END AS departs_at,
                      CASE r.leg WHEN 'outbound' THEN o.seats - o.seats_taken
                                 ELSE o.return_seats - o.return_seats_taken END AS seats_free
         ) l
         CROSS JOIN LATERAL (
               SELECT great_circle_km(o.area_lat, o.area_lon, r.area_lat, r.area_lon) AS distance_km,
                      abs(extract(epoch FROM l.departs_at
                                  - (r.earliest_at + (r.latest_at - r.earliest_at) / 2)))::float8
                          AS gap_s
         ) k
         WHERE o.id = $1
           AND r.status = 'open'
           AND r.rider_id <> o.driver_id
           AND l.departs_at BETWEEN r.earliest_at AND r.latest_at
           AND l.seats_free >= r.seats
           AND k.distance_km <= $2
           AND NOT EXISTS (SELECT 1 FROM ride_bookings b
                            WHERE b.offer_id = o.id AND b.rider_id = r.rider_id AND b.leg = r.leg
                              AND b.status IN ('requested', 'confirmed'))
           AND ($3::float8 IS NULL OR (k.distance_km, k.gap_s, r.id) > ($3, $4::float8, $5::uuid))
         ORDER BY k.distance_km, k.gap_s, r.id
         LIMIT $6
        """,
        offer_id,
        radius_km,
        *(after or (None, None, None)),
        limit,
    )
    return [msgspec.convert(dict(r.items()), RankedRequestRow) for r in rows]
