"""Standing of a caller towards a trip and its applications: who sees, organizes, takes part.

Who is who for a trip:
- organizers: organizer/owner of the creating org or of a co-hosting org; they edit the trip;
- organizers with participant access: those of the creating org, and of co-hosts it granted
  `can_see_attendees`; only they see applications, participant data, checklists and rosters;
- accepted participants: the exact meeting point and places (per `location_policy`), the
  participant-only itinerary items, announcements, and their own checklist.

Drafts are seen by organizers only; members-only trips by members of a hosting org. Whoever may
not see a trip gets a 404; whoever sees it but lacks the role gets a 403. An application is
known only to its applicant and the organizers with participant access: everyone else gets a
404 for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

import asyncpg

from api.errors import Conflict, Forbidden, NotFound
from api.services import access
from db.queries import trip_applications, trips

NOT_VISIBLE = "No trip has this id, or it is not visible to you."
#: statuses after which nothing about the trip changes any more
FINAL = ("cancelled", "completed")
#: a trip, item or application row (from db.queries) or a mapping shaped like one
Row = asyncpg.Record | Mapping[str, Any]


async def visible_trip(
    conn: asyncpg.Connection, trip_id: UUID, account_id: UUID | None, *, for_update: bool = False
) -> asyncpg.Record:
    """The trip row with the caller's standing; 404 when the caller may not see it."""
    row = await trips.select_trip(conn, trip_id, account_id, for_update=for_update)
    if row is None or not access.can_view(row):
        raise NotFound(NOT_VISIBLE)
    return row


async def require_trip_organizer(
    conn: asyncpg.Connection,
    trip_id: UUID,
    account_id: UUID | None,
    *,
    participant_access: bool = False,
    for_update: bool = False,
) -> asyncpg.Record:
    """The trip row if the caller organizes it (with participant access when asked).

    Anonymous → 401; a trip the caller may not see → 404; seen but no role → 403.
    `for_update` locks the trip row for the rest of the transaction.
    """
    caller = access.require_login(account_id)
    row = await visible_trip(conn, trip_id, caller, for_update=for_update)
    await access.require_organizer(conn, "trip", row, caller, attendee_access=participant_access)
    return row


async def require_participant_or_organizer(
    conn: asyncpg.Connection, trip_id: UUID, account_id: UUID | None, what: str
) -> asyncpg.Record:
    """The trip row if the caller is an accepted participant or organizes it."""
    access.require_login(account_id)
    row = await visible_trip(conn, trip_id, account_id)
    if not (access.is_confirmed(row) or access.is_organizer(row)):
        raise Forbidden(f"{what} are for accepted participants and the trip's organizers.")
    return row


def require_not_final(row: Row) -> None:
    if row["status"] in FINAL:
        raise Conflict(f"This trip is {row['status']}; it cannot change any more.")


APPLICATION_NOT_VISIBLE = "No trip application has this id, or it is not visible to you."


async def lock_application(
    conn: asyncpg.Connection, application_id: UUID, account_id: UUID
) -> tuple[asyncpg.Record, asyncpg.Record]:
    """The trip (locked first) and the application (locked); 404 for strangers."""
    trip_id = await trip_applications.select_trip_id_of(conn, application_id)
    if trip_id is None:
        raise NotFound(APPLICATION_NOT_VISIBLE)
    trip = await trips.select_trip(conn, trip_id, account_id, for_update=True)
    record = await trip_applications.select_application(conn, application_id, for_update=True)
    if trip is None or record is None:
        raise NotFound(APPLICATION_NOT_VISIBLE)
    return trip, record


async def readable_application(
    conn: asyncpg.Connection, application_id: UUID, account_id: UUID
) -> tuple[asyncpg.Record, asyncpg.Record]:
    """The trip and the application, for its applicant or organizers with participant access."""
    record = await trip_applications.select_application(conn, application_id)
    if record is None:
        raise NotFound(APPLICATION_NOT_VISIBLE)
    trip = await trips.select_trip(conn, record["trip_id"], account_id)
    assert trip is not None
    check_application_party(trip, record, account_id)
    return trip, record


def check_application_party(trip: Row, record: Row, account_id: UUID) -> None:
    """The applicant and organizers with participant access pass; a co-host organizer without
    that access gets a 403; everyone else a 404 (they may not know the application exists)."""
    if record["account_id"] == account_id or access.sees_attendees(trip):
        return
    if access.is_organizer(trip):
        raise Forbidden(
            "Only organizers of the creating organization, or of a co-host it granted attendee "
            "access, see applications."
        )
    raise NotFound(APPLICATION_NOT_VISIBLE)
