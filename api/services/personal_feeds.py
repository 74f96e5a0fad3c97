"""Feeds behind a secret: an RSVP's manage link, and a personal feed token.

The personal feed holds my events (waitlisted ones TENTATIVE), shifts, trips with their
itineraries (participant-only items once accepted), and rides.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg

from api.crypto import Keyring, token_hash
from api.errors import NotFound
from api.ical import FeedItem
from api.services import feed_rendering, locations, my_rides, trips
from api.services.access import Standing
from api.services.feed_items import (
    event_item,
    feed_words,
    item_language,
    itinerary_item,
    ride_item,
    shift_item,
    trip_item,
)
from api.services.feed_rendering import MAX_ITEMS, Feed, Reader
from api.services.feed_tokens import feed_token_account
from api.services.rsvp_keys import MANAGE_PREFIX
from api.texts import pick
from db.queries import feeds as q
from db.queries import rsvps as rsvp_queries


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
    name = pick(row["title"], item_language(row, reader.languages))
    return await feed_rendering.render_feed(name, items, None, private=True)


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
    return await feed_rendering.render_feed(
        feed_words(reader.languages)["my_calendar"], items, watermark, private=True
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
    legs = await my_rides.rides_for_calendar(
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


async def personal_feed_fingerprint(conn: asyncpg.Connection, account_id: UUID) -> str:
    """Moves whenever the account's personal feed may have changed (time aside)."""
    return await q.select_account_feed_fingerprint(conn, account_id)
