"""Itineraries: ordered items within the trip's dates, per-item visibility, protected places.

Participant-only items are listed only to accepted participants and organizers. Places follow
the trip's location policy exactly like its meeting point: whoever may not see the exact
meeting point sees each place's `area` and a point on the ~5 km grid. Every change bumps the
item's `sequence` and the trip's, so calendars update.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg
from msgspec import UNSET

from api.errors import Conflict, NotFound, RuleViolation
from api.patching import place_columns, sent_fields
from api.services import access, locations
from api.services.locations import Place
from api.services.trip_access import (
    Row,
    require_not_final,
    require_trip_organizer,
    visible_trip,
)
from api.services.trips import outbox, reload, sees_exact_places, trip_language
from api.texts import pick
from db.queries import hosts, itinerary
from schemas.itinerary import (
    ItemDisplay,
    Itinerary,
    ItineraryItem,
    ItineraryItemCreate,
    ItineraryItemPatch,
    ItineraryOrder,
)
from schemas.problems import FieldError

MAX_ITEMS = 200


# ---------------------------------------------------------------- the view


def item_place(item: Row, trip: Row) -> Place:
    """The item's place, under the trip's location policy."""
    return locations.place_of(item, "place", policy=trip)


def item_view(item: Row, trip: Row, lang: str, *, exact_allowed: bool) -> ItineraryItem:
    """An item as a caller sees it; `trip` needs `location_policy` and `reveal_at`."""
    return ItineraryItem(
        id=item["id"],
        trip_id=item["trip_id"],
        position=item["position"],
        kind=item["kind"],
        title=item["title"],
        notes=item["notes"],
        display=ItemDisplay(
            lang=lang, title=pick(item["title"], lang), notes=pick(item["notes"], lang)
        ),
        starts_at=item["starts_at"],
        ends_at=item["ends_at"],
        location=locations.location_for(item_place(item, trip), exact_allowed=exact_allowed),
        visibility=item["visibility"],
        sequence=item["sequence"],
        updated_at=item["updated_at"],
    )


async def itinerary_for(conn: asyncpg.Connection, trip: Row, languages: Sequence[str]) -> Itinerary:
    """The itinerary as the caller behind `trip` (a row from db.queries.trips) may see it."""
    full = access.is_organizer(trip) or access.is_confirmed(trip)
    rows = await itinerary.select_items(conn, trip["id"], include_participant_only=full)
    lang = trip_language(trip, languages)
    exact = sees_exact_places(trip)
    return Itinerary(
        items=[item_view(r, trip, lang, exact_allowed=exact) for r in rows],
        trip_sequence=trip["sequence"],
    )


async def get_itinerary(
    conn: asyncpg.Connection, trip_id: UUID, account_id: UUID | None, languages: Sequence[str]
) -> Itinerary:
    return await itinerary_for(conn, await visible_trip(conn, trip_id, account_id), languages)


# ---------------------------------------------------------------- values and rules


def values_from_create(data: ItineraryItemCreate) -> dict[str, Any]:
    return locations.with_public_point(
        {
            "kind": data.kind,
            "title": data.title,
            "notes": data.notes,
            "starts_at": data.starts_at,
            "ends_at": data.ends_at,
            **place_columns("place", data.place),
            "area": data.area,
            "visibility": data.visibility,
        },
        "place",
        always_grid=True,
    )


def apply_patch(current: Row, data: ItineraryItemPatch) -> dict[str, Any]:
    new = {c: current[c] for c in itinerary.WRITABLE_COLUMNS}
    new.update(
        sent_fields(data, ("kind", "title", "notes", "starts_at", "ends_at", "area", "visibility"))
    )
    if data.place is not UNSET:
        new.update(place_columns("place", data.place))
    # always the grid point: the trip may turn protected later, and this column is public
    return locations.with_public_point(new, "place", always_grid=True)


def check_rules(values: Row, trip: Row) -> None:
    """An item ends after it starts, lies within the trip's dates, and has both lat and lon
    or neither; all broken rules in one 422."""
    errors: list[FieldError] = []
    if values["ends_at"] <= values["starts_at"]:
        errors.append(FieldError(pointer="#/ends_at", detail="must be after starts_at"))
    if values["starts_at"] < trip["starts_at"]:
        errors.append(
            FieldError(pointer="#/starts_at", detail="before the trip starts (outside its dates)")
        )
    if values["ends_at"] > trip["ends_at"]:
        errors.append(
            FieldError(pointer="#/ends_at", detail="after the trip ends (outside its dates)")
        )
    if (values["place_lat"] is None) != (values["place_lon"] is None):
        missing = "lon" if values["place_lon"] is None else "lat"
        errors.append(
            FieldError(pointer=f"#/place/{missing}", detail="give both lat and lon, or neither")
        )
    if errors:
        raise RuleViolation("; ".join(f"{e.pointer[2:]} {e.detail}" for e in errors), errors=errors)


async def _changed(
    conn: asyncpg.Connection, trip_id: UUID, account_id: UUID | None
) -> asyncpg.Record:
    """The trip after an itinerary change: its sequence rises and partners hear of it."""
    await hosts.touch(conn, "trip", trip_id, bump_sequence=True)
    after = await reload(conn, trip_id, account_id)
    await outbox(conn, after, "trip.updated")
    return after


# ---------------------------------------------------------------- changes


async def add_item(
    conn: asyncpg.Connection,
    trip_id: UUID,
    account_id: UUID | None,
    data: ItineraryItemCreate,
    languages: Sequence[str],
) -> ItineraryItem:
    """Append an item (organizers); it must lie within the trip's dates."""
    trip = await require_trip_organizer(conn, trip_id, account_id, for_update=True)
    require_not_final(trip)
    values = values_from_create(data)
    check_rules(values, trip)
    if await itinerary.count_items(conn, trip_id) >= MAX_ITEMS:
        raise Conflict(f"A trip has at most {MAX_ITEMS} itinerary items.")
    record = await itinerary.insert_item(conn, trip_id, values)
    after = await _changed(conn, trip_id, account_id)
    return item_view(record, after, trip_language(after, languages), exact_allowed=True)


