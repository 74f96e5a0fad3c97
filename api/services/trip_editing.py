"""Creating, reading, listing and changing trips: their fields and the rules between them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
from msgspec import UNSET

from api.errors import Conflict, NotFound, RuleViolation
from api.guards import require_org_role
from api.pagination import decode_cursor, split_page
from api.patching import place_columns, sent_fields
from api.services import locations
from api.services.orgs import check_timezone
from api.services.ride_cascade import flag_rides_for_trip
from api.services.trip_access import Row, require_not_final, require_trip_organizer, visible_trip
from api.services.trip_decisions import fill_from_waitlist
from api.services.trips import notice, outbox, reload, trip_view
from db.queries import hosts, itinerary, orgs, trips
from db.queries.notifications import insert_trip_notifications
from schemas.problems import FieldError
from schemas.trips import Cost, Trip, TripCreate, TripPage, TripPatch

#: a change to any of these is a change a calendar shows: `sequence` rises
CALENDAR_COLUMNS = frozenset(
    {
        "title",
        "summary",
        "description",
        "starts_at",
        "ends_at",
        "timezone",
        "meeting_name",
        "meeting_address",
        "meeting_lat",
        "meeting_lon",
        "area",
    }
)

#: a change to any of these tells accepted participants that the trip moved
MOVE_COLUMNS = frozenset(
    {
        "starts_at",
        "ends_at",
        "meeting_name",
        "meeting_address",
        "meeting_lat",
        "meeting_lon",
        "area",
    }
)


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _cost_columns(cost: Cost) -> dict[str, Any]:
    return {
        "cost_amount": None if cost.amount is None else Decimal(cost.amount),
        "cost_currency": cost.currency,
        "cost_notes": cost.notes,
        "scholarships_available": cost.scholarships_available,
    }


def values_from_create(data: TripCreate) -> dict[str, Any]:
    """Every writable column of a new trip, from the request."""
    return locations.with_public_point(
        {
            "title": data.title,
            "summary": data.summary,
            "description": data.description,
            "languages": _unique([*(data.languages or []), *data.title])
            if data.languages
            else list(data.title),
            "starts_at": data.starts_at,
            "ends_at": data.ends_at,
            "timezone": data.timezone,
            **place_columns("meeting", data.meeting_point),
            "area": data.area,
            "location_policy": data.location_policy,
            "reveal_at": data.reveal_at,
            "capacity": data.capacity,
            "application_deadline": data.application_deadline,
            **_cost_columns(data.cost),
            "visibility": data.visibility,
            "requirements": data.requirements,
            "promote_from_waitlist": data.promote_from_waitlist,
        },
        "meeting",
    )


def values_from_row(row: Row) -> dict[str, Any]:
    values = {c: row[c] for c in trips.WRITABLE_COLUMNS}
    values["languages"] = list(values["languages"])
    return values


def apply_patch(current: Row, data: TripPatch) -> dict[str, Any]:
    """The trip's writable columns after the PATCH (omitted fields keep their values)."""
    new = dict(current)
    new.update(
        sent_fields(
            data,
            (
                "title",
                "summary",
                "description",
                "starts_at",
                "ends_at",
                "timezone",
                "area",
                "location_policy",
                "reveal_at",
                "capacity",
                "application_deadline",
                "visibility",
                "requirements",
                "promote_from_waitlist",
            ),
        )
    )
    if data.meeting_point is not UNSET:
        new.update(place_columns("meeting", data.meeting_point))
    if data.cost is not UNSET:
        new.update(_cost_columns(data.cost))
    if data.languages is not UNSET:
        new["languages"] = _unique([*data.languages, *new["title"]])
    elif data.title is not UNSET:
        new["languages"] = _unique([*new["languages"], *new["title"]])
    # leaving the reveal_at policy drops the time, unless the request sets one (then a 422)
    if (
        data.location_policy is not UNSET
        and data.location_policy != "reveal_at"
        and data.reveal_at is UNSET
    ):
        new["reveal_at"] = None
    return locations.with_public_point(new, "meeting")


def check_rules(values: Row) -> None:
    """Rules a trip's own fields must satisfy together; all broken ones in one 422."""
    check_timezone(values["timezone"])
    errors: list[FieldError] = []
    if values["ends_at"] <= values["starts_at"]:
        errors.append(FieldError(pointer="#/ends_at", detail="must be after starts_at"))
    deadline_at = values["application_deadline"]
    if deadline_at is not None and deadline_at > values["starts_at"]:
        errors.append(
            FieldError(pointer="#/application_deadline", detail="must not be after starts_at")
        )
    if values["location_policy"] == "reveal_at" and values["reveal_at"] is None:
        errors.append(
            FieldError(pointer="#/reveal_at", detail="required when location_policy is reveal_at")
        )
    if values["location_policy"] != "reveal_at" and values["reveal_at"] is not None:
        errors.append(
            FieldError(pointer="#/reveal_at", detail="only with location_policy reveal_at")
        )
    if values["location_policy"] != "public" and not values["area"]:
        errors.append(
            FieldError(
                pointer="#/area",
                detail="a protected meeting point needs a public area (e.g. the city)",
            )
        )
    if (values["meeting_lat"] is None) != (values["meeting_lon"] is None):
        missing = "lon" if values["meeting_lon"] is None else "lat"
        errors.append(
            FieldError(
                pointer=f"#/meeting_point/{missing}", detail="give both lat and lon, or neither"
            )
        )
    if values["cost_amount"] is not None and values["cost_currency"] is None:
        errors.append(FieldError(pointer="#/cost/currency", detail="required with an amount"))
    if errors:
        raise RuleViolation("; ".join(f"{e.pointer[2:]} {e.detail}" for e in errors), errors=errors)


