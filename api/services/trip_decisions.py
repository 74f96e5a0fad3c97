"""Organizers' decisions and applicants' withdrawals: places taken and freed exactly.

Every decision and every withdrawal locks the trip row first, then the application, so the
changes to one trip run one after another: places are exact (the conditional UPDATE in
db.queries.trips.add_places is the backstop), and a freed place goes to the head of the
waitlist in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import asyncpg

from api.errors import Conflict, Forbidden
from api.services.access import sees_attendees
from api.services.trip_access import (
    FINAL,
    check_application_party,
    lock_application,
)
from api.services.trip_applications import application_view, application_with_position
from api.services.trips import outbox
from db.queries import trip_applications, trips
from db.queries.notifications import insert_trip_application_notification
from schemas.trip_applications import Application

#: which statuses each organizer decision may start from
DECISIONS: dict[str, tuple[str, ...]] = {
    "accepted": ("applied", "waitlisted"),
    "waitlisted": ("applied",),
    "declined": ("applied", "waitlisted"),
}

_NOTICE_KIND = {
    "accepted": "trip.application_accepted",
    "waitlisted": "trip.application_waitlisted",
    "declined": "trip.application_declined",
}


async def decide(
    conn: asyncpg.Connection,
    application_id: UUID,
    account_id: UUID,
    to_status: str,
    roles: Sequence[str] | None = None,
) -> Application:
    """An organizer accepts, waitlists or declines. Accepting takes a place, refused (409)
    when none is left; the trip turns full with the last one. The applicant is notified."""
    trip, record = await lock_application(conn, application_id, account_id)
    check_application_party(trip, record, account_id)
    if not sees_attendees(trip):  # the applicant themself
        raise Forbidden("Only the trip's organizers decide on applications.")
    if trip["status"] in FINAL:
        raise Conflict(f"This trip is {trip['status']}; applications cannot change any more.")
    current = record["status"]
    if current == to_status:
        raise Conflict(f"This application is already {current}.")
    if current not in DECISIONS[to_status]:
        raise Conflict(
            f"An application that is {current} cannot become {to_status} "
            f"(only from {' or '.join(DECISIONS[to_status])})."
        )
    counts = None
    if to_status == "accepted":
        counts = await trips.add_places(conn, trip["id"], 1)
        if counts is None:
            raise Conflict(
                f"The trip is full: all {trip['capacity']} places are taken. Waitlist the "
                "application, or raise the capacity first."
            )
    changed = await trip_applications.update_status(
        conn, application_id, to_status, account_id, list(dict.fromkeys(roles)) if roles else None
    )
    await insert_trip_application_notification(
        conn,
        application_id,
        _NOTICE_KIND[to_status],
        {"trip_id": str(trip["id"]), "application_id": str(application_id), "status": to_status},
    )
    if counts is not None:
        await outbox(conn, {**dict(trip), **dict(counts)}, "trip.places_changed")
    return await application_with_position(conn, changed)


async def withdraw(conn: asyncpg.Connection, application_id: UUID, account_id: UUID) -> Application:
    """The applicant withdraws. An accepted place is freed and, when the trip promotes from
    its waitlist, goes to the oldest waitlisted application in the same transaction."""
    trip, record = await lock_application(conn, application_id, account_id)
    check_application_party(trip, record, account_id)
    if record["account_id"] != account_id:
        raise Forbidden("Only the applicant withdraws an application; organizers decline it.")
    current = record["status"]
    if current not in ("applied", "accepted", "waitlisted"):
        raise Conflict(f"This application is {current}; there is nothing to withdraw.")
    changed = await trip_applications.update_status(conn, application_id, "withdrawn", None)
    if current == "accepted":
        counts = await trips.add_places(conn, trip["id"], -1)
        assert counts is not None
        if trip["promote_from_waitlist"] and trip["status"] not in FINAL:
            await fill_from_waitlist(conn, trip["id"], None)
        after = await trips.select_trip(conn, trip["id"], account_id)
        assert after is not None
        await outbox(conn, after, "trip.places_changed")
    return application_view(changed)


async def fill_from_waitlist(
    conn: asyncpg.Connection, trip_id: UUID, decided_by: UUID | None
) -> list[UUID]:
    """Accept the oldest waitlisted applications while places are free; the promoted ids.

    Call it with the trip row locked, in the transaction that freed the places (a withdrawal,
    a raised capacity). Each promoted applicant gets a "trip.application_promoted" notice.
    """
    promoted: list[UUID] = []
    while True:
        head = await trip_applications.next_waitlisted(conn, trip_id)
        if head is None:
            break
        if await trips.add_places(conn, trip_id, 1) is None:
            break
        await trip_applications.update_status(conn, head["id"], "accepted", decided_by)
        await insert_trip_application_notification(
            conn,
            head["id"],
            "trip.application_promoted",
            {"trip_id": str(trip_id), "application_id": str(head["id"]), "status": "accepted"},
        )
        promoted.append(head["id"])
    return promoted
