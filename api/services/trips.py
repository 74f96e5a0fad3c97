"""Trips: the Trip view with its protected meeting point, change records, and the lifecycle.

The lifecycle is open, close, cancel and complete; change notices and outbox records go with it.

Who may see and change a trip is in api/services/trip_access.py; its fields and their rules in
api/services/trip_editing.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID

import asyncpg

from api.errors import Conflict
from api.services import events
from api.services.ride_cascade import cancel_rides_for_trip
from api.services.trip_access import (
    FINAL,
    Row,
    is_accepted,
    is_trip_organizer,
    require_trip_organizer,
)
from api.texts import choose_language, pick
from db.queries import trips
from db.queries.notifications import insert_trip_notifications
from db.queries.outbox import insert_outbox_entry
from schemas.events import Location
from schemas.feeds import feed_links
from schemas.trips import Cost, MyApplicationRef, Trip, TripDisplay, TripLinks


def _now(now: datetime | None = None) -> datetime:
    return now or datetime.now(UTC)


def meeting_point(row: Row) -> dict[str, Any]:
    """The trip row in the shape events.location_for reads (the meeting point as the venue)."""
    return {
        "location_policy": row["location_policy"],
        "reveal_at": row["reveal_at"],
        "area": row["area"],
        "venue_name": row["meeting_name"],
        "venue_address": row["meeting_address"],
        "venue_lat": row["meeting_lat"],
        "venue_lon": row["meeting_lon"],
        "public_lat": row["public_lat"],
        "public_lon": row["public_lon"],
        "virtual_url": None,
    }


def sees_exact_places(row: Row, now: datetime | None = None) -> bool:
    """Whether the caller sees the exact meeting point and itinerary places."""
    return events.may_see_exact_location(
        cast(asyncpg.Record, row),
        organizer=is_trip_organizer(row),
        confirmed=is_accepted(row),
        now=now,
    )


def trip_location(row: Row) -> Location:
    # location_for only reads keys: the meeting point in the shape of an event row
    return events.location_for(
        cast(asyncpg.Record, meeting_point(row)), exact_allowed=sees_exact_places(row)
    )


def deadline(row: Row) -> datetime:
    """When applications stop: the application deadline, else the trip's start."""
    return row["application_deadline"] or row["starts_at"]  # type: ignore[no-any-return]


def accepting_applications(row: Row, now: datetime | None = None) -> bool:
    return row["status"] in ("open", "full") and _now(now) < deadline(row)


def cost_of(row: Row) -> Cost:
    amount = row["cost_amount"]
    return Cost(
        amount=None if amount is None else f"{amount:.2f}",
        currency=row["cost_currency"],
        scholarships_available=row["scholarships_available"],
        notes=row["cost_notes"],
    )


def trip_language(row: Row, languages: Sequence[str]) -> str:
    title = row["title"]
    available = list(row["languages"]) or list(title)
    return choose_language(available, languages) or next(iter(title), "und")


