"""A trip's status: open, close, cancel, complete (the transitions and who is told)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from api.errors import Conflict
from api.services.lifecycle import refusing, transition
from api.services.ride_cascade import cancel_rides_for_trip
from api.services.trip_access import FINAL
from api.services.trips import TRIPS, deadline, notice, trip_view
from db.queries.notifications import insert_trip_notifications
from schemas.trips import Trip


def _to_open(row: asyncpg.Record) -> str:
    status = row["status"]
    if status in FINAL:
        raise Conflict(f"This trip is {status}; it cannot be opened again.")
    if status in ("open", "full"):
        raise Conflict(f"This trip is already {status}.")
    if datetime.now(UTC) >= deadline(row):
        raise Conflict(
            "The application deadline (or, without one, the start) has passed; set a later "
            "application_deadline first."
        )
    return "full" if row["places_taken"] >= row["capacity"] else "open"


_TO_CLOSED = refusing(
    "closed",
    {
        status: f"Only an open or full trip can be closed; this one is {status}."
        for status in ("draft", "closed", *FINAL)
    },
)
_TO_CANCELLED = refusing(
    "cancelled", {status: f"This trip is {status}; it cannot be cancelled." for status in FINAL}
)


def _to_completed(row: asyncpg.Record) -> str:
    status = row["status"]
    if status not in ("open", "full", "closed"):
        raise Conflict(f"Only an open, full or closed trip can be completed; this one is {status}.")
    if datetime.now(UTC) < row["starts_at"]:
        raise Conflict("This trip has not started yet; it can be completed once it has.")
    return "completed"


async def _tell_cancelled(conn: asyncpg.Connection, after: asyncpg.Record) -> None:
    await insert_trip_notifications(
        conn,
        after["id"],
        "trip.cancelled",
        notice(after, reason=after["cancel_reason"]),
        ("applied", "accepted", "waitlisted"),
    )


async def _cancel_rides(conn: asyncpg.Connection, after: asyncpg.Record) -> None:
    await cancel_rides_for_trip(conn, after["id"])


async def open_trip(
    conn: asyncpg.Connection,
    public_url: str | None,
    trip_id: UUID,
    account_id: UUID | None,
    languages: Sequence[str],
) -> Trip:
    """draft or closed → open (full when every place is already taken)."""
    after = await transition(TRIPS, conn, trip_id, account_id, _to_open, topic="trip.updated")
    return trip_view(after, languages, public_url=public_url)


async def close_trip(
    conn: asyncpg.Connection,
    public_url: str | None,
    trip_id: UUID,
    account_id: UUID | None,
    languages: Sequence[str],
) -> Trip:
    """open or full → closed: no new applications; decisions on existing ones go on."""
    after = await transition(TRIPS, conn, trip_id, account_id, _TO_CLOSED, topic="trip.updated")
    return trip_view(after, languages, public_url=public_url)


async def cancel_trip(
    conn: asyncpg.Connection,
    public_url: str | None,
    trip_id: UUID,
    account_id: UUID | None,
    reason: str,
    languages: Sequence[str],
) -> Trip:
    """Any status but completed → cancelled (final); every live applicant is told why."""
    after = await transition(
        TRIPS,
        conn,
        trip_id,
        account_id,
        _TO_CANCELLED,
        topic="trip.cancelled",
        reason=reason.strip(),
        notify=_tell_cancelled,
        then=_cancel_rides,
    )
    return trip_view(after, languages, public_url=public_url)


async def complete_trip(
    conn: asyncpg.Connection,
    public_url: str | None,
    trip_id: UUID,
    account_id: UUID | None,
    languages: Sequence[str],
) -> Trip:
    """open, full or closed → completed, once the trip has started."""
    after = await transition(TRIPS, conn, trip_id, account_id, _to_completed, topic="trip.updated")
    return trip_view(after, languages, public_url=public_url)
