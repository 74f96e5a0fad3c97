"""SQL for calendar feeds: personal feed tokens, and the rows each feed shows.

Feeds show a window of time: what ends after `since` (30 days ago) and starts before `until`
(a year ahead), plus cancelled events for 14 days after their cancellation. The `*_watermark`
queries return the latest moment anything that could change a feed's contents changed —
rows leaving it included (a change of visibility, a cancelled RSVP, the window moving past an
event) — which is what a feed's Last-Modified must be for If-Modified-Since to be exact.
One change it cannot see: an org dropped as co-host of an event (the link row is deleted);
the ETag, a hash of the bytes, still changes then.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from db.queries.hosts import hosted_by

# ---------------------------------------------------------------- feed tokens

_TOKEN_COLUMNS = "t.id, t.account_id, t.label, t.created_at"


async def insert_feed_token(
    conn: asyncpg.Connection, account_id: UUID, token_hash: bytes, label: str | None
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""
        INSERT INTO feed_tokens AS t (account_id, token_hash, label)
        VALUES ($1, $2, $3)
        RETURNING {_TOKEN_COLUMNS}
        """,
        account_id,
        token_hash,
        label,
    )
    assert row is not None
    return row


async def select_feed_tokens(conn: asyncpg.Connection, account_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""
        SELECT {_TOKEN_COLUMNS}
          FROM feed_tokens t
         WHERE t.account_id = $1
         ORDER BY t.created_at, t.id
        """,
        account_id,
    )


async def count_feed_tokens(conn: asyncpg.Connection, account_id: UUID) -> int:
    count = await conn.fetchval(
        "SELECT count(*) FROM feed_tokens WHERE account_id = $1", account_id
    )
    return int(count)


async def delete_feed_token(
    conn: asyncpg.Connection, account_id: UUID, token_id: UUID
) -> asyncpg.Record | None:
    """Revoke one of the account's tokens; the deleted row, or None if it is not theirs."""
    return await conn.fetchrow(
        f"""
        DELETE FROM feed_tokens t
         WHERE t.id = $1 AND t.account_id = $2
     RETURNING {_TOKEN_COLUMNS}
        """,
        token_id,
        account_id,
    )


async def select_feed_token_account(conn: asyncpg.Connection, token_hash: bytes) -> UUID | None:
    """The account behind a personal feed token (one lookup on the unique hash index)."""
    account_id: UUID | None = await conn.fetchval(
        "SELECT account_id FROM feed_tokens WHERE token_hash = $1", token_hash
    )
    return account_id


# ---------------------------------------------------------------- events

FEED_EVENT_COLUMNS = """
       e.id, e.org_id, e.kind, e.title, e.summary, e.description, e.languages, e.starts_at,
       e.ends_at, e.timezone, e.venue_name, e.venue_address, e.venue_lat, e.venue_lon, e.area,
       e.public_lat, e.public_lon, e.virtual_url, e.visibility, e.status, e.cancel_reason,
       e.location_policy, e.reveal_at, e.tags, e.sequence, e.created_at, e.updated_at,
       e.cancelled_at"""

# In the window: ends after `since` (or was cancelled lately) and starts before `until`.
_EVENT_WINDOW = """(e.ends_at > {since}::timestamptz
                OR (e.status = 'cancelled'
                    AND e.cancelled_at > {now}::timestamptz - interval '14 days'))
            AND e.starts_at < {until}::timestamptz"""

# The moments a row leaves the window (as `since` moves past it) and enters it (as `until`
# reaches it); NULL while still to come, so that greatest() skips them.
_MOMENTS = """CASE WHEN {end} + ({now}::timestamptz - {since}::timestamptz) <= {now}::timestamptz
                   THEN {end} + ({now}::timestamptz - {since}::timestamptz) END,
              CASE WHEN {start} - ({until}::timestamptz - {now}::timestamptz) <= {now}::timestamptz
                   THEN {start} - ({until}::timestamptz - {now}::timestamptz) END"""

_HOSTED_BY = hosted_by("event", "$1")


async def select_org_feed_events(
    conn: asyncpg.Connection,
    org_id: UUID,
    *,
    now: datetime,
    since: datetime,
    until: datetime,
    kinds: Sequence[str] | None,
    tags: Sequence[str] | None,
    language: str | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Public published, postponed and cancelled events the org hosts or co-hosts, by start."""
    window = _EVENT_WINDOW.format(since="$2", until="$3", now="$4")
    return await conn.fetch(
        f"""
        SELECT {FEED_EVENT_COLUMNS}
          FROM events e
         WHERE {_HOSTED_BY}
           AND e.visibility = 'public'
           AND e.status IN ('published', 'postponed', 'cancelled')
           AND {window}
           AND ($5::text[] IS NULL OR e.kind = ANY($5::text[]))
           AND ($6::text[] IS NULL OR e.tags @> $6::text[])
           AND ($7::text IS NULL
                OR EXISTS (SELECT 1 FROM unnest(e.languages) AS l
                            WHERE lower(l) = $7 OR lower(l) LIKE $7 || '-%'))
         ORDER BY e.starts_at, e.id
         LIMIT $8
        """,
        org_id,
        since,
        until,
        now,
        list(kinds) if kinds else None,
        list(tags) if tags else None,
        language.lower() if language else None,
        limit,
    )


async def select_org_feed_watermark(
    conn: asyncpg.Connection, org_id: UUID, *, now: datetime, since: datetime, until: datetime
) -> datetime:
    """The org's own change, and every change or window move of any of its non-draft events
    (whatever their visibility, so that one made private counts as it leaves the feed)."""
    moments = _MOMENTS.format(
        end="e.ends_at", start="e.starts_at", now="$2", since="$3", until="$4"
    )
    value: datetime = await conn.fetchval(
        f"""
        SELECT greatest((SELECT o.updated_at FROM orgs o WHERE o.id = $1),
                        max(greatest(e.updated_at, {moments},
                                     CASE WHEN e.cancelled_at + interval '14 days' <= $2::timestamptz
                                          THEN e.cancelled_at + interval '14 days' END)))
          FROM events e
         WHERE {_HOSTED_BY} AND e.status <> 'draft'
        """,
        org_id,
        now,
        since,
        until,
    )
    return value


async def select_feed_event(conn: asyncpg.Connection, event_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {FEED_EVENT_COLUMNS} FROM events e WHERE e.id = $1", event_id
    )


async def select_shift(conn: asyncpg.Connection, shift_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """
        SELECT s.id, s.event_id, s.name, s.role, s.starts_at, s.ends_at, s.sequence,
               s.created_at, s.updated_at
          FROM shifts s
         WHERE s.id = $1
        """,
        shift_id,
    )


# ---------------------------------------------------------------- trips

FEED_TRIP_COLUMNS = """
       t.id, t.org_id, t.title, t.summary, t.description, t.languages, t.starts_at, t.ends_at,
       t.timezone, t.meeting_name, t.meeting_address, t.meeting_lat, t.meeting_lon, t.area,
       t.public_lat, t.public_lon, t.location_policy, t.reveal_at, t.visibility, t.status,
       t.cancel_reason, t.sequence, t.created_at, t.updated_at, t.cancelled_at"""

FEED_ITEM_COLUMNS = """
       i.id, i.trip_id, i.position, i.kind, i.title, i.notes, i.starts_at, i.ends_at,
       i.place_name, i.place_address, i.place_lat, i.place_lon, i.area, i.public_lat,
       i.public_lon, i.visibility, i.sequence, i.created_at, i.updated_at"""


async def select_feed_trip(conn: asyncpg.Connection, trip_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {FEED_TRIP_COLUMNS} FROM trips t WHERE t.id = $1", trip_id)


async def select_trip_items(
    conn: asyncpg.Connection, trip_ids: Sequence[UUID], full_trip_ids: Sequence[UUID]
) -> list[asyncpg.Record]:
    """Itinerary items of these trips: every item of `full_trip_ids`, else those for everyone."""
    return await conn.fetch(
        f"""
        SELECT {FEED_ITEM_COLUMNS}
          FROM itinerary_items i
         WHERE i.trip_id = ANY($1::uuid[])
           AND (i.visibility = 'everyone' OR i.trip_id = ANY($2::uuid[]))
         ORDER BY i.trip_id, i.position
        """,
        list(trip_ids),
        list(full_trip_ids),
    )


# ---------------------------------------------------------------- one account's calendar

_ORGANIZES_EVENT = """EXISTS (SELECT 1 FROM memberships m
                WHERE m.account_id = $1 AND m.role IN ('organizer', 'owner')
                  AND (m.org_id = e.org_id
                       OR m.org_id IN (SELECT ec.org_id FROM event_cohosts ec
                                        WHERE ec.event_id = e.id)))"""
_ORGANIZES_TRIP = """EXISTS (SELECT 1 FROM memberships m
                WHERE m.account_id = $1 AND m.role IN ('organizer', 'owner')
                  AND (m.org_id = t.org_id
                       OR m.org_id IN (SELECT tc.org_id FROM trip_cohosts tc
                                        WHERE tc.trip_id = t.id)))"""


async def select_account_feed_rsvps(
    conn: asyncpg.Connection,
    account_id: UUID,
    *,
    now: datetime,
    since: datetime,
    until: datetime,
    limit: int,
) -> list[asyncpg.Record]:
    """The account's live RSVPs (going, waitlisted, attended) to events and shifts in the
    window, with the event, the shift, and the account's standing towards the event."""
    return await conn.fetch(
        f"""
        SELECT {FEED_EVENT_COLUMNS},
               r.id AS rsvp_id, r.status AS rsvp_status, r.updated_at AS rsvp_updated_at,
               s.id AS shift_id, s.name AS shift_name, s.role AS shift_role,
               s.starts_at AS shift_starts_at, s.ends_at AS shift_ends_at,
               s.sequence AS shift_sequence, s.created_at AS shift_created_at,
               s.updated_at AS shift_updated_at,
               EXISTS (SELECT 1 FROM rsvps c
                        WHERE c.event_id = e.id AND c.account_id = $1
                          AND c.status IN ('going', 'attended')) AS is_confirmed,
               {_ORGANIZES_EVENT} AS is_organizer
          FROM rsvps r
          JOIN events e ON e.id = r.event_id
          LEFT JOIN shifts s ON s.id = r.shift_id
         WHERE r.account_id = $1
           AND r.status IN ('going', 'waitlisted', 'attended')
           AND e.status <> 'draft'
           AND (coalesce(s.ends_at, e.ends_at) > $2::timestamptz
                OR (e.status = 'cancelled'
                    AND e.cancelled_at > $4::timestamptz - interval '14 days'))
           AND coalesce(s.starts_at, e.starts_at) < $3::timestamptz
         ORDER BY coalesce(s.starts_at, e.starts_at), r.id
         LIMIT $5
        """,
        account_id,
        since,
        until,
        now,
        limit,
    )


async def select_account_feed_trips(
    conn: asyncpg.Connection,
    account_id: UUID,
    *,
    since: datetime,
    until: datetime,
    limit: int,
) -> list[asyncpg.Record]:
    """Trips the account applied to (applied, waitlisted or accepted) in the window."""
    return await conn.fetch(
        f"""
        SELECT {FEED_TRIP_COLUMNS},
               a.id AS application_id, a.status AS application_status,
               a.updated_at AS application_updated_at,
               {_ORGANIZES_TRIP} AS is_organizer
          FROM trip_applications a
          JOIN trips t ON t.id = a.trip_id
         WHERE a.account_id = $1
           AND a.status IN ('applied', 'waitlisted', 'accepted')
           AND t.status <> 'draft'
           AND t.ends_at > $2
           AND t.starts_at < $3
         ORDER BY t.starts_at, t.id
         LIMIT $4
        """,
        account_id,
        since,
        until,
        limit,
    )


async def select_ride_details(
    conn: asyncpg.Connection, offer_ids: Sequence[UUID], booking_ids: Sequence[UUID]
) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
    """For rides in a feed: each offer's sequence and creation time, and the title, languages
    and time zone of its event or trip; each booking's creation time."""
    offers = await conn.fetch(
        """
        SELECT o.id, o.sequence, o.created_at, o.event_id, o.trip_id,
               coalesce(e.title, t.title) AS parent_title,
               coalesce(e.languages, t.languages) AS parent_languages,
               coalesce(e.timezone, t.timezone) AS parent_timezone
          FROM ride_offers o
          LEFT JOIN events e ON e.id = o.event_id
          LEFT JOIN trips t ON t.id = o.trip_id
         WHERE o.id = ANY($1::uuid[])
        """,
        list(offer_ids),
    )
    bookings = await conn.fetch(
        "SELECT b.id, b.created_at FROM ride_bookings b WHERE b.id = ANY($1::uuid[])",
        list(booking_ids),
    )
    return offers, bookings


async def select_account_feed_watermark(
    conn: asyncpg.Connection, account_id: UUID, *, now: datetime, since: datetime, until: datetime
) -> datetime | None:
    """The latest change to any RSVP, application, booking or offer of the account (whatever
    its status) or to their events, shifts and trips, and the latest window move among them."""
    event_moments = _MOMENTS.format(
        end="coalesce(s.ends_at, e.ends_at)",
        start="coalesce(s.starts_at, e.starts_at)",
        now="$2",
        since="$3",
        until="$4",
    )
    trip_moments = _MOMENTS.format(
        end="t.ends_at", start="t.starts_at", now="$2", since="$3", until="$4"
    )
    ride_leaves = (
        "CASE WHEN {d} + ($2::timestamptz - $3::timestamptz) <= $2::timestamptz"
        " THEN {d} + ($2::timestamptz - $3::timestamptz) END"
    )
    value: datetime | None = await conn.fetchval(
        f"""
        SELECT greatest(
            (SELECT max(greatest(r.updated_at, e.updated_at, s.updated_at, {event_moments},
                                 CASE WHEN e.cancelled_at + interval '14 days' <= $2::timestamptz
                                      THEN e.cancelled_at + interval '14 days' END))
               FROM rsvps r
               JOIN events e ON e.id = r.event_id
               LEFT JOIN shifts s ON s.id = r.shift_id
              WHERE r.account_id = $1),
            (SELECT max(greatest(a.updated_at, t.updated_at, {trip_moments},
                                 (SELECT max(i.updated_at) FROM itinerary_items i
                                   WHERE i.trip_id = t.id)))
               FROM trip_applications a
               JOIN trips t ON t.id = a.trip_id
              WHERE a.account_id = $1),
            (SELECT max(greatest(b.updated_at, o.updated_at,
                                 {ride_leaves.format(d="coalesce(o.return_departs_at, o.departs_at)")}))
               FROM ride_bookings b
               JOIN ride_offers o ON o.id = b.offer_id
              WHERE b.rider_id = $1),
            (SELECT max(greatest(o.updated_at,
                                 {ride_leaves.format(d="coalesce(o.return_departs_at, o.departs_at)")}))
               FROM ride_offers o
              WHERE o.driver_id = $1))
        """,
        account_id,
        now,
        since,
        until,
    )
    return value


# ---------------------------------------------------------------- fingerprints
# A fingerprint changes whenever anything a feed shows changes: a cached feed whose fingerprint
# still matches is the same feed, and is served without fetching or rendering its rows. It
# rests on counters that move on every change (change_seq, the calendar `sequence` columns,
# statuses, row counts), not on updated_at alone, which does not move between two changes made
# in one transaction. Of what time changes, it holds timed reveals that have come; the window
# moving is not in it: cached feeds are re-rendered every few minutes for that
# (api/response_caches.py).


async def select_org_feed_fingerprint(conn: asyncpg.Connection, slug: str) -> str | None:
    """The org's name and version, and the count and highest change_seq of the events it hosts
    or co-hosts (a deleted event or a dropped co-host lowers the count); None if no such org."""
    value: str | None = await conn.fetchval(
        """
        SELECT concat_ws('/', o.id, o.name, o.updated_at, x.n, x.seq)
          FROM orgs o
         CROSS JOIN LATERAL (
               SELECT count(*) AS n, max(h.change_seq) AS seq
                 FROM (SELECT e.change_seq FROM events e WHERE e.org_id = o.id
                       UNION ALL
                       SELECT e.change_seq
                         FROM event_cohosts ec JOIN events e ON e.id = ec.event_id
                        WHERE ec.org_id = o.id) h) x
         WHERE o.slug = $1
        """,
        slug,
    )
    return value


async def select_account_feed_fingerprint(conn: asyncpg.Connection, account_id: UUID) -> str:
    """A digest of every row behind the account's personal feed and of its versions: RSVPs and
    their events and shifts, trip applications, their trips and itineraries, ride bookings and
    offers with their events, and the account's roles (which decide what places it sees)."""
    value: str = await conn.fetchval(
        """
        SELECT md5(concat_ws('|',
            (SELECT string_agg(concat_ws(',', r.id, r.status, r.updated_at, e.change_seq,
                                         e.reveal_at <= now(), s.sequence, s.updated_at),
                               ';' ORDER BY r.id)
               FROM rsvps r
               JOIN events e ON e.id = r.event_id
               LEFT JOIN shifts s ON s.id = r.shift_id
              WHERE r.account_id = $1),
            (SELECT string_agg(concat_ws(',', a.id, a.status, a.updated_at, t.change_seq,
                                         t.reveal_at <= now(),
                                         (SELECT concat_ws(':', count(*), sum(i.sequence),
                                                           max(i.updated_at))
                                            FROM itinerary_items i WHERE i.trip_id = t.id)),
                               ';' ORDER BY a.id)
               FROM trip_applications a
               JOIN trips t ON t.id = a.trip_id
              WHERE a.account_id = $1),
            (SELECT string_agg(ride, ';' ORDER BY ride)
               FROM (SELECT concat_ws(',', o.id, o.sequence, o.status, o.updated_at,
                                      o.departs_at, o.return_departs_at, o.event_changed,
                                      o.pickup_purged_at, md5(o.pickup_ciphertext), e.change_seq,
                                      t.change_seq, b.id, b.status, b.updated_at) AS ride
                       FROM ride_bookings b
                       JOIN ride_offers o ON o.id = b.offer_id
                       LEFT JOIN events e ON e.id = o.event_id
                       LEFT JOIN trips t ON t.id = o.trip_id
                      WHERE b.rider_id = $1
                     UNION ALL
                     SELECT concat_ws(',', o.id, o.sequence, o.status, o.updated_at,
                                      o.departs_at, o.return_departs_at, o.event_changed,
                                      o.pickup_purged_at, md5(o.pickup_ciphertext), e.change_seq,
                                      t.change_seq)
                       FROM ride_offers o
                       LEFT JOIN events e ON e.id = o.event_id
                       LEFT JOIN trips t ON t.id = o.trip_id
                      WHERE o.driver_id = $1) rides),
            (SELECT string_agg(concat_ws(',', m.org_id, m.role), ';' ORDER BY m.org_id)
               FROM memberships m
              WHERE m.account_id = $1)))
        """,
        account_id,
    )
    return value
