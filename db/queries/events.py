"""SQL for events and series, and the discovery lists (what hosts share: db.queries.hosts)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg

from db.queries import hosts
from db.queries.rsvps import EVENT_LANGUAGE_NEEDS, EVENT_QUEUE_WAITING

#: the columns an organizer edits (insert and update write all of them)
WRITABLE_COLUMNS = hosts.HOSTS["event"].writable

EVENT_COLUMNS = (
    """
       e.id, e.org_id, e.series_id, e.series_index, e.kind, e.title, e.summary, e.description,
       e.languages, e.starts_at, e.ends_at, e.timezone, e.venue_name, e.venue_address,
       e.venue_lat, e.venue_lon, e.area, e.public_lat, e.public_lon, e.virtual_url,
       e.visibility, e.status, e.cancel_reason, e.capacity, e.places_taken,
       e.places_waitlisted, e.location_policy, e.reveal_at, e.tags, e.accessibility_notes,
       e.contact, e.hide_counts, e.sequence, e.change_seq, e.created_at, e.updated_at,
       e.published_at, e.cancelled_at, (e.share_token_hash IS NOT NULL) AS has_share_link,
       (SELECT o.slug FROM orgs o WHERE o.id = e.org_id) AS org_slug,
       """
    + hosts.cohost_slugs("event")
    + ","
    + EVENT_LANGUAGE_NEEDS
    + ","
    + EVENT_QUEUE_WAITING
)


def _access(param: str) -> str:
    """The caller's standing towards each event; `param` is the account (NULL = anonymous)."""
    return f"""{hosts.rank_columns("event", param)},
       EXISTS (SELECT 1 FROM rsvps r
                WHERE r.event_id = e.id AND r.account_id = {param}::uuid
                  AND r.status IN ('going', 'attended')) AS is_confirmed"""


async def select_event(
    conn: asyncpg.Connection,
    event_id: UUID,
    account_id: UUID | None,
    *,
    for_update: bool = False,
) -> asyncpg.Record | None:
    """The event with the caller's standing (host_rank, cohost_rank, …, is_confirmed)."""
    lock = "FOR UPDATE OF e" if for_update else ""
    return await conn.fetchrow(
        f"""
        SELECT {EVENT_COLUMNS}, {_access("$2")}
          FROM events e
         WHERE e.id = $1
         {lock}
        """,
        event_id,
        account_id,
    )


