"""Calendar feeds: what each feed shows its reader, rendered by api.ical, with HTTP validators.

Every feed shows exactly what the same reader sees in the JSON: a protected place is the
area until it is revealed to that reader (no GEO then), and no one else's data ever appears
(no attendees, aliases, contacts, or other riders). Feeds:

- an org's public feed, an event's (public; private ones through the share link), a trip's;
- the feed behind an RSVP's manage link (the event, the shift, the place as revealed to it);
- a personal feed behind a secret token: my events (waitlisted ones TENTATIVE), shifts,
  trips with their itineraries (participant-only items once accepted), and rides.

SEQUENCE is the row's own sequence (which rises on every change a calendar shows) plus a
reader part that only rises as the reader's standing moves along waitlisted → going →
place revealed → RSVP cancelled, so a client never sees it go down. LAST-MODIFIED is the
latest change behind what the item shows, including the moment the place was revealed.

Bytes are a pure function of the items, so the ETag is the hash of the body and is the same
in every process. Each VEVENT is cached by its FeedItem (which holds everything it shows):
an unchanged feed is a join of cached blocks; big cache misses render in a worker thread.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import UUID

import anyio.to_thread
import asyncpg

from api.crypto import Keyring, new_token, token_hash
from api.errors import Conflict, NotFound
from api.ical import FeedItem, render_calendar, render_vevent
from api.services import access, events, itinerary, locations, rides, trips
from api.services.access import Standing
from api.services.locations import Place
from api.services.rsvps import MANAGE_PREFIX
from api.texts import choose_language, pick
from db.queries import events as event_queries
from db.queries import feeds as q
from db.queries import orgs
from db.queries import rsvps as rsvp_queries
from db.queries import trips as trip_queries
from schemas.feeds import (
    FEED_TOKEN_PREFIX,
    FeedToken,
    FeedTokenCreated,
    FeedTokenList,
    feed_links_for,
)

WINDOW_BACK = timedelta(days=30)
WINDOW_AHEAD = timedelta(days=365)
#: at most this many VEVENTs, and fewer when they would take the feed past MAX_FEED_BYTES
MAX_ITEMS = 1_000
#: Google drops what lies beyond about 1 MB of a subscribed feed
MAX_FEED_BYTES = 1_000_000
#: room kept for the header and the VTIMEZONEs
ENVELOPE_RESERVE = 60_000
MAX_DESCRIPTION_CHARS = 2_000
MAX_TOKENS_PER_ACCOUNT = 20
#: more cache misses than this render in a worker thread
THREAD_THRESHOLD = 64
RIDE_LENGTH = timedelta(hours=1)
REFRESH = timedelta(hours=1)
#: Last-Modified of a feed that never had anything in it
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)

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


@dataclass(frozen=True, slots=True)
class Feed:
    """A rendered feed and its validators; `private` feeds must not be cached by proxies."""

    body: bytes
    etag: str
    last_modified: datetime
    private: bool


@dataclass(frozen=True, slots=True)
class Reader:
    """Who reads a feed, in which languages, and when (the window and reveals depend on it)."""

    languages: Sequence[str]
    public_url: str
    now: datetime

    @property
    def since(self) -> datetime:
        return self.now - WINDOW_BACK

    @property
    def until(self) -> datetime:
        return self.now + WINDOW_AHEAD


# ---------------------------------------------------------------- the VEVENT cache


class VeventCache:
    """Rendered VEVENTs by FeedItem, least recently used out first, bounded in bytes."""

    def __init__(self, max_bytes: int = 64_000_000) -> None:
        self._blocks: OrderedDict[FeedItem, bytes] = OrderedDict()
        self._size = 0
        self._max_bytes = max_bytes
        self._lock = threading.Lock()

    def get(self, item: FeedItem) -> bytes | None:
        with self._lock:
            block = self._blocks.get(item)
            if block is not None:
                self._blocks.move_to_end(item)
            return block

    def put(self, item: FeedItem, block: bytes) -> None:
        with self._lock:
            if item in self._blocks:
                return
            self._blocks[item] = block
            self._size += len(block)
            while self._size > self._max_bytes and self._blocks:
                _, old = self._blocks.popitem(last=False)
                self._size -= len(old)

    def clear(self) -> None:
        with self._lock:
            self._blocks.clear()
            self._size = 0

    def __len__(self) -> int:
        return len(self._blocks)


VEVENTS = VeventCache()


async def _vevents(items: Sequence[FeedItem]) -> list[bytes]:
    blocks = [VEVENTS.get(item) for item in items]
    missing = [i for i, block in enumerate(blocks) if block is None]
    if len(missing) > THREAD_THRESHOLD:
        rendered = await anyio.to_thread.run_sync(
            lambda: [render_vevent(items[i]) for i in missing]
        )
    else:
        rendered = [render_vevent(items[i]) for i in missing]
    for i, block in zip(missing, rendered, strict=True):
        VEVENTS.put(items[i], block)
        blocks[i] = block
    return cast(list[bytes], blocks)


async def render_feed(
    name: str, items: Sequence[FeedItem], watermark: datetime | None, *, private: bool
) -> Feed:
    """The calendar of `items` by start time, cut to MAX_ITEMS and MAX_FEED_BYTES."""
    ordered = sorted(items, key=lambda item: (item.starts_at, item.uid))[:MAX_ITEMS]
    blocks = await _vevents(ordered)
    budget, count = MAX_FEED_BYTES - ENVELOPE_RESERVE, 0
    for block in blocks:
        budget -= len(block)
        if budget < 0:
            break
        count += 1
    while True:
        body = render_calendar(name, ordered[:count], vevents=blocks[:count], refresh=REFRESH)
        if len(body) < MAX_FEED_BYTES or count == 0:
            break
        count = count * 9 // 10
    modified = [item.updated_at for item in ordered[:count]]
    if watermark is not None:
        modified.append(watermark)
    return Feed(
        body=body,
        etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
        last_modified=max(modified, default=EPOCH).astimezone(UTC),
        private=private,
    )


# ---------------------------------------------------------------- words and texts


def _content_language(row: Row, languages: Sequence[str], title_key: str = "title") -> str:
    title: dict[str, str] = row[title_key]
    available = list(row.get("languages") or []) or list(title)
    return choose_language(available, languages) or next(iter(title), "und")


def _words(languages: Sequence[str], content_language: str | None = None) -> dict[str, str]:
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


# ---------------------------------------------------------------- items


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
    lang = _content_language(row, reader.languages)
    words = _words(reader.languages, lang)
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
    lang = _content_language(row, reader.languages)
    name: dict[str, str] = shift["name"]
    shift_name = pick(name, choose_language(list(name), [*reader.languages, lang]))
    words = _words(reader.languages, lang)
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
    lang = _content_language(trip, reader.languages)
    words = _words(reader.languages, lang)
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
    words = _words(reader.languages, lang)
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


# ---------------------------------------------------------------- public feeds


async def org_feed(
    conn: asyncpg.Connection,
    slug: str,
    reader: Reader,
    *,
    kinds: Sequence[str] | None = None,
    tags: Sequence[str] | None = None,
    language: str | None = None,
) -> Feed:
    """An org's public events (hosted or co-hosted), cancelled ones kept for a while."""
    org = await orgs.select_org(conn, slug)
    if org is None:
        raise NotFound(f"No organization has the slug {slug!r}.")
    window = {"now": reader.now, "since": reader.since, "until": reader.until}
    rows = await q.select_org_feed_events(
        conn,
        org["id"],
        **window,
        kinds=kinds,
        tags=[tag.strip().lower() for tag in tags] if tags else None,
        language=language,
        limit=MAX_ITEMS,
    )
    watermark = await q.select_org_feed_watermark(conn, org["id"], **window)
    items = [event_item(row, reader, exact=row["location_policy"] == "public") for row in rows]
    return await render_feed(org["name"], items, watermark, private=False)


