"""SQL for forgetting exact pickups: null the sealed pickup and contact once a ride is over."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg


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