def trip_view(row: Row, languages: Sequence[str]) -> Trip:
    """The Trip JSON for a row from db.queries.trips (which carries the caller's standing)."""
    lang = trip_language(row, languages)
    mine = (
        MyApplicationRef(id=row["my_application_id"], status=row["my_application_status"])
        if row["my_application_id"]
        else None
    )
    return Trip(
        id=row["id"],
        org=row["org_slug"],
        cohosts=list(row["cohost_slugs"]),
        title=row["title"],
        summary=row["summary"],
        description=row["description"],
        languages=list(row["languages"]),
        display=TripDisplay(
            lang=lang,
            title=pick(row["title"], lang),
            summary=pick(row["summary"], lang),
            description=pick(row["description"], lang),
            requirements=[pick(r, lang) for r in row["requirements"]],
            cost_notes=pick(row["cost_notes"], lang),
        ),
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        timezone=row["timezone"],
        location=trip_location(row),
        location_policy=row["location_policy"],
        reveal_at=row["reveal_at"],
        visibility=row["visibility"],
        status=row["status"],
        cancel_reason=row["cancel_reason"],
        capacity=row["capacity"],
        places_taken=row["places_taken"],
        spots_left=max(row["capacity"] - row["places_taken"], 0),
        application_deadline=row["application_deadline"],
        accepting_applications=accepting_applications(row),
        cost=cost_of(row),
        requirements=list(row["requirements"]),
        promote_from_waitlist=row["promote_from_waitlist"],
        my_application=mine,
        sequence=row["sequence"],
        change_seq=row["change_seq"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        links=TripLinks(
            self=f"/v1/trips/{row['id']}",
            org=f"/v1/orgs/{row['org_slug']}",
            itinerary=f"/v1/trips/{row['id']}/itinerary",
            applications=f"/v1/trips/{row['id']}/applications",
        ),
        feeds=feed_links(f"/v1/trips/{row['id']}/calendar.ics")
        if row["visibility"] == "public" and row["status"] != "draft"
        else None,
    )


def notice(row: Row, **extra: Any) -> dict[str, Any]:
    """A notification payload: what changed, never where exactly (the inbox is not the place)."""
    return {
        "trip_id": str(row["id"]),
        "title": row["title"],
        "starts_at": row["starts_at"],
        "ends_at": row["ends_at"],
        "area": row["area"],
        "sequence": row["sequence"],
        **extra,
    }


async def outbox(conn: asyncpg.Connection, row: Row, topic: str) -> None:
    """A thin change record: ids, sequence, status and place counts; never people."""
    await insert_outbox_entry(
        conn,
        row["org_id"],
        topic,
        row["id"],
        {
            "id": str(row["id"]),
            "sequence": row["sequence"],
            "status": row["status"],
            "capacity": row["capacity"],
            "places_taken": row["places_taken"],
        },
    )


async def reload(
    conn: asyncpg.Connection, trip_id: UUID, account_id: UUID | None
) -> asyncpg.Record:
    row = await trips.select_trip(conn, trip_id, account_id)
    assert row is not None
    return row


async def open_trip(
    conn: asyncpg.Connection, trip_id: UUID, account_id: UUID | None, languages: Sequence[str]
) -> Trip:
    """draft or closed → open (full when every place is already taken)."""
    row = await require_trip_organizer(conn, trip_id, account_id, for_update=True)
    status = row["status"]
    if status in FINAL:
        raise Conflict(f"This trip is {status}; it cannot be opened again.")
    if status in ("open", "full"):
        raise Conflict(f"This trip is already {status}.")
    if _now() >= deadline(row):
        raise Conflict(
            "The application deadline (or, without one, the start) has passed; set a later "
            "application_deadline first."
        )
    new_status = "full" if row["places_taken"] >= row["capacity"] else "open"
    await trips.update_trip_status(conn, trip_id, new_status)
    after = await reload(conn, trip_id, account_id)
    await outbox(conn, after, "trip.updated")
    return trip_view(after, languages)


async def close_trip(
    conn: asyncpg.Connection, trip_id: UUID, account_id: UUID | None, languages: Sequence[str]
) -> Trip:
    """open or full → closed: no new applications; decisions on existing ones go on."""
    row = await require_trip_organizer(conn, trip_id, account_id, for_update=True)
    status = row["status"]
    if status not in ("open", "full"):
        raise Conflict(f"Only an open or full trip can be closed; this one is {status}.")
    await trips.update_trip_status(conn, trip_id, "closed")
    after = await reload(conn, trip_id, account_id)
    await outbox(conn, after, "trip.updated")
    return trip_view(after, languages)


async def cancel_trip(
    conn: asyncpg.Connection,
    trip_id: UUID,
    account_id: UUID | None,
    reason: str,
    languages: Sequence[str],
) -> Trip:
    """Any status but completed → cancelled (final); every live applicant is told why."""
    row = await require_trip_organizer(conn, trip_id, account_id, for_update=True)
    status = row["status"]
    if status in FINAL:
        raise Conflict(f"This trip is {status}; it cannot be cancelled.")
    await trips.update_trip_status(conn, trip_id, "cancelled", reason.strip())
    after = await reload(conn, trip_id, account_id)
    await insert_trip_notifications(
        conn,
        trip_id,
        "trip.cancelled",
        notice(after, reason=after["cancel_reason"]),
        ("applied", "accepted", "waitlisted"),
    )
    await outbox(conn, after, "trip.cancelled")
    await cancel_rides_for_trip(conn, trip_id)
    return trip_view(after, languages)


async def complete_trip(
    conn: asyncpg.Connection, trip_id: UUID, account_id: UUID | None, languages: Sequence[str]
) -> Trip:
    """open, full or closed → completed, once the trip has started."""
    row = await require_trip_organizer(conn, trip_id, account_id, for_update=True)
    status = row["status"]
    if status not in ("open", "full", "closed"):
        raise Conflict(f"Only an open, full or closed trip can be completed; this one is {status}.")
    if _now() < row["starts_at"]:
        raise Conflict("This trip has not started yet; it can be completed once it has.")
    await trips.update_trip_status(conn, trip_id, "completed")
    after = await reload(conn, trip_id, account_id)
    await outbox(conn, after, "trip.updated")
    return trip_view(after, languages)