async def event_feed(
    conn: asyncpg.Connection, event_id: UUID, account_id: UUID | None, reader: Reader
) -> Feed:
    """One event as the caller sees it in the JSON (anonymous: public events only)."""
    row = await event_queries.select_event(conn, event_id, account_id)
    if row is None or not access.can_view(row):
        raise NotFound(events.NOT_VISIBLE)
    return await _single_event(row, reader, private=account_id is not None)


async def shared_event_feed(
    conn: asyncpg.Connection, token: str, account_id: UUID | None, reader: Reader
) -> Feed:
    """A private event through its share link."""
    if len(token) > 100:
        raise NotFound(
            "This share link is unknown, was rotated, or the event is not published yet."
        )
    row = await event_queries.select_event_by_share_hash(
        conn, events.share_token_hash(token), account_id
    )
    if row is None or not access.can_view(row, via_share_link=True):
        raise NotFound(
            "This share link is unknown, was rotated, or the event is not published yet."
        )
    return await _single_event(row, reader, private=True)


async def _single_event(row: asyncpg.Record, reader: Reader, *, private: bool) -> Feed:
    exact = locations.may_see_exact_location(
        locations.place_of(row, "venue"), access.standing_of(row), reader.now
    )
    item = event_item(row, reader, exact=exact)
    private = private or row["visibility"] != "public"
    return await render_feed(item.summary, [item], row["updated_at"], private=private)


