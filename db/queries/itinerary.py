"""SQL for itinerary items: ordered steps of a trip, each with its own calendar sequence."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

import asyncpg

WRITABLE_COLUMNS = (
    "kind",
    "title",
    "notes",
    "starts_at",
    "ends_at",
    "place_name",
    "place_address",
    "place_lat",
    "place_lon",
    "area",
    "public_lat",
    "public_lon",
    "visibility",
)

ITEM_COLUMNS = """
       i.id, i.trip_id, i.position, i.kind, i.title, i.notes, i.starts_at, i.ends_at,
       i.place_name, i.place_address, i.place_lat, i.place_lon, i.area, i.public_lat,
       i.public_lon, i.visibility, i.sequence, i.created_at, i.updated_at"""

# Which items a caller sees, from this fixed mapping: all, or only those for everyone.
_VISIBLE = {
    True: "true",
    False: "i.visibility = 'everyone'",
}


async def insert_item(
    conn: asyncpg.Connection, trip_id: UUID, values: Mapping[str, Any]
) -> asyncpg.Record:
    """Append an item (the caller holds the trip row lock, so positions do not collide)."""
    columns = ", ".join(WRITABLE_COLUMNS)
    params = ", ".join(f"${i}" for i in range(2, 2 + len(WRITABLE_COLUMNS)))
    row = await conn.fetchrow(
        f"""
        INSERT INTO itinerary_items AS i (trip_id, position, {columns})
        VALUES ($1,
                (SELECT coalesce(max(position), 0) + 1 FROM itinerary_items WHERE trip_id = $1),
                {params})
        RETURNING {ITEM_COLUMNS}
        """,
        trip_id,
        *(values[c] for c in WRITABLE_COLUMNS),
    )
    assert row is not None
    return row


async def select_items(
    conn: asyncpg.Connection, trip_id: UUID, *, include_participant_only: bool
) -> list[asyncpg.Record]:
    """The trip's items in order; participant-only ones only when asked for."""
    return await conn.fetch(
        f"""
        SELECT {ITEM_COLUMNS}
          FROM itinerary_items i
         WHERE i.trip_id = $1
           AND {_VISIBLE[include_participant_only]}
         ORDER BY i.position
        """,
        trip_id,
    )


async def select_item(
    conn: asyncpg.Connection, trip_id: UUID, item_id: UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {ITEM_COLUMNS} FROM itinerary_items i WHERE i.id = $1 AND i.trip_id = $2",
        item_id,
        trip_id,
    )


async def select_item_ids(conn: asyncpg.Connection, trip_id: UUID) -> list[UUID]:
    rows = await conn.fetch(
        "SELECT id FROM itinerary_items WHERE trip_id = $1 ORDER BY position", trip_id
    )
    return [r["id"] for r in rows]


async def count_items(conn: asyncpg.Connection, trip_id: UUID) -> int:
    count = await conn.fetchval("SELECT count(*) FROM itinerary_items WHERE trip_id = $1", trip_id)
    return int(count)


_UPDATE_SET = ",\n               ".join(
    f"{c} = ${i}" for i, c in enumerate(WRITABLE_COLUMNS, start=3)
)


async def update_item(
    conn: asyncpg.Connection, trip_id: UUID, item_id: UUID, values: Mapping[str, Any]
) -> asyncpg.Record:
    """Write every editable column and bump the item's sequence."""
    row = await conn.fetchrow(
        f"""
        UPDATE itinerary_items AS i
           SET {_UPDATE_SET},
               sequence   = sequence + 1,
               updated_at = now()
         WHERE i.id = $1 AND i.trip_id = $2
     RETURNING {ITEM_COLUMNS}
        """,
        item_id,
        trip_id,
        *(values[c] for c in WRITABLE_COLUMNS),
    )
    assert row is not None
    return row


async def delete_item(conn: asyncpg.Connection, trip_id: UUID, item_id: UUID) -> bool:
    """Delete an item and close the gap it leaves in the positions."""
    position = await conn.fetchval(
        "DELETE FROM itinerary_items WHERE id = $1 AND trip_id = $2 RETURNING position",
        item_id,
        trip_id,
    )
    if position is None:
        return False
    await conn.execute(
        """
        UPDATE itinerary_items
           SET position = position - 1, sequence = sequence + 1, updated_at = now()
         WHERE trip_id = $1 AND position > $2
        """,
        trip_id,
        position,
    )
    return True


async def reorder_items(conn: asyncpg.Connection, trip_id: UUID, item_ids: list[UUID]) -> int:
    """Give the items positions 1..n in the order of `item_ids` (all of the trip's items, each
    once); the items that moved get a new sequence. Returns how many moved."""
    status = await conn.execute(
        """
        UPDATE itinerary_items AS i
           SET position   = o.ord,
               sequence   = i.sequence + 1,
               updated_at = now()
          FROM unnest($2::uuid[]) WITH ORDINALITY AS o (id, ord)
         WHERE i.id = o.id AND i.trip_id = $1 AND i.position <> o.ord
        """,
        trip_id,
        item_ids,
    )
    return int(status.split()[-1])


async def select_items_outside(
    conn: asyncpg.Connection, trip_id: UUID, starts_at: Any, ends_at: Any
) -> list[UUID]:
    """Items that would fall outside new trip dates."""
    rows = await conn.fetch(
        """
        SELECT id FROM itinerary_items
         WHERE trip_id = $1 AND (starts_at < $2 OR ends_at > $3)
         ORDER BY position
        """,
        trip_id,
        starts_at,
        ends_at,
    )
    return [r["id"] for r in rows]


async def select_account_itineraries(
    conn: asyncpg.Connection, account_id: UUID
) -> list[asyncpg.Record]:
    """For a personal feed: every item of every trip the account is an accepted participant
    of (not drafts), with the trip's title, timezone, status, location policy and reveal_at,
    in trip then item order. Accepted participants see every item; the exact places once the
    trip's policy allows (api.services.itinerary.item_view with the row as both arguments).
    """
    return await conn.fetch(
        f"""
        SELECT {ITEM_COLUMNS},
               t.title AS trip_title, t.timezone AS trip_timezone, t.status AS trip_status,
               t.sequence AS trip_sequence, t.languages AS trip_languages,
               t.location_policy, t.reveal_at
          FROM trip_applications a
          JOIN trips t ON t.id = a.trip_id
          JOIN itinerary_items i ON i.trip_id = t.id
         WHERE a.account_id = $1
           AND a.status = 'accepted'
           AND t.status <> 'draft'
         ORDER BY t.starts_at, t.id, i.position
        """,
        account_id,
    )
