"""Trips: the Trip view with its protected meeting point, change records, and how the
lifecycle and co-hosting find a trip (TRIPS).

The lifecycle (open, close, cancel, complete) is in api/services/trip_lifecycle.py; who may see
and change a trip in api/services/trip_access.py; its fields and their rules in
api/services/trip_editing.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from api.services import access, locations
from api.services.lifecycle import HostedKind
from api.services.locations import Place
from api.services.trip_access import Row, require_trip_organizer
from api.texts import choose_language, pick
from db.queries import trips
from db.queries.outbox import insert_outbox_entry
from schemas.feeds import feed_links
from schemas.trips import Cost, MyApplicationRef, Trip, TripDisplay, TripLinks


def _now(now: datetime | None = None) -> datetime:
    return now or datetime.now(UTC)


def trip_place(row: Row) -> Place:
    """The meeting point, under the trip's location policy."""
    return locations.place_of(row, "meeting")


def sees_exact_places(row: Row, now: datetime | None = None) -> bool:
    """Whether the caller sees the exact meeting point and itinerary places."""
    return locations.may_see_exact_location(trip_place(row), access.standing_of(row), now)


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


def trip_view(row: Row, languages: Sequence[str], *, public_url: str | None) -> Trip:
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
        location=locations.location_for(trip_place(row), exact_allowed=sees_exact_places(row)),
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
        feeds=feed_links(public_url, f"/v1/trips/{row['id']}/calendar.ics")
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


async def _find(conn: asyncpg.Connection, trip_id: UUID, account_id: UUID | None) -> asyncpg.Record:
    return await require_trip_organizer(conn, trip_id, account_id)


async def _lock(conn: asyncpg.Connection, trip_id: UUID, account_id: UUID | None) -> asyncpg.Record:
    return await require_trip_organizer(conn, trip_id, account_id, for_update=True)


TRIPS = HostedKind(kind="trip", find=_find, lock=_lock, reload=reload, outbox=outbox)