async def trip_feed(
    conn: asyncpg.Connection, trip_id: UUID, account_id: UUID | None, reader: Reader
) -> Feed:
    """A trip and its itinerary as the caller sees them (anonymous: public trips, public items)."""
    trip = await trip_queries.select_trip(conn, trip_id, account_id)
    if trip is None or not access.can_view(trip):
        raise NotFound(trips.NOT_VISIBLE)
    full = access.is_organizer(trip) or access.is_confirmed(trip)
    exact = trips.sees_exact_places(trip, reader.now)
    rows = await q.select_trip_items(conn, [trip["id"]], [trip["id"]] if full else [])
    items = [trip_item(trip, reader, exact=exact)]
    items += [itinerary_item(row, trip, reader, exact=exact) for row in rows]
    private = account_id is not None or trip["visibility"] != "public"
    return await render_feed(items[0].summary, items, trip["updated_at"], private=private)


# ---------------------------------------------------------------- feeds behind a secret


async def manage_feed(conn: asyncpg.Connection, token: str, reader: Reader) -> Feed:
    """The event behind an RSVP's manage link, its shift, the place as revealed to that RSVP."""
    if not token.startswith(MANAGE_PREFIX + "_") or len(token) > 100:
        raise NotFound("This manage link is not valid.")
    record = await rsvp_queries.select_rsvp_by_token_hash(conn, token_hash(token))
    if record is None:
        raise NotFound("This manage link is not valid.")
    row = await q.select_feed_event(conn, record["event_id"])
    assert row is not None
    attendance = record["status"]
    exact = locations.may_see_exact_location(
        locations.place_of(row, "venue"),
        Standing(organizer=False, confirmed=attendance in ("going", "attended")),
        reader.now,
    )
    changed = [record["updated_at"]]
    item = event_item(row, reader, exact=exact, attendance=attendance, changed=changed)
    items = [item]
    if record["shift_id"] is not None:
        shift = await q.select_shift(conn, record["shift_id"])
        assert shift is not None
        items.append(
            shift_item(row, shift, reader, exact=exact, attendance=attendance, changed=changed)
        )
    name = pick(row["title"], _content_language(row, reader.languages))
    return await render_feed(name, items, None, private=True)


async def personal_feed(
    conn: asyncpg.Connection, keyring: Keyring, token: str, reader: Reader
) -> Feed:
    """My events (waitlisted ones TENTATIVE), shifts, trips and their itineraries, and rides."""
    account_id = await feed_token_account(conn, token)
    if account_id is None:
        raise NotFound("This feed link is not valid, or it was revoked.")
    window = {"now": reader.now, "since": reader.since, "until": reader.until}
    items: list[FeedItem] = []
    for row in await q.select_account_feed_rsvps(conn, account_id, **window, limit=MAX_ITEMS):
        exact = locations.may_see_exact_location(
            locations.place_of(row, "venue"),
            Standing(organizer=row["is_organizer"], confirmed=row["is_confirmed"]),
            reader.now,
        )
        attendance = "going" if row["rsvp_status"] == "attended" else row["rsvp_status"]
        changed = [row["rsvp_updated_at"]]
        if row["shift_id"] is None:
            items.append(
                event_item(row, reader, exact=exact, attendance=attendance, changed=changed)
            )
        else:
            shift = {
                key: row[f"shift_{key}"]
                for key in ("id", "name", "starts_at", "ends_at", "sequence", "created_at")
            } | {"updated_at": row["shift_updated_at"]}
            items.append(
                shift_item(row, shift, reader, exact=exact, attendance=attendance, changed=changed)
            )
    items += await _my_trips(conn, account_id, reader)
    items += await _my_rides(conn, keyring, account_id, reader)
    watermark = await q.select_account_feed_watermark(conn, account_id, **window)
    return await render_feed(
        _words(reader.languages)["my_calendar"], items, watermark, private=True
    )


