"""Public calendar feeds: an org's, an event's (private ones through the share link), a trip's."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import asyncpg

from api.errors import NotFound
from api.services import access, events, feed_rendering, locations, trip_access, trips
from api.services.feed_items import event_item, itinerary_item, trip_item
from api.services.feed_rendering import MAX_ITEMS, Feed, Reader
from db.queries import events as event_queries
from db.queries import feeds as q
from db.queries import orgs
from db.queries import trips as trip_queries


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
    return await feed_rendering.render_feed(org["name"], items, watermark, private=False)


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
    return await feed_rendering.render_feed(
        item.summary, [item], row["updated_at"], private=private
    )


async def trip_feed(
    conn: asyncpg.Connection, trip_id: UUID, account_id: UUID | None, reader: Reader
) -> Feed:
    """A trip and its itinerary as the caller sees them (anonymous: public trips, public items)."""
    trip = await trip_queries.select_trip(conn, trip_id, account_id)
    if trip is None or not access.can_view(trip):
        raise NotFound(trip_access.NOT_VISIBLE)
    full = access.is_organizer(trip) or access.is_confirmed(trip)
    exact = trips.sees_exact_places(trip, reader.now)
    rows = await q.select_trip_items(conn, [trip["id"]], [trip["id"]] if full else [])
    items = [trip_item(trip, reader, exact=exact)]
    items += [itinerary_item(row, trip, reader, exact=exact) for row in rows]
    private = account_id is not None or trip["visibility"] != "public"
    return await feed_rendering.render_feed(
        items[0].summary, items, trip["updated_at"], private=private
    )


async def org_feed_fingerprint(conn: asyncpg.Connection, slug: str) -> str | None:
    """Moves whenever the org's feed may have changed (time aside); None if no such org."""
    return await q.select_org_feed_fingerprint(conn, slug)
