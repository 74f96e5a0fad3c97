"""Feed items: what one VEVENT shows its reader of an event, shift, trip, itinerary item or ride.

Every feed shows exactly what the same reader sees in the JSON: a protected place is the
area until it is revealed to that reader (no GEO then), and no one else's data ever appears
(no attendees, aliases, contacts, or other riders).

SEQUENCE is the row's own sequence (which rises on every change a calendar shows) plus a
reader part that only rises as the reader's standing moves along waitlisted → going →
place revealed → RSVP cancelled, so a client never sees it go down. LAST-MODIFIED is the
latest change behind what the item shows, including the moment the place was revealed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from api.ical import FeedItem
from api.services import itinerary, locations, trips
from api.services.feed_rendering import Reader
from api.services.locations import Place
from api.texts import choose_language, pick

MAX_DESCRIPTION_CHARS = 2_000
RIDE_LENGTH = timedelta(hours=1)

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "cancelled": "CANCELLED: ",
        "postponed": "POSTPONED: ",
        "not_going": "NOT GOING: ",
        "waitlisted": "WAITLIST: ",
        "applied": "APPLIED: ",
        "reason": "Cancelled: {}",
        "new_date": "Postponed: the new date will be announced.",
        "ride_to": "Ride to {}",
        "ride_back": "Ride back from {}",
        "driving": " (you drive)",
        "pickup_details": "Pickup: {}",
        "time_changed": "The time of the event changed: check the departure with the driver.",
        "my_calendar": "Caravan: my calendar",
    },
    "es": {
        "cancelled": "CANCELADO: ",
        "postponed": "POSPUESTO: ",
        "not_going": "NO ASISTIRÁS: ",
        "waitlisted": "LISTA DE ESPERA: ",
        "applied": "SOLICITADO: ",
        "reason": "Cancelado: {}",
        "new_date": "Pospuesto: se anunciará la nueva fecha.",
        "ride_to": "Viaje a {}",
        "ride_back": "Regreso de {}",
        "driving": " (conduces)",
        "pickup_details": "Punto de encuentro: {}",
        "time_changed": "La hora del evento cambió: confirma la salida con quien conduce.",
        "my_calendar": "Caravan: mi calendario",
    },
}

Row = asyncpg.Record | Mapping[str, Any]


def item_language(row: Row, languages: Sequence[str], title_key: str = "title") -> str:
    title: dict[str, str] = row[title_key]
    available = list(row.get("languages") or []) or list(title)
    return choose_language(available, languages) or next(iter(title), "und")


def feed_words(languages: Sequence[str], content_language: str | None = None) -> dict[str, str]:
    """Our own words in the reader's language (English or Spanish so far)."""
    for tag in [*languages, content_language or ""]:
        primary = tag.split("-")[0].lower()
        if primary in WORDS:
            return WORDS[primary]
    return WORDS["en"]


def _clip(text: str) -> str:
    return text if len(text) <= MAX_DESCRIPTION_CHARS else text[: MAX_DESCRIPTION_CHARS - 1] + "…"


def _description(*parts: str) -> str:
    """Plain text: the given parts (the last one the link) in paragraphs, empty ones left out."""
    return "\n\n".join(part for part in parts if part)


def _place(place: Place, exact: bool) -> tuple[str | None, tuple[float, float] | None]:
    """LOCATION and GEO as the reader may know them: GEO only with the exact place."""
    location = locations.location_for(place, exact_allowed=exact)
    if location.precision != "exact":
        return location.area, None
    text = ", ".join(part for part in (location.name, location.address) if part)
    geo = None
    if location.lat is not None and location.lon is not None:
        geo = (location.lat, location.lon)
    return text or location.virtual_url or location.area, geo


def _reader_part(attendance: str | None, protected_exact: bool) -> int:
    """The reader's share of SEQUENCE: it only rises along the ways a standing changes."""
    if attendance is None:
        return int(protected_exact)
    if attendance in ("waitlisted", "applied"):
        return 0
    if attendance == "cancelled":
        return 3
    return 1 + int(protected_exact)


