"""SQL for carpools: ride offers, ride requests, seat bookings, and the pickup purge.

Lock order, everywhere: the event or trip row (KEY SHARE from booking paths, FOR UPDATE from
the event's or trip's own lifecycle), then the offer row (FOR UPDATE), then its bookings.
Seats move only through a conditional UPDATE (`taken + n <= seats`), with a CHECK behind it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

# The columns a driver edits; the service merges a PATCH into the current row first.
WRITABLE_COLUMNS = (
    "seats",
    "departs_at",
    "area",
    "area_lat",
    "area_lon",
    "pickup_ciphertext",
    "contact_ciphertext",
    "return_departs_at",
    "return_seats",
    "notes",
    "accessibility",
    "auto_confirm",
    "event_changed",
)

# {a} is the caller's account parameter (NULL = anonymous).
_OFFER_COLUMNS = """
       o.id, o.event_id, o.trip_id, o.org_id, o.driver_id, o.seats, o.seats_taken, o.departs_at,
       o.area, o.area_lat, o.area_lon, o.pickup_ciphertext, o.contact_ciphertext,
       o.return_departs_at, o.return_seats, o.return_seats_taken, o.notes, o.accessibility,
       o.auto_confirm, o.status, o.cancel_reason, o.event_changed, o.pickup_purged_at,
       o.created_at, o.updated_at, o.cancelled_at,
       (SELECT a.display_name FROM accounts a WHERE a.id = o.driver_id) AS driver_name,
       EXISTS (SELECT 1 FROM ride_bookings b
                WHERE b.offer_id = o.id AND b.rider_id = {a}::uuid
                  AND b.status = 'confirmed') AS is_confirmed_rider,
       -- confirmed riders' names and seats: computed for the driver only
       CASE WHEN o.driver_id = {a}::uuid THEN
            coalesce((SELECT jsonb_agg(jsonb_build_object(
                                 'booking_id', b.id, 'display_name', ra.display_name,
                                 'leg', b.leg, 'seats', b.seats)
                             ORDER BY b.leg, b.created_at, b.id)
                        FROM ride_bookings b
                        JOIN accounts ra ON ra.id = b.rider_id
                       WHERE b.offer_id = o.id AND b.status = 'confirmed'), '[]'::jsonb)
       END AS riders"""


def offer_columns(account_param: str) -> str:
    return _OFFER_COLUMNS.format(a=account_param)


class _Params:
    """Numbered parameters for a query assembled from this module's fixed fragments."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


# ---------------------------------------------------------------- parents


async def share_lock_parent(
    conn: asyncpg.Connection, event_id: UUID | None, trip_id: UUID | None
) -> None:
    """KEY SHARE on the event or trip: waits for its cancellation or move to finish first."""
    if event_id is not None:
        await conn.execute("SELECT 1 FROM events WHERE id = $1 FOR KEY SHARE", event_id)
    else:
        await conn.execute("SELECT 1 FROM trips WHERE id = $1 FOR KEY SHARE", trip_id)


# ---------------------------------------------------------------- offers


async def insert_offer(
    conn: asyncpg.Connection,
    offer_id: UUID,
    *,
    event_id: UUID | None,
    trip_id: UUID | None,
    org_id: UUID,
    driver_id: UUID,
    values: Mapping[str, Any],
) -> None:
    columns = ", ".join(WRITABLE_COLUMNS)
    params = ", ".join(f"${i}" for i in range(6, 6 + len(WRITABLE_COLUMNS)))
    await conn.execute(
        f"""
        INSERT INTO ride_offers (id, event_id, trip_id, org_id, driver_id, {columns}, status)
        VALUES ($1, $2, $3, $4, $5, {params}, 'open')
        """,
        offer_id,
        event_id,
        trip_id,
        org_id,
        driver_id,
        *(values[c] for c in WRITABLE_COLUMNS),
    )


async def select_offer(
    conn: asyncpg.Connection,
    offer_id: UUID,
    account_id: UUID | None,
    *,
    for_update: bool = False,
) -> asyncpg.Record | None:
    lock = "FOR UPDATE OF o" if for_update else ""
    return await conn.fetchrow(
        f"""
        SELECT {offer_columns("$2")}
          FROM ride_offers o
         WHERE o.id = $1
         {lock}
        """,
        offer_id,
        account_id,
    )


async def select_offer_parent(
    conn: asyncpg.Connection, offer_id: UUID
) -> tuple[UUID | None, UUID | None] | None:
    """(event_id, trip_id) of the offer, read without a lock; None when it does not exist."""
    row = await conn.fetchrow("SELECT event_id, trip_id FROM ride_offers WHERE id = $1", offer_id)
    return None if row is None else (row["event_id"], row["trip_id"])