async def _my_trips(conn: asyncpg.Connection, account_id: UUID, reader: Reader) -> list[FeedItem]:
    rows = await q.select_account_feed_trips(
        conn, account_id, since=reader.since, until=reader.until, limit=MAX_ITEMS
    )
    full = [t["id"] for t in rows if t["application_status"] == "accepted" or t["is_organizer"]]
    steps: dict[UUID, list[asyncpg.Record]] = {}
    for step in await q.select_trip_items(conn, [t["id"] for t in rows], full):
        steps.setdefault(step["trip_id"], []).append(step)
    items = []
    for trip in rows:
        accepted = trip["application_status"] == "accepted"
        exact = locations.may_see_exact_location(
            trips.trip_place(trip),
            Standing(organizer=trip["is_organizer"], confirmed=accepted),
            reader.now,
        )
        attendance = "going" if accepted else trip["application_status"]
        changed = [trip["application_updated_at"]]
        items.append(trip_item(trip, reader, exact=exact, attendance=attendance, changed=changed))
        items += [
            itinerary_item(step, trip, reader, exact=exact, attendance=attendance, changed=changed)
            for step in steps.get(trip["id"], [])
        ]
    return items


async def _my_rides(
    conn: asyncpg.Connection, keyring: Keyring, account_id: UUID, reader: Reader
) -> list[FeedItem]:
    legs = await rides.rides_for_calendar(
        conn, keyring, account_id, since=reader.since, include_pickup=True
    )
    if not legs:
        return []
    offers, bookings = await q.select_ride_details(
        conn,
        list({leg.offer_id for leg in legs}),
        [leg.booking_id for leg in legs if leg.booking_id is not None],
    )
    offer_by_id = {offer["id"]: offer for offer in offers}
    booked_at = {booking["id"]: booking["created_at"] for booking in bookings}
    return [
        ride_item(
            leg,
            offer_by_id[leg.offer_id],
            booked_at.get(leg.booking_id) if leg.booking_id else None,
            reader,
        )
        for leg in legs
    ]


# ---------------------------------------------------------------- fingerprints


async def feed_token_account(conn: asyncpg.Connection, token: str) -> UUID | None:
    """The account behind a personal feed token; None for an unknown or revoked one."""
    if not token.startswith(FEED_TOKEN_PREFIX + "_") or len(token) > 100:
        return None
    return await q.select_feed_token_account(conn, token_hash(token))


async def org_feed_fingerprint(conn: asyncpg.Connection, slug: str) -> str | None:
    """Moves whenever the org's feed may have changed (time aside); None if no such org."""
    return await q.select_org_feed_fingerprint(conn, slug)


async def personal_feed_fingerprint(conn: asyncpg.Connection, account_id: UUID) -> str:
    """Moves whenever the account's personal feed may have changed (time aside)."""
    return await q.select_account_feed_fingerprint(conn, account_id)


# ---------------------------------------------------------------- personal feed tokens


def personal_feed_url(public_url: str, token: str) -> str:
    return f"{public_url}/v1/feeds/{token}/calendar.ics"


def _token(row: Row) -> FeedToken:
    return FeedToken(id=row["id"], label=row["label"], created_at=row["created_at"])


async def _issue(
    conn: asyncpg.Connection, public_url: str, account_id: UUID, label: str | None
) -> FeedTokenCreated:
    token = new_token(FEED_TOKEN_PREFIX)
    row = await q.insert_feed_token(conn, account_id, token_hash(token), label)
    return FeedTokenCreated(
        id=row["id"],
        label=row["label"],
        created_at=row["created_at"],
        token=token,
        feeds=feed_links_for(personal_feed_url(public_url, token)),
    )


async def create_feed_token(
    conn: asyncpg.Connection, public_url: str, account_id: UUID, label: str | None
) -> FeedTokenCreated:
    """A new secret URL for my personal feed; the token is shown only in this response."""
    if await q.count_feed_tokens(conn, account_id) >= MAX_TOKENS_PER_ACCOUNT:
        raise Conflict(
            f"You have {MAX_TOKENS_PER_ACCOUNT} feed tokens already; revoke one you no longer "
            "use first."
        )
    return await _issue(conn, public_url, account_id, label)


async def list_feed_tokens(conn: asyncpg.Connection, account_id: UUID) -> FeedTokenList:
    return FeedTokenList(items=[_token(r) for r in await q.select_feed_tokens(conn, account_id)])


async def revoke_feed_token(conn: asyncpg.Connection, account_id: UUID, token_id: UUID) -> None:
    """The feed behind this token stops working at once."""
    if await q.delete_feed_token(conn, account_id, token_id) is None:
        raise NotFound("You have no feed token with this id.")


async def rotate_feed_token(
    conn: asyncpg.Connection, public_url: str, account_id: UUID, token_id: UUID
) -> FeedTokenCreated:
    """Revoke the token and issue a new one with the same label."""
    old = await q.delete_feed_token(conn, account_id, token_id)
    if old is None:
        raise NotFound("You have no feed token with this id.")
    return await _issue(conn, public_url, account_id, old["label"])