async def select_event_by_share_hash(
    conn: asyncpg.Connection, token_hash: bytes, account_id: UUID | None
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""
        SELECT {EVENT_COLUMNS}, {_access("$2")}
          FROM events e
         WHERE e.share_token_hash = $1 AND e.visibility = 'private'
        """,
        token_hash,
        account_id,
    )


async def update_share_token_hash(
    conn: asyncpg.Connection, event_id: UUID, token_hash: bytes | None
) -> None:
    await conn.execute(
        """
        UPDATE events
           SET share_token_hash = $2,
               change_seq       = nextval('change_seq'),
               updated_at       = now()
         WHERE id = $1
        """,
        event_id,
        token_hash,
    )


async def select_events_version(conn: asyncpg.Connection) -> int:
    """The highest change_seq of any event: one backward step on its index."""
    version = await conn.fetchval("SELECT coalesce(max(change_seq), 0) FROM events")
    return int(version)


async def claim_due_reveals(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Mark up to `limit` published events whose reveal time has come as notified; return them.

    SKIP LOCKED lets several workers share the work; each event is claimed once.
    """
    return await conn.fetch(
        """
        UPDATE events e
           SET reveal_notified_at = now()
         WHERE e.id IN (SELECT d.id FROM events d
                         WHERE d.location_policy = 'reveal_at'
                           AND d.reveal_notified_at IS NULL
                           AND d.reveal_at <= now()
                           AND d.status = 'published'
                         ORDER BY d.reveal_at
                         LIMIT $1
                           FOR UPDATE SKIP LOCKED)
     RETURNING e.id, e.org_id, e.title, e.starts_at, e.ends_at, e.area, e.sequence
        """,
        limit,
    )


async def delete_draft_event(conn: asyncpg.Connection, event_id: UUID) -> bool:
    """Delete the event if it is still a draft; False otherwise."""
    status = await conn.execute("DELETE FROM events WHERE id = $1 AND status = 'draft'", event_id)
    return status != "DELETE 0"


# ---------------------------------------------------------------- lists


class _Params:
    """Numbered parameters for a query assembled from this module's fixed fragments."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


# an index backward scan (events_listed_duration_idx): one row, whatever the table size
_LONGEST = """SELECT coalesce(max(x.ends_at - x.starts_at), interval '0')
                 FROM events x WHERE x.status <> 'draft'"""

_DISTANCE = """CROSS JOIN LATERAL (
           SELECT 2 * 6371.0088 * asin(least(1, sqrt(
                      power(sin(radians(e.public_lat - {lat}) / 2), 2)
                      + cos(radians({lat})) * cos(radians(e.public_lat))
                        * power(sin(radians(e.public_lon - {lon}) / 2), 2)))) AS distance_km
       ) d"""


#: terms of one query looked for at most (`q` is at most 200 characters anyway)
MAX_SEARCH_TERMS = 32
_SEARCH_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')


def search_terms(text: str) -> tuple[list[str], list[bool], list[int]]:
    """A query in web-search syntax as (terms, excluded?, clause number): words and "quoted
    phrases" must all match, `-word` must not, `or` starts another clause. Anything parses;
    the terms go to SQL as parameters, and PostgreSQL's parser makes lexemes of them."""
    terms: list[str] = []
    negated: list[bool] = []
    clauses: list[int] = []
    clause = 0
    for match in _SEARCH_TOKEN.finditer(text):
        minus, phrase, word = match.groups()
        if word is not None:
            if word.lower() == "or":
                if clauses and clauses[-1] == clause:
                    clause += 1
                continue
            minus, phrase = ("-", word[1:]) if word.startswith("-") else ("", word)
        term = phrase.replace('"', " ").strip()
        if term and len(terms) < MAX_SEARCH_TERMS:
            terms.append(term)
            negated.append(minus == "-")
            clauses.append(clause)
    return terms, negated, clauses


# 0 when the whole query matches the title (weight A), 1 the summary or tags (B), else 2
_SEARCH_TIER = """CASE WHEN ts_filter(e.search, '{{a}}') @@ {tsq} THEN 0
                    WHEN ts_filter(e.search, '{{b}}') @@ {tsq} THEN 1
                    ELSE 2 END"""


async def select_events(
    conn: asyncpg.Connection,
    *,
    account_id: UUID | None,
    org_id: UUID | None = None,
    statuses: Sequence[str],
    starts_from: datetime | None = None,
    starts_to: datetime | None = None,
    kinds: Sequence[str] | None = None,
    tags: Sequence[str] | None = None,
    org_filter_id: UUID | None = None,
    language: str | None = None,
    near: tuple[float, float] | None = None,
    radius_km: float | None = None,
    box: tuple[float, float, float | None, float | None] | None = None,
    text: str | None = None,
    text_languages: Sequence[str] = (),
    after: tuple[Any, ...] | None = None,
    limit: int,
) -> list[asyncpg.Record]:
    """Events the caller may see in a list, by start time (or by distance with `near`).

    `text` (see search_terms) is stemmed in each of `text_languages` and without stemming;
    its matches come title first (`search_tier` 0), then summary or tags (1), then the rest
    (2), each tier by start time, unless `near` sorts by distance.

    With `org_id`: that org's and its co-hosted events (its organizers also see drafts and
    private events). Without: discovery — public events, plus the caller's orgs' members-only.
    `box` is (lat_min, lat_max, lon_min, lon_max) for the index-friendly pre-filter; lon bounds
    are None where the box would cross the antimeridian.
    """
    p = _Params()
    a = p.add(account_id)
    where: list[str] = []
    st = p.add(list(statuses))
    member = hosts.member_of_host("event", a, hosts.ANY_ROLE)
    organizer = hosts.member_of_host("event", a, hosts.ORGANIZER_ROLE)
    if org_id is not None:
        o = p.add(org_id)
        where.append(hosts.hosted_by("event", o))
        where.append(
            f"""((e.status = ANY({st}::text[]) AND e.visibility = 'public')
              OR (e.status = ANY({st}::text[]) AND e.visibility = 'members' AND {member})
              OR ((e.status = 'draft' OR e.status = ANY({st}::text[])) AND {organizer}))"""
        )
    else:
        where.append(f"e.status = ANY({st}::text[]) AND e.status <> 'draft'")
        if account_id is None:
            where.append("e.visibility = 'public'")
        else:
            where.append(f"(e.visibility = 'public' OR (e.visibility = 'members' AND {member}))")
    since = f"coalesce({p.add(starts_from)}::timestamptz, now())"
    where.append(f"e.ends_at > {since}")
    # The same window as a start-time bound (nothing lasts longer than the longest event), so
    # the start-time indexes range-scan upcoming events instead of walking past ones.
    where.append(f"e.starts_at >= {since} - ({_LONGEST})")
    if starts_to is not None:
        where.append(f"e.starts_at < {p.add(starts_to)}")
    if kinds:
        where.append(f"e.kind = ANY({p.add(list(kinds))}::text[])")
    if tags:
        where.append(f"e.tags @> {p.add(list(tags))}::text[]")
    if org_filter_id is not None:
        f = p.add(org_filter_id)
        where.append(hosts.hosted_by("event", f))
    if language is not None:
        lang = p.add(language.lower())
        where.append(
            f"EXISTS (SELECT 1 FROM unnest(e.languages) AS l "
            f"WHERE lower(l) = {lang} OR lower(l) LIKE {lang} || '-%')"
        )
    tier_column = "NULL::integer"
    if text is not None:
        # a scalar sub-select: computed once per query, whatever plan is cached
        terms, negated, clauses = search_terms(text)
        tsq = (
            f"(SELECT search_query({p.add(list(text_languages))}::text[], {p.add(terms)}::text[],"
            f" {p.add(negated)}::boolean[], {p.add(clauses)}::integer[]))"
        )
        where.append(f"e.search @@ {tsq}")
        tier_column = _SEARCH_TIER.format(tsq=tsq)
    distance_join = ""
    distance_column = "NULL::double precision"
    if near is not None and radius_km is not None and box is not None:
        lat, lon = p.add(near[0]), p.add(near[1])
        distance_join = _DISTANCE.format(lat=lat, lon=lon)
        distance_column = "d.distance_km"
        where.append(f"e.public_lat BETWEEN {p.add(box[0])} AND {p.add(box[1])}")
        if box[2] is not None and box[3] is not None:
            where.append(f"e.public_lon BETWEEN {p.add(box[2])} AND {p.add(box[3])}")
        where.append(f"d.distance_km <= {p.add(radius_km)}")
        order, page_order = "d.distance_km, e.id", "page.distance_km, page.id"
        if after is not None:
            where.append(f"(d.distance_km, e.id) > ({p.add(after[0])}::float8, {p.add(after[1])})")
    elif text is not None:
        order, page_order = (
            "search_tier, e.starts_at, e.id",
            "page.search_tier, page.starts_at, page.id",
        )
        if after is not None:
            where.append(
                f"({tier_column}, e.starts_at, e.id) > ({p.add(after[0])}::integer,"
                f" {p.add(after[1])}::timestamptz, {p.add(after[2])})"
            )
    else:
        order, page_order = "e.starts_at, e.id", "page.starts_at, page.id"
        if after is not None:
            where.append(
                f"(e.starts_at, e.id) > ({p.add(after[0])}::timestamptz, {p.add(after[1])})"
            )
    lim = p.add(limit)
    # The page's ids first, the columns (with their sub-selects) for those rows only: a sorted
    # page (by distance, or text matches by time) would otherwise compute them for every
    # candidate row before the sort.
    return await conn.fetch(
        f"""
        SELECT {EVENT_COLUMNS}, {_access(a)}, page.distance_km, page.search_tier
          FROM (SELECT e.id, e.starts_at, {distance_column} AS distance_km,
                       {tier_column} AS search_tier
                  FROM events e
                  {distance_join}
                 WHERE {" AND ".join(where)}
                 ORDER BY {order}
                 LIMIT {lim}) page
          JOIN events e ON e.id = page.id
         ORDER BY {page_order}
        """,
        *p.values,
    )


# ---------------------------------------------------------------- series

SERIES_COLUMNS = """
       s.id, s.org_id, s.frequency, s.interval, s.until_date, s.count, s.timezone,
       s.created_at, s.updated_at, (SELECT o.slug FROM orgs o WHERE o.id = s.org_id) AS org_slug"""


async def insert_series(
    conn: asyncpg.Connection,
    org_id: UUID,
    created_by: UUID,
    frequency: str,
    interval: int,
    until_date: date | None,
    count: int | None,
    timezone: str,
) -> UUID:
    series_id: UUID = await conn.fetchval(
        """
        INSERT INTO event_series (org_id, created_by, frequency, interval, until_date, count,
                                  timezone)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        RETURNING id
        """,
        org_id,
        created_by,
        frequency,
        interval,
        until_date,
        count,
        timezone,
    )
    return series_id


async def select_series(conn: asyncpg.Connection, series_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {SERIES_COLUMNS} FROM event_series s WHERE s.id = $1", series_id
    )


async def touch_series(conn: asyncpg.Connection, series_id: UUID) -> None:
    await conn.execute("UPDATE event_series SET updated_at = now() WHERE id = $1", series_id)


async def select_series_events(
    conn: asyncpg.Connection, series_id: UUID, account_id: UUID | None
) -> list[asyncpg.Record]:
    """Every occurrence, in order, with the caller's standing."""
    return await conn.fetch(
        f"""
        SELECT {EVENT_COLUMNS}, {_access("$2")}
          FROM events e
         WHERE e.series_id = $1
         ORDER BY e.series_index, e.id
        """,
        series_id,
        account_id,
    )


async def select_series_event_id(
    conn: asyncpg.Connection, series_id: UUID, index: int
) -> UUID | None:
    event_id: UUID | None = await conn.fetchval(
        "SELECT id FROM events WHERE series_id = $1 AND series_index = $2", series_id, index
    )
    return event_id


async def select_series_event_ids_from(
    conn: asyncpg.Connection, series_id: UUID, index: int
) -> list[UUID]:
    """Occurrences from `index` on that are not cancelled, in order."""
    rows = await conn.fetch(
        """
        SELECT id FROM events
         WHERE series_id = $1 AND series_index >= $2 AND status <> 'cancelled'
         ORDER BY series_index
        """,
        series_id,
        index,
    )
    return [r["id"] for r in rows]
