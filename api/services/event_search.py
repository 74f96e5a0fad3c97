"""Finding events: discovery and an org's list, by time, by text relevance or by distance."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from api.errors import NotFound, RuleViolation
from api.pagination import decode_cursor, split_page
from api.services.events import event_view
from api.services.locations import bounding_box, check_near
from db.queries import events, orgs
from schemas.events import EventPage
from schemas.problems import FieldError


class EventQuery(msgspec.Struct, kw_only=True):
    """Validated list filters (the routes parse the query string into this)."""

    starts_from: datetime | None = None
    starts_to: datetime | None = None
    kinds: Sequence[str] | None = None
    tags: Sequence[str] | None = None
    org: str | None = None
    language: str | None = None
    near: tuple[float, float] | None = None
    radius_km: float | None = None
    text: str | None = None
    include_cancelled: bool = False


def check_query(query: EventQuery) -> None:
    """Rules between filters (422), after each filter matched its schema."""
    check_near(query.near, query.radius_km)
    if query.starts_from and query.starts_to and query.starts_from > query.starts_to:
        raise RuleViolation(
            "`from` is after `to`; no event can be in that window.",
            errors=[FieldError(pointer="#/query/to", detail="must not be before from")],
        )


async def events_version(conn: asyncpg.Connection) -> int:
    """A number that changes whenever any event (or its counts) changes."""
    return await events.select_events_version(conn)


#: `q` is always stemmed as Spanish and English (and unstemmed), whatever the caller reads
SEARCH_LANGUAGES = ("es", "en")
#: and in the caller's first few languages: a long Accept-Language adds no more work
SEARCH_CALLER_LANGUAGES = 3


def search_languages(languages: Sequence[str]) -> list[str]:
    """The languages a query is stemmed in: the caller's first few, then Spanish and English."""
    return [*languages[:SEARCH_CALLER_LANGUAGES], *SEARCH_LANGUAGES]


#: a distance search looks first this far past where its page starts (or 1/16 of its radius)
FIRST_RING_KM = 2.0


async def _nearest_first(
    select: Callable[[float], Awaitable[list[asyncpg.Record]]],
    radius_km: float,
    start_km: float,
    limit: int,
) -> list[asyncpg.Record]:
    """A page by distance, looked for in widening rings: a page sorted by distance must sort
    every candidate in its circle, and a dense city has thousands. When a ring holds more than
    a page, the page is exact (whatever lies beyond the ring is farther than all it holds), so
    the work follows the page, not the density; each ring that falls short doubles."""
    width = min(FIRST_RING_KM, radius_km / 16)
    # at most log2(20,000 km / 2 km) ≈ 14 rings; none for a radius too small to split
    while width > 0 and start_km + width < radius_km:
        rows = await select(start_km + width)
        if len(rows) > limit:
            return rows
        width *= 2
    return await select(radius_km)


async def list_events(
    conn: asyncpg.Connection,
    public_url: str | None,
    account_id: UUID | None,
    query: EventQuery,
    cursor: str | None,
    limit: int,
    languages: Sequence[str],
    *,
    org_slug: str | None = None,
) -> EventPage:
    """Discovery (org_slug None) or one org's events (with co-hosted ones)."""
    check_query(query)
    org_id = None
    if org_slug is not None:
        org = await orgs.select_org(conn, org_slug)
        if org is None:
            raise NotFound(f"No organization has the slug {org_slug!r}.")
        org_id = org["id"]
    org_filter_id = None
    if query.org is not None:
        org = await orgs.select_org(conn, query.org)
        if org is None:
            return EventPage(items=[])
        org_filter_id = org["id"]
    by_distance = query.near is not None
    by_relevance = query.text is not None and not by_distance
    after = decode_cursor(
        cursor,
        tuple[float, UUID]
        if by_distance
        else tuple[int, datetime, UUID]
        if by_relevance
        else tuple[datetime, UUID],
    )
    statuses = ["published", "postponed"] + (["cancelled"] if query.include_cancelled else [])

    async def select(radius_km: float | None) -> list[asyncpg.Record]:
        return await events.select_events(
            conn,
            account_id=account_id,
            org_id=org_id,
            statuses=statuses,
            starts_from=query.starts_from,
            starts_to=query.starts_to,
            kinds=query.kinds,
            tags=[t.strip().lower() for t in query.tags] if query.tags else None,
            org_filter_id=org_filter_id,
            language=query.language,
            near=query.near,
            radius_km=radius_km,
            box=bounding_box(*query.near, radius_km)
            if query.near and radius_km is not None
            else None,
            text=query.text,
            text_languages=search_languages(languages),
            after=after,
            limit=limit + 1,
        )

    if query.near is not None and query.radius_km is not None:
        rows = await _nearest_first(select, query.radius_km, after[0] if after else 0.0, limit)
    else:
        rows = await select(None)
    page, next_cursor = split_page(
        rows,
        limit,
        (lambda r: (r["distance_km"], r["id"]))
        if by_distance
        else (lambda r: (r["search_tier"], r["starts_at"], r["id"]))
        if by_relevance
        else (lambda r: (r["starts_at"], r["id"])),
    )
    return EventPage(
        items=[event_view(r, languages, public_url=public_url) for r in page],
        next_cursor=next_cursor,
    )
