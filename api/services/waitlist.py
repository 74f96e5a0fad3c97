"""Place pools and the waitlist: locking a pool, moving its counters, promoting in arrival order.

An event's own RSVPs share the event's places; each shift has its own pool. Everything that
changes places locks the event row first and then the shift row, inside the caller's
transaction, so changes to one event are serialized and the counters stay exact.

Promotion is strictly first come, first served: the oldest waitlisted RSVP (by `arrival`) is
admitted as a whole group (1 + guests) when it fits; if it does not, nobody behind it is
admitted either, even a smaller group that would fit (no skipping the line). The one
exception is a group larger than the pool's whole capacity (possible only after the capacity
was lowered): it could never be admitted, so it holds nobody up. Counts say the same:
`spots_left` is 0 while anyone admissible waits (api/services/counts.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import asyncpg

from db.queries import notifications, outbox, rsvps


@dataclass(frozen=True)
class Pool:
    """A locked pool of places: the event, and the shift when the pool is a shift's."""

    event: asyncpg.Record
    shift: asyncpg.Record | None

    @property
    def shift_id(self) -> UUID | None:
        return self.shift["id"] if self.shift is not None else None

    @property
    def capacity(self) -> int | None:
        return (self.shift or self.event)["capacity"]  # type: ignore[no-any-return]

    @property
    def places_taken(self) -> int:
        return (self.shift or self.event)["places_taken"]  # type: ignore[no-any-return]

    @property
    def free(self) -> int | None:
        """Places still free; None when the pool is unlimited."""
        if self.capacity is None:
            return None
        return max(self.capacity - self.places_taken, 0)


async def lock_pool(
    conn: asyncpg.Connection, event_id: UUID, shift_id: UUID | None = None
) -> Pool | None:
    """Lock the event, then the shift; None when either does not exist (or the shift is
    another event's)."""
    event = await rsvps.lock_event(conn, event_id)
    if event is None:
        return None
    if shift_id is None:
        return Pool(event, None)
    shift = await rsvps.lock_shift(conn, event_id, shift_id)
    return Pool(event, shift) if shift is not None else None


async def move_places(
    conn: asyncpg.Connection,
    event_id: UUID,
    shift_id: UUID | None,
    taken: int,
    waitlisted: int,
) -> asyncpg.Record:
    """Change the pool's counters; partners learn the new counts (change_seq + outbox row)."""
    counts = await rsvps.add_places(conn, event_id, shift_id, taken, waitlisted)
    await outbox.insert_outbox_entry(
        conn,
        counts["org_id"],
        "rsvp.counts_changed",
        event_id,
        {
            "event_id": str(event_id),
            "shift_id": str(shift_id) if shift_id else None,
            "going": counts["going"],
            "waitlisted": counts["waitlisted"],
        },
    )
    return counts


async def promote_locked(conn: asyncpg.Connection, pool: Pool) -> list[UUID]:
    """Promote from a pool the caller has locked (and whose counters it reflects)."""
    if pool.event["status"] == "cancelled":
        return []
    free = pool.free
    if free == 0:
        return []
    promoted = await rsvps.promote_queue(conn, pool.event["id"], pool.shift_id, free, pool.capacity)
    if not promoted:
        return []
    places = sum(r["places"] for r in promoted)
    await move_places(conn, pool.event["id"], pool.shift_id, places, -places)
    ids = [r["id"] for r in promoted]
    await notifications.insert_rsvps_notifications(
        conn,
        ids,
        "rsvp.promoted",
        {
            "event_id": str(pool.event["id"]),
            "shift_id": str(pool.shift_id) if pool.shift_id else None,
            "status": "going",
        },
    )
    return ids


async def promote_waitlist(
    conn: asyncpg.Connection, event_id: UUID, shift_id: UUID | None = None
) -> int:
    """Admit the oldest waitlisted RSVPs of the event (or shift) while they fit; how many.

    Call it in the transaction that freed places (a cancellation, fewer guests, a raised
    capacity) after the counters or capacity were written. Each promoted person gets an
    "rsvp.promoted" notification.
    """
    pool = await lock_pool(conn, event_id, shift_id)
    if pool is None:
        return 0
    return len(await promote_locked(conn, pool))