def _revealed_at(row: Row, exact: bool, now: datetime) -> list[datetime]:
    """When a timed reveal showed this reader the place (it changes the item, not the row)."""
    reveal_at = row["reveal_at"]
    if exact and row["location_policy"] == "reveal_at" and reveal_at is not None:
        if reveal_at <= now:
            return [reveal_at]
    return []


def _status_and_prefix(
    words: dict[str, str], row_status: str, attendance: str | None
) -> tuple[str, str]:
    if row_status == "cancelled":
        return "CANCELLED", words["cancelled"]
    if attendance == "cancelled":
        return "CANCELLED", words["not_going"]
    if row_status == "postponed":
        return "TENTATIVE", words["postponed"]
    if attendance == "waitlisted":
        return "TENTATIVE", words["waitlisted"]
    if attendance == "applied":
        return "TENTATIVE", words["applied"]
    return "CONFIRMED", ""


def _occasion_item(
    row: Row,
    reader: Reader,
    *,
    path: str,
    place: Place,
    exact: bool,
    attendance: str | None,
    changed: Sequence[datetime],
    categories: tuple[str, ...] = (),
) -> FeedItem:
    """An event or a trip (`path` events or trips) as this reader may see it, at `place`."""
    lang = item_language(row, reader.languages)
    words = feed_words(reader.languages, lang)
    status, prefix = _status_and_prefix(words, row["status"], attendance)
    url = f"{reader.public_url}/v1/{path}/{row['id']}"
    notes = ""
    if row["status"] == "cancelled" and row["cancel_reason"]:
        notes = words["reason"].format(row["cancel_reason"])
    elif row["status"] == "postponed":  # events only: trips are never postponed
        notes = words["new_date"]
    location, geo = _place(place, exact)
    protected_exact = exact and row["location_policy"] != "public"
    return FeedItem(
        uid=f"{path.removesuffix('s')}-{row['id']}@caravan",
        summary=prefix + pick(row["title"], lang),
        description=_description(
            _clip(pick(row["summary"], lang)), _clip(pick(row["description"], lang)), notes, url
        ),
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        timezone=row["timezone"],
        updated_at=max([row["updated_at"], *changed, *_revealed_at(row, exact, reader.now)]),
        created_at=row["created_at"],
        sequence=row["sequence"] + _reader_part(attendance, protected_exact),
        status=status,
        location=location,
        geo=geo,
        url=url,
        categories=categories,
    )


def event_item(
    row: Row,
    reader: Reader,
    *,
    exact: bool,
    attendance: str | None = None,
    changed: Sequence[datetime] = (),
) -> FeedItem:
    """An event as this reader may see it; `attendance` is the reader's RSVP status if any."""
    return _occasion_item(
        row,
        reader,
        path="events",
        place=locations.place_of(row, "venue"),
        exact=exact,
        attendance=attendance,
        changed=changed,
        categories=(row["kind"], *row["tags"]),
    )


def shift_item(
    row: Row,
    shift: Row,
    reader: Reader,
    *,
    exact: bool,
    attendance: str,
    changed: Sequence[datetime] = (),
) -> FeedItem:
    """A shift the reader signed up for, at the event's place as the reader may see it."""
    base = event_item(row, reader, exact=exact, attendance=attendance, changed=changed)
    lang = item_language(row, reader.languages)
    name: dict[str, str] = shift["name"]
    shift_name = pick(name, choose_language(list(name), [*reader.languages, lang]))
    words = feed_words(reader.languages, lang)
    _, prefix = _status_and_prefix(words, row["status"], attendance)
    return FeedItem(
        uid=f"shift-{shift['id']}@caravan",
        summary=f"{prefix}{shift_name} · {pick(row['title'], lang)}",
        description=base.description,
        starts_at=shift["starts_at"],
        ends_at=shift["ends_at"],
        timezone=row["timezone"],
        updated_at=max(base.updated_at, shift["updated_at"]),
        created_at=shift["created_at"],
        sequence=base.sequence + shift["sequence"],
        status=base.status,
        location=base.location,
        geo=base.geo,
        url=base.url,
    )


