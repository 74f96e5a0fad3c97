"""What drivers and riders are told of a ride, and the thin change record partners receive."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg

from api.services.ride_seats import seats_free
from db.queries import outbox
from db.queries import ride_offers as offer_queries
from db.queries.notifications import insert_ride_notifications
from db.queries.ride_offers import OfferSummary


def _payload(offer: OfferSummary, **extra: Any) -> dict[str, Any]:
    """A notification payload: ids, time and area; never a pickup point or anyone's contact."""
    return {
        "offer_id": str(offer.id),
        "event_id": str(offer.event_id) if offer.event_id else None,
        "trip_id": str(offer.trip_id) if offer.trip_id else None,
        "departs_at": offer.departs_at,
        "area": offer.area,
        **extra,
    }


async def notify(
    conn: asyncpg.Connection,
    offer: OfferSummary,
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
            event_id=offer.event_id,
            trip_id=offer.trip_id,
        )


async def record_offer_change(conn: asyncpg.Connection, offer_id: UUID, topic: str) -> None:
    """A thin change record: ids, status and free seats."""
    row = await offer_queries.select_offer(conn, offer_id, None)
    assert row is not None
    await outbox.insert_outbox_entry(
        conn,
        row.org_id,
        topic,
        offer_id,
        {
            "offer_id": str(offer_id),
            "event_id": str(row.event_id) if row.event_id else None,
            "trip_id": str(row.trip_id) if row.trip_id else None,
            "status": row.status,
            "seats_free": seats_free(row, "outbound"),
            "return_seats_free": seats_free(row, "return"),
        },
    )