async def update_item(
    conn: asyncpg.Connection,
    trip_id: UUID,
    item_id: UUID,
    account_id: UUID | None,
    data: ItineraryItemPatch,
    languages: Sequence[str],
) -> ItineraryItem:
    trip = await require_trip_organizer(conn, trip_id, account_id, for_update=True)
    require_not_final(trip)
    current = await itinerary.select_item(conn, trip_id, item_id)
    if current is None:
        raise NotFound("This trip has no itinerary item with this id.")
    new = apply_patch(current, data)
    check_rules(new, trip)
    if all(new[c] == current[c] for c in itinerary.WRITABLE_COLUMNS):
        return item_view(current, trip, trip_language(trip, languages), exact_allowed=True)
    record = await itinerary.update_item(conn, trip_id, item_id, new)
    after = await _changed(conn, trip_id, account_id)
    return item_view(record, after, trip_language(after, languages), exact_allowed=True)


async def delete_item(
    conn: asyncpg.Connection, trip_id: UUID, item_id: UUID, account_id: UUID | None
) -> None:
    trip = await require_trip_organizer(conn, trip_id, account_id, for_update=True)
    require_not_final(trip)
    if not await itinerary.delete_item(conn, trip_id, item_id):
        raise NotFound("This trip has no itinerary item with this id.")
    await _changed(conn, trip_id, account_id)


async def reorder(
    conn: asyncpg.Connection,
    trip_id: UUID,
    account_id: UUID | None,
    data: ItineraryOrder,
    languages: Sequence[str],
) -> Itinerary:
    """Put the items in the given order: every item of the trip, each exactly once."""
    trip = await require_trip_organizer(conn, trip_id, account_id, for_update=True)
    require_not_final(trip)
    current = await itinerary.select_item_ids(conn, trip_id)
    if len(data.item_ids) != len(set(data.item_ids)) or set(data.item_ids) != set(current):
        raise RuleViolation(
            f"List every item of this trip exactly once ({len(current)} items).",
            errors=[FieldError(pointer="#/item_ids", detail="must hold each item id exactly once")],
        )
    if await itinerary.reorder_items(conn, trip_id, data.item_ids):
        trip = await _changed(conn, trip_id, account_id)
    return await itinerary_for(conn, trip, languages)