_UPDATE_SET = ",\n               ".join(
    f"{c} = ${i}" for i, c in enumerate(WRITABLE_COLUMNS, start=2)
)


async def update_offer(conn: asyncpg.Connection, offer_id: UUID, values: Mapping[str, Any]) -> None:
    """Write every editable column, then let the status follow the seat counters."""
    await conn.execute(
        f"""
        UPDATE ride_offers
           SET {_UPDATE_SET},
               updated_at = now()
         WHERE id = $1
        """,
        offer_id,
        *(values[c] for c in WRITABLE_COLUMNS),
    )
    await refresh_offer_status(conn, offer_id)


async def refresh_offer_status(conn: asyncpg.Connection, offer_id: UUID) -> None:
    """open ↔ full from the counters: full when no offered leg has a free seat."""
    await conn.execute(
        """
        UPDATE ride_offers
           SET status = CASE WHEN seats_taken >= seats
                              AND (return_seats IS NULL OR return_seats_taken >= return_seats)
                             THEN 'full' ELSE 'open' END
         WHERE id = $1 AND status IN ('open', 'full')
        """,
        offer_id,
    )


# The seat counter of each leg, from this fixed mapping; the new status is computed from the
# new counter values in the same statement.
_MOVE_SEATS = {
    "outbound": """
        UPDATE ride_offers
           SET seats_taken = seats_taken + $2,
               status = CASE WHEN seats_taken + $2 >= seats
                              AND (return_seats IS NULL OR return_seats_taken >= return_seats)
                             THEN 'full' ELSE 'open' END,
               updated_at = now()
         WHERE id = $1
           AND status IN ('open', 'full')
           AND seats_taken + $2 BETWEEN 0 AND seats
     RETURNING seats - seats_taken AS seats_free, status
        """,
    "return": """
        UPDATE ride_offers
           SET return_seats_taken = return_seats_taken + $2,
               status = CASE WHEN seats_taken >= seats
                              AND return_seats_taken + $2 >= return_seats
                             THEN 'full' ELSE 'open' END,
               updated_at = now()
         WHERE id = $1
           AND status IN ('open', 'full')
           AND return_seats IS NOT NULL
           AND return_seats_taken + $2 BETWEEN 0 AND return_seats
     RETURNING return_seats - return_seats_taken AS seats_free, status
        """,
}


async def move_seats(
    conn: asyncpg.Connection, offer_id: UUID, leg: str, delta: int
) -> asyncpg.Record | None:
    """Take (delta > 0) or release (delta < 0) seats on a leg; None when they do not fit."""
    return await conn.fetchrow(_MOVE_SEATS[leg], offer_id, delta)


async def cancel_offer(conn: asyncpg.Connection, offer_id: UUID, reason: str) -> None:
    """Cancelled is final: counters back to zero (every booking is released with it)."""
    await conn.execute(
        """
        UPDATE ride_offers
           SET status = 'cancelled', cancel_reason = $2, cancelled_at = now(),
               seats_taken = 0, return_seats_taken = 0, updated_at = now()
         WHERE id = $1
        """,
        offer_id,
        reason,
    )


async def lock_live_offers(
    conn: asyncpg.Connection, *, event_id: UUID | None = None, trip_id: UUID | None = None
) -> list[asyncpg.Record]:
    """Open and full offers of an event or trip, locked in id order (no deadlock between two)."""
    return await conn.fetch(
        """
        SELECT id, event_id, trip_id, org_id, driver_id, departs_at, area, status
          FROM ride_offers
         WHERE (event_id = $1 OR trip_id = $2) AND status IN ('open', 'full')
         ORDER BY id
           FOR UPDATE
        """,
        event_id,
        trip_id,
    )


async def flag_offers(conn: asyncpg.Connection, offer_ids: Sequence[UUID]) -> None:
    await conn.execute(
        """
        UPDATE ride_offers SET event_changed = true, updated_at = now()
         WHERE id = ANY($1::uuid[])
        """,
        list(offer_ids),
    )


async def purge_offer_pickup(conn: asyncpg.Connection, offer_id: UUID) -> bool:
    """Null the sealed pickup and contact and record when; False when already purged."""
    status = await conn.execute(
        """
        UPDATE ride_offers
           SET pickup_ciphertext = NULL, contact_ciphertext = NULL, pickup_purged_at = now()
         WHERE id = $1 AND pickup_purged_at IS NULL
        """,
        offer_id,
    )
    return status != "UPDATE 0"