async def create_trip(
    conn: asyncpg.Connection,
    public_url: str | None,
    slug: str,
    account_id: UUID | None,
    data: TripCreate,
    languages: Sequence[str],
) -> Trip:
    """A new draft under the org (organizers and owners)."""
    org = await require_org_role(conn, slug, account_id, "organizer")
    values = values_from_create(data)
    check_rules(values)
    trip_id = await hosts.insert_hosted(conn, "trip", org["id"], account_id, values)
    row = await reload(conn, trip_id, account_id)
    await outbox(conn, row, "trip.created")
    return trip_view(row, languages, public_url=public_url)


async def get_trip(
    conn: asyncpg.Connection,
    public_url: str | None,
    trip_id: UUID,
    account_id: UUID | None,
    languages: Sequence[str],
) -> Trip:
    return trip_view(
        await visible_trip(conn, trip_id, account_id), languages, public_url=public_url
    )


async def list_org_trips(
    conn: asyncpg.Connection,
    public_url: str | None,
    slug: str,
    account_id: UUID | None,
    *,
    include_past: bool,
    cursor: str | None,
    limit: int,
    languages: Sequence[str],
) -> TripPage:
    """The org's trips and those it co-hosts that the caller may see, by start time."""
    org = await orgs.select_org(conn, slug)
    if org is None:
        raise NotFound(f"No organization has the slug {slug!r}.")
    after = decode_cursor(cursor, tuple[datetime, UUID])
    rows = await trips.select_org_trips(
        conn,
        org["id"],
        account_id,
        ends_after=None if include_past else datetime.now(UTC),
        after=after,
        limit=limit + 1,
    )
    page, next_cursor = split_page(rows, limit, lambda r: (r["starts_at"], r["id"]))
    return TripPage(
        items=[trip_view(r, languages, public_url=public_url) for r in page],
        next_cursor=next_cursor,
    )


async def update_trip(
    conn: asyncpg.Connection,
    public_url: str | None,
    trip_id: UUID,
    account_id: UUID | None,
    data: TripPatch,
    languages: Sequence[str],
) -> Trip:
    """Apply a PATCH: sequence for calendar-visible changes; capacity never below the places
    taken; full/open follow the capacity; itinerary items must stay within the dates."""
    row = await require_trip_organizer(conn, trip_id, account_id, for_update=True)
    require_not_final(row)
    current = values_from_row(row)
    new = apply_patch(current, data)
    check_rules(new)
    if new["capacity"] < row["places_taken"]:
        raise Conflict(
            f"{row['places_taken']} participants are accepted; the capacity cannot go below "
            "that. Ask someone to withdraw first, or choose a larger capacity.",
            errors=[
                FieldError(
                    pointer="#/capacity", detail=f"at least {row['places_taken']} (accepted)"
                )
            ],
        )
    if new["starts_at"] != current["starts_at"] or new["ends_at"] != current["ends_at"]:
        outside = await itinerary.select_items_outside(
            conn, trip_id, new["starts_at"], new["ends_at"]
        )
        if outside:
            raise RuleViolation(
                f"{len(outside)} itinerary item(s) would fall outside the new dates; move or "
                "delete them first.",
                errors=[
                    FieldError(
                        pointer="#/starts_at"
                        if new["starts_at"] > current["starts_at"]
                        else "#/ends_at",
                        detail="itinerary items fall outside these dates",
                    )
                ],
            )
    changed = {c for c in trips.WRITABLE_COLUMNS if new[c] != current[c]}
    status = None
    if row["status"] in ("open", "full"):
        status = "full" if row["places_taken"] >= new["capacity"] else "open"
        status = None if status == row["status"] else status
    if not changed and status is None:
        return trip_view(row, languages, public_url=public_url)
    await hosts.update_hosted(
        conn, "trip", trip_id, new, bump_sequence=bool(changed & CALENDAR_COLUMNS), status=status
    )
    if (
        new["capacity"] > current["capacity"]
        and new["promote_from_waitlist"]
        and row["status"] in ("open", "full", "closed")
    ):
        await fill_from_waitlist(conn, trip_id, account_id)
    after = await reload(conn, trip_id, account_id)
    if row["status"] != "draft" and changed & MOVE_COLUMNS:
        await insert_trip_notifications(conn, trip_id, "trip.moved", notice(after))
    if changed & {"starts_at", "ends_at"}:
        await flag_rides_for_trip(conn, trip_id)
    await outbox(conn, after, "trip.updated")
    return trip_view(after, languages, public_url=public_url)
