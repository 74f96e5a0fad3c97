"""The event or trip a ride belongs to, and where the caller stands towards it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from api.errors import Conflict, Forbidden, NotFound
from api.services.access import can_view, is_organizer
from db.queries import events as event_queries
from db.queries import trips as trip_queries

#: a return leg leaves at most this long after the event or trip ends
RETURN_WINDOW = timedelta(hours=48)


@dataclass(frozen=True)
class Parent:
    """The event or trip an offer or request belongs to, with the caller's standing."""

    kind: str
    row: asyncpg.Record
    organizer: bool
    can_see: bool
    can_ride: bool

    @property
    def id(self) -> UUID:
        return self.row["id"]  # type: ignore[no-any-return]

    @property
    def event_id(self) -> UUID | None:
        return self.id if self.kind == "event" else None

    @property
    def trip_id(self) -> UUID | None:
        return self.id if self.kind == "trip" else None

    @property
    def org_id(self) -> UUID:
        return self.row["org_id"]  # type: ignore[no-any-return]

    @property
    def ends_at(self) -> datetime:
        return self.row["ends_at"]  # type: ignore[no-any-return]

    @property
    def path(self) -> str:
        return f"/v1/{self.kind}s/{self.id}"


async def load_parent(
    conn: asyncpg.Connection,
    event_id: UUID | None,
    trip_id: UUID | None,
    account_id: UUID | None,
) -> Parent | None:
    if event_id is not None:
        row = await event_queries.select_event(conn, event_id, account_id)
        if row is None:
            return None
        # a private event's confirmed attendees reached it through its share link once
        can_see = can_view(row) or (
            row["visibility"] == "private" and row["status"] != "draft" and row["is_confirmed"]
        )
        return Parent("event", row, is_organizer(row), can_see, can_see and account_id is not None)
    assert trip_id is not None
    row = await trip_queries.select_trip(conn, trip_id, account_id)
    if row is None:
        return None
    # trips share the events' rules: drafts for organizers, members-only for members
    can_see = can_view(row) or (row["status"] != "draft" and row["is_confirmed"])
    organizer = is_organizer(row)
    can_ride = account_id is not None and can_see and (organizer or row["is_confirmed"])
    return Parent("trip", row, organizer, can_see, can_ride)


async def require_parent(
    conn: asyncpg.Connection, kind: str, parent_id: UUID, account_id: UUID
) -> Parent:
    parent = await load_parent(
        conn,
        parent_id if kind == "event" else None,
        parent_id if kind == "trip" else None,
        account_id,
    )
    if parent is None or not parent.can_see:
        raise NotFound(f"No {kind} has this id, or it is not visible to you.")
    return parent


def require_can_ride(parent: Parent) -> None:
    if not parent.can_ride:
        raise Forbidden(
            "Only the trip's accepted participants and its organizers offer, request or book "
            "its rides."
        )


def require_live_parent(parent: Parent, now: datetime) -> None:
    """New offers, requests and bookings need a published event (or a running trip) that is
    not over yet."""
    status = parent.row["status"]
    what = parent.kind
    if status == "cancelled":
        raise Conflict(f"This {what} is cancelled, so its rides are too.")
    if parent.kind == "event" and status == "postponed":
        raise Conflict("This event is postponed: rides wait until it has new times.")
    if status == "draft":
        raise Conflict(f"This {what} is not published yet.")
    if status == "completed" or parent.ends_at <= now:
        raise Conflict(f"This {what} is over.")


async def require_parent_open_to_rides(
    conn: asyncpg.Connection, kind: str, parent_id: UUID, account_id: UUID, now: datetime
) -> Parent:
    """The event or trip a new offer or request joins: one the caller sees (else 404), may
    ride with (else 403), and that is live (else 409)."""
    parent = await require_parent(conn, kind, parent_id, account_id)
    require_can_ride(parent)
    require_live_parent(parent, now)
    return parent