async def select_offers_to_purge(
    conn: asyncpg.Connection, before: datetime, limit: int = 500
) -> list[asyncpg.Record]:
    """Offers whose last leg left before `before` and still hold a pickup; locked, skipping
    rows another worker holds."""
    return await conn.fetch(
        """
        SELECT id, event_id, trip_id, org_id, status
          FROM ride_offers
         WHERE pickup_purged_at IS NULL
           AND coalesce(return_departs_at, departs_at) <= $1
         ORDER BY coalesce(return_departs_at, departs_at), id
         LIMIT $2
           FOR UPDATE SKIP LOCKED
        """,
        before,
        limit,
    )


async def complete_offer(conn: asyncpg.Connection, offer_id: UUID) -> None:
    await conn.execute(
        """
        UPDATE ride_offers SET status = 'completed', updated_at = now()
         WHERE id = $1 AND status IN ('open', 'full')
        """,
        offer_id,
    )


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
) -> list[asyncpg.Record]:
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
    return await conn.fetch(
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


async def is_driver_for(
    conn: asyncpg.Connection, account_id: UUID, event_id: UUID | None, trip_id: UUID | None
) -> bool:
    """Whether the account drives a live (open or full) offer for the event or trip."""
    found: bool = await conn.fetchval(
        """
        SELECT EXISTS (SELECT 1 FROM ride_offers
                        WHERE driver_id = $1 AND (event_id = $2 OR trip_id = $3)
                          AND status IN ('open', 'full'))
        """,
        account_id,
        event_id,
        trip_id,
    )
    return found


# ---------------------------------------------------------------- bookings

BOOKING_COLUMNS = """
       b.id, b.offer_id, b.org_id, b.rider_id, b.leg, b.seats, b.status, b.ended_by,
       b.created_at, b.updated_at, b.decided_at, b.cancelled_at"""


async def insert_booking(
    conn: asyncpg.Connection,
    offer_id: UUID,
    org_id: UUID,
    rider_id: UUID,
    leg: str,
    seats: int,
    status: str,
) -> asyncpg.Record | None:
    """None when the rider already holds a live booking on this leg of the offer."""
    return await conn.fetchrow(
        f"""
        INSERT INTO ride_bookings AS b (offer_id, org_id, rider_id, leg, seats, status, decided_at)
        VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $6 = 'confirmed' THEN now() END)
        ON CONFLICT (offer_id, rider_id, leg) WHERE status IN ('requested', 'confirmed')
        DO NOTHING
        RETURNING {BOOKING_COLUMNS}
        """,
        offer_id,
        org_id,
        rider_id,
        leg,
        seats,
        status,
    )


async def select_booking(
    conn: asyncpg.Connection, booking_id: UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    lock = "FOR UPDATE" if for_update else ""
    return await conn.fetchrow(
        f"SELECT {BOOKING_COLUMNS} FROM ride_bookings b WHERE b.id = $1 {lock}", booking_id
    )


async def update_booking_status(
    conn: asyncpg.Connection, booking_id: UUID, status: str, ended_by: str | None = None
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""
        UPDATE ride_bookings AS b
           SET status       = $2,
               ended_by     = $3,
               decided_at   = CASE WHEN $2 IN ('confirmed', 'declined') THEN now()
                                   ELSE b.decided_at END,
               cancelled_at = CASE WHEN $2 = 'cancelled' THEN now() ELSE b.cancelled_at END,
               updated_at   = now()
         WHERE b.id = $1
     RETURNING {BOOKING_COLUMNS}
        """,
        booking_id,
        status,
        ended_by,
    )
    assert row is not None
    return row


async def cancel_offer_bookings(conn: asyncpg.Connection, offer_id: UUID) -> list[asyncpg.Record]:
    """Release every live booking of a cancelled offer; the released rows."""
    return await conn.fetch(
        f"""
        UPDATE ride_bookings AS b
           SET status = 'cancelled', ended_by = 'ride', cancelled_at = now(), updated_at = now()
         WHERE b.offer_id = $1 AND b.status IN ('requested', 'confirmed')
     RETURNING {BOOKING_COLUMNS}
        """,
        offer_id,
    )


async def has_live_bookings(conn: asyncpg.Connection, offer_id: UUID, leg: str) -> bool:
    found: bool = await conn.fetchval(
        """
        SELECT EXISTS (SELECT 1 FROM ride_bookings
                        WHERE offer_id = $1 AND leg = $2 AND status IN ('requested', 'confirmed'))
        """,
        offer_id,
        leg,
    )
    return found


async def select_live_riders(conn: asyncpg.Connection, offer_ids: Sequence[UUID]) -> list[UUID]:
    """Riders holding a requested or confirmed booking on any of these offers."""
    rows = await conn.fetch(
        """
        SELECT DISTINCT rider_id FROM ride_bookings
         WHERE offer_id = ANY($1::uuid[]) AND status IN ('requested', 'confirmed')
        """,
        list(offer_ids),
    )
    return [r["rider_id"] for r in rows]


async def select_offer_bookings(
    conn: asyncpg.Connection,
    offer_id: UUID,
    *,
    rider_id: UUID | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """An offer's bookings, oldest first (only `rider_id`'s when given), with the rider's
    display name while a booking is requested or confirmed."""
    return await conn.fetch(
        f"""
        SELECT {BOOKING_COLUMNS},
               CASE WHEN b.status IN ('requested', 'confirmed')
                    THEN (SELECT a.display_name FROM accounts a WHERE a.id = b.rider_id)
               END AS rider_name
          FROM ride_bookings b
         WHERE b.offer_id = $1
           AND ($2::uuid IS NULL OR b.rider_id = $2)
           AND ($3::timestamptz IS NULL OR (b.created_at, b.id) > ($3, $4::uuid))
         ORDER BY b.created_at, b.id
         LIMIT $5
        """,
        offer_id,
        rider_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


# ---------------------------------------------------------------- requests

REQUEST_COLUMNS = """
       r.id, r.event_id, r.trip_id, r.org_id, r.rider_id, r.leg, r.seats, r.area, r.area_lat,
       r.area_lon, r.earliest_at, r.latest_at, r.accessibility, r.status, r.created_at,
       r.updated_at"""


async def insert_request(
    conn: asyncpg.Connection,
    *,
    event_id: UUID | None,
    trip_id: UUID | None,
    org_id: UUID,
    rider_id: UUID,
    values: Mapping[str, Any],
) -> asyncpg.Record | None:
    """None when the rider already has a live request for this leg of the event or trip."""
    return await conn.fetchrow(
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


async def select_request(conn: asyncpg.Connection, request_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {REQUEST_COLUMNS} FROM ride_requests r WHERE r.id = $1", request_id
    )


async def cancel_request(conn: asyncpg.Connection, request_id: UUID) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""
        UPDATE ride_requests AS r SET status = 'cancelled', updated_at = now()
         WHERE r.id = $1
     RETURNING {REQUEST_COLUMNS}
        """,
        request_id,
    )
    assert row is not None
    return row


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
) -> list[asyncpg.Record]:
    """Live (open or matched) requests of the event or trip, earliest window first; only
    `rider_id`'s when given."""
    return await conn.fetch(
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
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def select_matching_requests(
    conn: asyncpg.Connection,
    offer_id: UUID,
    *,
    radius_km: float,
    after: tuple[float, float, UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Open requests that fit the offer: same event or trip, a leg the offer drives whose
    departure falls in the request's window, enough free seats on it, the request's area
    within `radius_km` of the offer's, not the driver's own, and no live booking on that leg
    yet. Nearest first, then the departure closest to the middle of the window."""
    return await conn.fetch(
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
        after[0] if after else None,
        after[1] if after else None,
        after[2] if after else None,
        limit,
    )


# ---------------------------------------------------------------- one person's rides


async def select_driver_offers(
    conn: asyncpg.Connection, account_id: UUID, since: datetime, limit: int
) -> list[asyncpg.Record]:
    """Offers the account drives whose last leg leaves after `since`, soonest first."""
    return await conn.fetch(
        f"""
        SELECT {offer_columns("$1")}
          FROM ride_offers o
         WHERE o.driver_id = $1 AND coalesce(o.return_departs_at, o.departs_at) >= $2
         ORDER BY o.departs_at, o.id
         LIMIT $3
        """,
        account_id,
        since,
        limit,
    )


async def select_rider_bookings(
    conn: asyncpg.Connection, account_id: UUID, since: datetime, limit: int
) -> list[asyncpg.Record]:
    """The account's bookings on legs leaving after `since`, soonest first."""
    return await conn.fetch(
        f"""
        SELECT {BOOKING_COLUMNS}
          FROM ride_bookings b
          JOIN ride_offers o ON o.id = b.offer_id
         CROSS JOIN LATERAL (
               SELECT CASE b.leg WHEN 'outbound' THEN o.departs_at
                                 ELSE o.return_departs_at END AS departs_at) l
         WHERE b.rider_id = $1 AND l.departs_at >= $2
         ORDER BY l.departs_at, b.id
         LIMIT $3
        """,
        account_id,
        since,
        limit,
    )


async def select_offers_by_ids(
    conn: asyncpg.Connection, offer_ids: Sequence[UUID], account_id: UUID
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {offer_columns('$2')} FROM ride_offers o WHERE o.id = ANY($1::uuid[])",
        list(offer_ids),
        account_id,
    )


async def select_rider_requests(
    conn: asyncpg.Connection, account_id: UUID, since: datetime, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
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