def trip_item(
    trip: Row,
    reader: Reader,
    *,
    exact: bool,
    attendance: str | None = None,
    changed: Sequence[datetime] = (),
) -> FeedItem:
    """The trip itself, from start to end, at its meeting point as the reader may see it."""
    return _occasion_item(
        trip,
        reader,
        path="trips",
        place=trips.trip_place(trip),
        exact=exact,
        attendance=attendance,
        changed=changed,
    )


def itinerary_item(
    item: Row,
    trip: Row,
    reader: Reader,
    *,
    exact: bool,
    attendance: str | None = None,
    changed: Sequence[datetime] = (),
) -> FeedItem:
    """One itinerary step in the trip's time zone, its place under the trip's policy."""
    base = trip_item(trip, reader, exact=exact, attendance=attendance, changed=changed)
    lang = item_language(trip, reader.languages)
    words = feed_words(reader.languages, lang)
    _, prefix = _status_and_prefix(words, trip["status"], attendance)
    location, geo = _place(itinerary.item_place(item, trip), exact)
    return FeedItem(
        uid=f"itinerary-{item['id']}@caravan",
        summary=f"{prefix}{pick(item['title'], lang)} · {pick(trip['title'], lang)}",
        description=_description(_clip(pick(item["notes"], lang)), base.url or ""),
        starts_at=item["starts_at"],
        ends_at=item["ends_at"],
        timezone=trip["timezone"],
        updated_at=max(base.updated_at, item["updated_at"]),
        created_at=item["created_at"],
        sequence=base.sequence + item["sequence"],
        status=base.status,
        location=location,
        geo=geo,
        url=base.url,
        categories=(item["kind"],),
    )


def ride_item(
    ride: Any, offer: Row, booking_created_at: datetime | None, reader: Reader
) -> FeedItem:
    """One leg of a ride, as its driver or a rider with a confirmed (or then cancelled)
    booking sees it: the pickup only when given (those allowed to see it), never its GEO, and
    nobody's name or contact."""
    title: dict[str, str] = offer["parent_title"]
    lang = choose_language(list(offer["parent_languages"]) or list(title), reader.languages) or ""
    words = feed_words(reader.languages, lang)
    cancelled = ride.status == "cancelled"
    leg = "out" if ride.leg == "outbound" else "back"
    summary = words["ride_to" if leg == "out" else "ride_back"].format(pick(title, lang))
    if ride.role == "driver":
        summary += words["driving"]
    uid = f"ride-{ride.offer_id}-{leg}@caravan"
    if ride.booking_id is not None:
        uid = f"ride-{ride.offer_id}-{leg}-{ride.booking_id}@caravan"
    url = f"{reader.public_url}/v1/ride-offers/{ride.offer_id}"
    pickup = ride.pickup if not cancelled else None
    location = pickup.address if pickup is not None else ride.area
    details = words["pickup_details"].format(pickup.details) if pickup and pickup.details else ""
    changed_note = words["time_changed"] if ride.event_changed and not cancelled else ""
    # a rider's booking cancelled while the ride goes on is the reader's own change
    rider_cancelled = ride.role == "rider" and cancelled
    return FeedItem(
        uid=uid,
        summary=(words["cancelled"] if cancelled else "") + summary,
        description=_description(details, changed_note, url),
        starts_at=ride.departs_at,
        ends_at=ride.departs_at + RIDE_LENGTH,
        timezone=offer["parent_timezone"],
        updated_at=ride.updated_at,
        created_at=booking_created_at or offer["created_at"],
        sequence=offer["sequence"] + int(rider_cancelled),
        status="CANCELLED" if cancelled else "CONFIRMED",
        location=location,
        url=url,
    )
