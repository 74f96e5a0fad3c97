"""Exact pickups: snapped to a public area, sealed with the offer's key, shown to few, purged.

The exact pickup point and the driver's shared contact channel are sealed with the offer's
own data key and shown only to the driver and riders with a confirmed booking; everyone else
sees the departure area (a label and a point on a ~2 km grid). Once the ride is over both are
purged and the key destroyed, so backups cannot be opened either.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from api.crypto import Keyring
from api.services import encryption
from api.services.locations import snap
from db.queries import audit, data_keys
from db.queries import ride_offers as offer_queries
from db.queries import ride_pickups as pickup_queries
from db.queries.ride_offers import OfferRow
from schemas.rides import PickupPoint, RidePickup

#: departure areas snap to this grid (degrees; ≈ 2.2 km of latitude, less of longitude)
RIDE_GRID_DEGREES = 0.02


def area_point(lat: float, lon: float) -> tuple[float, float]:
    """Snap a point to the ~2 km grid: what anyone may know of a departure area."""
    return snap(lat, lon, RIDE_GRID_DEGREES)


SCOPE = "ride_offer"
PICKUP_CLASS = "ride_pickup"
#: pickups are purged this long after the ride's last leg left
PICKUP_RETENTION_HOURS = 24


async def seal_pickup(
    conn: asyncpg.Connection, keyring: Keyring, offer_id: UUID, pickup: PickupPoint
) -> bytes | None:
    """The exact pickup point, sealed with the offer's own data key."""
    return await encryption.seal(
        conn, keyring, SCOPE, offer_id, PICKUP_CLASS, msgspec.json.encode(pickup).decode()
    )


async def seal_contact(
    conn: asyncpg.Connection, keyring: Keyring, offer_id: UUID, contact: str | None
) -> bytes | None:
    """The driver's shared contact channel, sealed with the offer's own data key."""
    return await encryption.seal(conn, keyring, SCOPE, offer_id, PICKUP_CLASS, contact)


async def forget_pickup(conn: asyncpg.Connection, offer_id: UUID) -> None:
    """Null the sealed pickup and contact and destroy the offer's data key with them."""
    await pickup_queries.purge_offer_pickup(conn, offer_id)
    await data_keys.destroy_data_key(conn, SCOPE, offer_id, PICKUP_CLASS)


async def open_pickup(
    conn: asyncpg.Connection, keyring: Keyring, offer: OfferRow
) -> RidePickup | None:
    sealed = await encryption.open_sealed(
        conn, keyring, SCOPE, offer.id, PICKUP_CLASS, offer.pickup_ciphertext
    )
    if sealed is None:
        return None
    point = msgspec.json.decode(sealed, type=PickupPoint)
    contact = await encryption.open_sealed(
        conn, keyring, SCOPE, offer.id, PICKUP_CLASS, offer.contact_ciphertext
    )
    return RidePickup(
        address=point.address, lat=point.lat, lon=point.lon, details=point.details, contact=contact
    )


def may_see_pickup(offer: OfferRow, account_id: UUID | None) -> bool:
    """The driver, and riders holding a confirmed booking (`is_confirmed_rider` of the row)."""
    if account_id is None or offer.status == "cancelled":
        return False
    return offer.driver_id == account_id or bool(offer.is_confirmed_rider)


async def purge_ride_pickups(
    conn: asyncpg.Connection,
    *,
    now: datetime | None = None,
    hours: int = PICKUP_RETENTION_HOURS,
    org_id: UUID | None = None,
) -> list[dict[str, Any]]:
    """Purge exact pickups and contacts of rides whose last leg left `hours` ago or more: null
    the ciphertext, record `pickup_purged_at` and an audit row, destroy the offer's data key
    (so backups cannot be opened either), and mark open or full rides completed.

    Run it inside a transaction; rows another worker is purging are skipped. With `org_id`,
    only that org's rides (an org with a shorter window). Returns what was purged: offer,
    event and trip ids.
    """
    if hours < 0 or not math.isfinite(hours):
        raise ValueError("hours must be a finite number >= 0")
    cutoff = (now or datetime.now(UTC)) - timedelta(hours=hours)
    purged: list[dict[str, Any]] = []
    for row in await pickup_queries.select_offers_to_purge(conn, cutoff):
        if org_id is not None and row["org_id"] != org_id:
            continue
        await forget_pickup(conn, row["id"])
        await offer_queries.complete_offer(conn, row["id"])
        await audit.insert_audit_entry(
            conn, row["org_id"], None, "ride.pickup_purged", "ride_offer", row["id"]
        )
        purged.append(
            {"offer_id": row["id"], "event_id": row["event_id"], "trip_id": row["trip_id"]}
        )
    return purged
