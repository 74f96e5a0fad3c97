"""SQL for seat accounting: seats move only through one conditional UPDATE per leg.

A CHECK on the counters stands behind it; callers hold the offer row lock (see ride_offers).
"""

from __future__ import annotations

from uuid import UUID

import asyncpg

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
