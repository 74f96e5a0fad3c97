"""What happens to rides when their event or trip is cancelled or its times change."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from api.services.ride_notices import notify, record_offer_change
from api.services.ride_offers import cancel_locked_offer
from db.queries import ride_bookings as booking_queries
from db.queries import ride_offers as offer_queries
from db.queries import ride_requests as request_queries


async def _cancel_parent_rides(
    conn: asyncpg.Connection, *, event_id: UUID | None, trip_id: UUID | None, reason: str
) -> int:
    offers = await offer_queries.lock_live_offers(conn, event_id=event_id, trip_id=trip_id)
    for offer in offers:
        await cancel_locked_offer(conn, offer, reason)
    await request_queries.cancel_parent_requests(conn, event_id=event_id, trip_id=trip_id)
    return len(offers)


async def _flag_parent_rides(
    conn: asyncpg.Connection, *, event_id: UUID | None, trip_id: UUID | None
) -> int:
    offers = await offer_queries.lock_live_offers(conn, event_id=event_id, trip_id=trip_id)
    if not offers:
        return 0
    await offer_queries.flag_offers(conn, [o.id for o in offers])
    for offer in offers:
        riders = await booking_queries.select_live_riders(conn, [offer.id])
        await notify(conn, offer, [offer.driver_id, *riders], "ride.event_changed")
        await record_offer_change(conn, offer.id, "ride.offer_updated")
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
