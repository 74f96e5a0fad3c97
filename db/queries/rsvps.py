"""SQL for RSVPs: the locked place pools (event or shift), booking, the waitlist, lists."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

RSVP_COLUMNS = (
    "r.id, r.event_id, r.shift_id, r.org_id, r.account_id, r.alias, r.alias_ciphertext, "
    "r.guests, r.places, r.language_needs, r.status, r.arrival, r.created_at, r.updated_at, "
    "r.cancelled_at, r.checked_in_at"
)

# Which RSVPs share one pool of places: the event's own (no shift), or one shift's.
# Chosen from this fixed mapping; `$1` is the event id and `$2` the shift id (NULL for the event).
_POOL = {
    False: "r.event_id = $1 AND r.shift_id IS NULL AND $2::uuid IS NULL",
    True: "r.event_id = $1 AND r.shift_id = $2",
}


# ---------------------------------------------------------------- the place pools


async def lock_event(conn: asyncpg.Connection, event_id: UUID) -> asyncpg.Record | None:
    """Lock the event row and return its place counters.

    Every change to places locks the event first (then the shift, always in this order), so
    bookings, cancellations and promotions of one event run one after another and never
    overbook; the CHECK (places_taken <= capacity) stays as the backstop.
    """
    return await conn.fetchrow(
        """
        SELECT id, org_id, status, visibility, starts_at, ends_at, capacity,
               places_taken, places_waitlisted
          FROM events
         WHERE id = $1
           FOR UPDATE
        """,
        event_id,
    )


async def lock_shift(
    conn: asyncpg.Connection, event_id: UUID, shift_id: UUID
) -> asyncpg.Record | None:
    """Lock a shift of this event (after its event) and return its place counters."""
    return await conn.fetchrow(
        """
        SELECT id, event_id, org_id, starts_at, ends_at, capacity,
               places_taken, places_waitlisted
          FROM shifts
         WHERE id = $1 AND event_id = $2
           FOR UPDATE
        """,
        shift_id,
        event_id,
    )


async def add_places(
    conn: asyncpg.Connection,
    event_id: UUID,
    shift_id: UUID | None,
    taken: int,
    waitlisted: int,
) -> asyncpg.Record:
    """Move the pool's counters by these deltas and give the event a new change_seq.

    The CHECK (places_taken <= capacity) on both tables is the backstop behind the lock.
    Returns the pool's new going/waitlisted/capacity.
    """
    if shift_id is None:
        row = await conn.fetchrow(
            """
            UPDATE events
               SET places_taken      = places_taken + $2,
                   places_waitlisted = places_waitlisted + $3,
                   change_seq        = nextval('change_seq')
             WHERE id = $1
         RETURNING org_id, places_taken AS going, places_waitlisted AS waitlisted, capacity
            """,
            event_id,
            taken,
            waitlisted,
        )
    else:
        row = await conn.fetchrow(
            """
            WITH event AS (
                UPDATE events SET change_seq = nextval('change_seq') WHERE id = $1
            )
            UPDATE shifts
               SET places_taken      = places_taken + $3,
                   places_waitlisted = places_waitlisted + $4
             WHERE id = $2 AND event_id = $1
         RETURNING org_id, places_taken AS going, places_waitlisted AS waitlisted, capacity
            """,
            event_id,
            shift_id,
            taken,
            waitlisted,
        )
    assert row is not None
    return row


async def waitlist_blocks(
    conn: asyncpg.Connection, event_id: UUID, shift_id: UUID | None, capacity: int | None
) -> bool:
    """Is anyone who could ever be admitted waiting in this pool? (Then newcomers queue too.)"""
    return bool(
        await conn.fetchval(
            f"""
            SELECT EXISTS (
                SELECT 1
                  FROM rsvps r
                 WHERE {_POOL[shift_id is not None]}
                   AND r.status = 'waitlisted'
                   AND ($3::int IS NULL OR r.places <= $3)
            )
            """,
            event_id,
            shift_id,
            capacity,
        )
    )


async def promote_queue(
    conn: asyncpg.Connection,
    event_id: UUID,
    shift_id: UUID | None,
    free: int | None,
    capacity: int | None,
) -> list[asyncpg.Record]:
    """Promote the longest prefix of the waitlist (by arrival) whose places fit in `free`.

    Strict arrival order: the running sum only grows, so a group that does not fit stops
    everyone behind it. A group larger than the whole capacity can never be admitted and is
    left out of the queue so it holds nobody up. `free` NULL means unlimited.
    """
    return await conn.fetch(
        f"""
        WITH queue AS (
            SELECT r.id, sum(r.places) OVER (ORDER BY r.arrival) AS running
              FROM rsvps r
             WHERE {_POOL[shift_id is not None]}
               AND r.status = 'waitlisted'
               AND ($4::int IS NULL OR r.places <= $4)
        )
        UPDATE rsvps r
           SET status = 'going', updated_at = now()
          FROM queue q
         WHERE r.id = q.id
           AND ($3::int IS NULL OR q.running <= $3)
     RETURNING r.id, r.places, r.account_id, r.arrival
        """,
        event_id,
        shift_id,
        free,
        capacity,
    )


# ---------------------------------------------------------------- one RSVP


async def insert_rsvp(
    conn: asyncpg.Connection,
    *,
    rsvp_id: UUID,
    event_id: UUID,
    shift_id: UUID | None,
    org_id: UUID,
    account_id: UUID | None,
    alias_ciphertext: bytes,
    contact_ciphertext: bytes | None,
    guests: int,
    language_needs: list[str],
    status: str,
    manage_token_hash: bytes,
) -> asyncpg.Record | None:
    """Insert an RSVP (its alias and contact sealed); None when the account already has a
    live one for this event or shift."""
    return await conn.fetchrow(
        f"""
        INSERT INTO rsvps AS r (id, event_id, shift_id, org_id, account_id, alias_ciphertext,
                                contact_ciphertext, guests, language_needs, status,
                                manage_token_hash)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        ON CONFLICT DO NOTHING
        RETURNING {RSVP_COLUMNS}
        """,
        rsvp_id,
        event_id,
        shift_id,
        org_id,
        account_id,
        alias_ciphertext,
        contact_ciphertext,
        guests,
        language_needs,
        status,
        manage_token_hash,
    )


async def select_rsvp(
    conn: asyncpg.Connection, rsvp_id: UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    lock = "FOR UPDATE" if for_update else ""
    return await conn.fetchrow(
        f"""
        SELECT {RSVP_COLUMNS}, r.contact_ciphertext, r.manage_token_hash
          FROM rsvps r
         WHERE r.id = $1 {lock}
        """,
        rsvp_id,
    )


async def select_rsvp_by_token_hash(
    conn: asyncpg.Connection, manage_token_hash: bytes
) -> asyncpg.Record | None:
    """The RSVP behind a manage link (an indexed equality on the token's SHA-256)."""
    return await conn.fetchrow(
        f"SELECT {RSVP_COLUMNS} FROM rsvps r WHERE r.manage_token_hash = $1",
        manage_token_hash,
    )


async def select_live_account_rsvp(
    conn: asyncpg.Connection, event_id: UUID, shift_id: UUID | None, account_id: UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""
        SELECT {RSVP_COLUMNS}
          FROM rsvps r
         WHERE {_POOL[shift_id is not None]}
           AND r.account_id = $3
           AND r.status <> 'cancelled'
        """,
        event_id,
        shift_id,
        account_id,
    )


async def waitlist_position(conn: asyncpg.Connection, rsvp: asyncpg.Record) -> int | None:
    """1 for the head of the waitlist; None when the RSVP is not waitlisted."""
    if rsvp["status"] != "waitlisted":
        return None
    position = await conn.fetchval(
        f"""
        SELECT count(*)
          FROM rsvps r
         WHERE {_POOL[rsvp["shift_id"] is not None]}
           AND r.status = 'waitlisted'
           AND r.arrival <= $3
        """,
        rsvp["event_id"],
        rsvp["shift_id"],
        rsvp["arrival"],
    )
    return int(position)


async def update_rsvp_status(
    conn: asyncpg.Connection, rsvp_id: UUID, status: str
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""
        UPDATE rsvps AS r
           SET status        = $2,
               updated_at    = now(),
               cancelled_at  = CASE WHEN $2 = 'cancelled' THEN now() ELSE r.cancelled_at END,
               checked_in_at = CASE WHEN $2 = 'attended' THEN now() ELSE r.checked_in_at END
         WHERE r.id = $1
     RETURNING {RSVP_COLUMNS}
        """,
        rsvp_id,
        status,
    )
    assert row is not None
    return row


async def update_rsvp_guests(
    conn: asyncpg.Connection, rsvp_id: UUID, guests: int
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""
        UPDATE rsvps AS r
           SET guests = $2, updated_at = now()
         WHERE r.id = $1
     RETURNING {RSVP_COLUMNS}
        """,
        rsvp_id,
        guests,
    )
    assert row is not None
    return row


# ---------------------------------------------------------------- counts


# For a query over `events e`: people (places) going to the event or any of its shifts, or
# checked in, who need each language, as {tag: n}; a person with several RSVPs counts once.
EVENT_LANGUAGE_NEEDS = """
       coalesce((SELECT jsonb_object_agg(n.lang, n.places)
                   FROM (SELECT p.lang, sum(p.places)::int AS places
                           FROM (SELECT lower(l) AS lang, max(r.places) AS places
                                   FROM rsvps r
                                  CROSS JOIN LATERAL unnest(r.language_needs) AS l
                                  WHERE r.event_id = e.id AND r.status IN ('going', 'attended')
                                  GROUP BY lower(l), coalesce(r.account_id, r.id)
                                  UNION ALL
                                 SELECT t.need, t.people
                                   FROM rsvp_language_tallies t
                                  WHERE t.event_id = e.id) p
                          GROUP BY p.lang) n), '{}'::jsonb) AS language_needs"""

# Is anyone waiting in the event's own pool who could ever be admitted? For a query over
# `events e`: while true, the event's free places are held for the head of the line.
EVENT_QUEUE_WAITING = """
       CASE WHEN e.places_waitlisted = 0 THEN false
            ELSE EXISTS (SELECT 1 FROM rsvps w
                          WHERE w.event_id = e.id AND w.shift_id IS NULL
                            AND w.status = 'waitlisted'
                            AND (e.capacity IS NULL OR w.places <= e.capacity))
       END AS queue_waiting"""


async def select_waiting_pools(conn: asyncpg.Connection, event_id: UUID) -> set[UUID | None]:
    """The event's pools where someone who could ever be admitted is waiting: shift ids, and
    None for the event's own places (one query for the event and all its shifts)."""
    rows = await conn.fetch(
        """
        SELECT DISTINCT r.shift_id
          FROM rsvps r
          JOIN events e ON e.id = r.event_id
          LEFT JOIN shifts s ON s.id = r.shift_id
         WHERE r.event_id = $1
           AND r.status = 'waitlisted'
           AND r.places <= coalesce(CASE WHEN r.shift_id IS NULL THEN e.capacity
                                         ELSE s.capacity END, r.places)
        """,
        event_id,
    )
    return {r["shift_id"] for r in rows}


async def select_language_coverage(
    conn: asyncpg.Connection, event_id: UUID
) -> list[asyncpg.Record]:
    """Per language: the people (places) going to the event or any of its shifts who need it,
    and the interpreters for it (people going to a shift that carries the language);
    `interpreted` is true when some shift carries the language, even with nobody signed up.

    A person with several RSVPs (the event and a shift) counts once, with their largest
    group. Languages appear when someone needs them or a shift interprets them.
    """
    return await conn.fetch(
        """
        WITH needs AS (
            SELECT lower(l) AS language, coalesce(r.account_id, r.id) AS who,
                   max(r.places) AS places
              FROM rsvps r
             CROSS JOIN LATERAL unnest(r.language_needs) AS l
             WHERE r.event_id = $1 AND r.status IN ('going', 'attended')
             GROUP BY 1, 2
            -- people on lists the purge already removed, one tally row per pool
             UNION ALL
            SELECT t.need, NULL, t.people
              FROM rsvp_language_tallies t
             WHERE t.event_id = $1
        ),
        interpreters AS (
            SELECT s.language, coalesce(r.account_id, r.id) AS who, max(r.places) AS places
              FROM shifts s
              LEFT JOIN rsvps r ON r.shift_id = s.id AND r.status IN ('going', 'attended')
             WHERE s.event_id = $1 AND s.language IS NOT NULL
             GROUP BY 1, 2
        )
        SELECT language,
               coalesce(n.needed, 0) AS needed,
               coalesce(i.interpreters, 0) AS interpreters,
               i.language IS NOT NULL AS interpreted
          FROM (SELECT language, sum(places)::int AS needed FROM needs GROUP BY language) n
          FULL JOIN (SELECT language, coalesce(sum(places), 0)::int AS interpreters
                       FROM interpreters GROUP BY language) i USING (language)
         ORDER BY language
        """,
        event_id,
    )


async def select_status_counts(
    conn: asyncpg.Connection, event_id: UUID, shift_id: UUID | None
) -> list[asyncpg.Record]:
    """RSVPs and places per status in one pool (for organizers), tallies included."""
    return await conn.fetch(
        f"""
        SELECT status, sum(rsvps)::int AS rsvps, sum(places)::int AS places
          FROM (SELECT r.status, 1 AS rsvps, r.places
                  FROM rsvps r
                 WHERE {_POOL[shift_id is not None]}
                 UNION ALL
                SELECT r.status, r.rsvps, r.places
                  FROM rsvp_tallies r
                 WHERE {_POOL[shift_id is not None]}) counted
         GROUP BY status
        """,
        event_id,
        shift_id,
    )


async def select_all_status_counts(
    conn: asyncpg.Connection, event_id: UUID
) -> list[asyncpg.Record]:
    """RSVPs and places per status across the event and all its shifts (for organizers),
    tallies included."""
    return await conn.fetch(
        """
        SELECT status, sum(rsvps)::int AS rsvps, sum(places)::int AS places
          FROM (SELECT status, 1 AS rsvps, places FROM rsvps WHERE event_id = $1
                 UNION ALL
                SELECT status, rsvps, places FROM rsvp_tallies WHERE event_id = $1) counted
         GROUP BY status
        """,
        event_id,
    )


# ---------------------------------------------------------------- lists


_ATTENDEE_COLUMNS = f"""
    {RSVP_COLUMNS}, r.contact_ciphertext, s.name AS shift_name
"""


async def select_attendees(
    conn: asyncpg.Connection,
    event_id: UUID,
    *,
    shift_id: UUID | None,
    only_event: bool,
    status: str | None,
    after: int | None,
    limit: int | None,
) -> list[asyncpg.Record]:
    """Attendees of an event in arrival order; filter by shift (or event-only) and status."""
    return await conn.fetch(
        f"""
        SELECT {_ATTENDEE_COLUMNS}
          FROM rsvps r
          LEFT JOIN shifts s ON s.id = r.shift_id
         WHERE r.event_id = $1
           AND ($2::uuid IS NULL OR r.shift_id = $2)
           AND (NOT $3 OR r.shift_id IS NULL)
           AND ($4::text IS NULL OR r.status = $4)
           AND ($5::bigint IS NULL OR r.arrival > $5)
         ORDER BY r.arrival
         LIMIT $6
        """,
        event_id,
        shift_id,
        only_event,
        status,
        after,
        limit,
    )


async def select_account_rsvps(
    conn: asyncpg.Connection,
    account_id: UUID,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """An account's RSVPs with their event's title and times, soonest event first."""
    return await conn.fetch(
        f"""
        SELECT {RSVP_COLUMNS}, r.manage_token_hash, e.title AS event_title,
               e.languages AS event_languages,
               e.starts_at AS event_starts_at, e.ends_at AS event_ends_at,
               e.timezone AS event_timezone, e.status AS event_status,
               s.name AS shift_name, s.role AS shift_role, s.starts_at AS shift_starts_at, s.ends_at AS shift_ends_at
          FROM rsvps r
          JOIN events e ON e.id = r.event_id
          LEFT JOIN shifts s ON s.id = r.shift_id
         WHERE r.account_id = $1
           AND ($2::timestamptz IS NULL OR (e.starts_at, r.arrival) > ($2, $3))
         ORDER BY e.starts_at, r.arrival
         LIMIT $4
        """,
        account_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


# ---------------------------------------------------------------- the event, as the caller stands

_HOST_ROLES = """
       EXISTS (SELECT 1 FROM memberships m
                 WHERE m.account_id = $2::uuid
                   AND (m.org_id = e.org_id
                        OR m.org_id IN (SELECT c.org_id FROM event_cohosts c
                                         WHERE c.event_id = e.id))) AS is_host_member,
       EXISTS (SELECT 1 FROM memberships m
                 WHERE m.account_id = $2::uuid AND m.role IN ('organizer', 'owner')
                   AND (m.org_id = e.org_id
                        OR m.org_id IN (SELECT c.org_id FROM event_cohosts c
                                         WHERE c.event_id = e.id))) AS is_host_organizer"""


async def select_event_for_caller(
    conn: asyncpg.Connection, event_id: UUID, account_id: UUID | None
) -> asyncpg.Record | None:
    """The event's visibility, status, times, texts and location columns, and whether the
    caller is a member or organizer of a hosting org (the creating org or a co-host)."""
    return await conn.fetchrow(
        f"""
        SELECT e.id, e.org_id, e.status, e.visibility, e.share_token_hash, e.title,
               e.languages, e.starts_at, e.ends_at, e.timezone, e.capacity, e.places_taken,
               e.places_waitlisted, e.hide_counts, e.venue_name, e.venue_address, e.venue_lat,
               e.venue_lon, e.area, e.public_lat, e.public_lon, e.virtual_url,
               e.location_policy, e.reveal_at,
               {_HOST_ROLES}
          FROM events e
         WHERE e.id = $1
        """,
        event_id,
        account_id,
    )


async def update_rsvp_details(
    conn: asyncpg.Connection,
    rsvp_id: UUID,
    *,
    alias_ciphertext: bytes | None,
    language_needs: list[str] | None,
    set_contact: bool,
    contact_ciphertext: bytes | None,
) -> asyncpg.Record:
    """Change the sealed alias, language needs and/or contact (None leaves alias/needs as
    they are); a new alias replaces any plaintext one of an older row."""
    row = await conn.fetchrow(
        f"""
        UPDATE rsvps AS r
           SET alias_ciphertext   = coalesce($2, r.alias_ciphertext),
               alias              = CASE WHEN $2::bytea IS NULL THEN r.alias END,
               language_needs     = coalesce($3, r.language_needs),
               contact_ciphertext = CASE WHEN $4 THEN $5 ELSE r.contact_ciphertext END,
               updated_at         = now()
         WHERE r.id = $1
     RETURNING {RSVP_COLUMNS}
        """,
        rsvp_id,
        alias_ciphertext,
        language_needs,
        set_contact,
        contact_ciphertext,
    )
    assert row is not None
    return row


async def account_has_live_rsvp(conn: asyncpg.Connection, event_id: UUID, account_id: UUID) -> bool:
    """Is the account going, waitlisted or checked in, to the event or any of its shifts?"""
    return bool(
        await conn.fetchval(
            """
            SELECT EXISTS (SELECT 1 FROM rsvps
                            WHERE event_id = $1 AND account_id = $2
                              AND status IN ('going', 'waitlisted', 'attended'))
            """,
            event_id,
            account_id,
        )
    )


# ---------------------------------------------------------------- retention


async def delete_expired_rsvps(
    conn: asyncpg.Connection, now: datetime, default_hours: int
) -> list[asyncpg.Record]:
    """Delete the RSVPs of events whose window ended (the event's end plus its org's window,
    `default_hours` where the org set none, and never longer; a postponed event's window is
    open until it has new dates), adding them to the event's tallies first. Rows another
    worker is deleting are skipped. One row per event: org_id, event_id, purged, contacts."""
    return await conn.fetch(
        """
        WITH due AS (
            SELECT r.id
              FROM rsvps r
              JOIN events e ON e.id = r.event_id
              LEFT JOIN org_retention_settings s ON s.org_id = e.org_id
             WHERE e.status <> 'postponed'
               AND e.ends_at + make_interval(
                       hours => least(coalesce(s.rsvp_contact_hours, $2), $2)) <= $1
               FOR UPDATE OF r SKIP LOCKED
        ),
        gone AS (
            DELETE FROM rsvps r
             USING due
             WHERE r.id = due.id
         RETURNING r.event_id, r.shift_id, r.status, r.places, r.language_needs,
                   r.contact_ciphertext IS NOT NULL AS had_contact
        ),
        counted AS (
            INSERT INTO rsvp_tallies AS t (event_id, shift_id, status, rsvps, places)
            SELECT event_id, shift_id, status, count(*), sum(places)
              FROM gone
             GROUP BY event_id, shift_id, status
            ON CONFLICT (event_id, (coalesce(shift_id, '00000000-0000-0000-0000-000000000000'::uuid)), status)
            DO UPDATE SET rsvps  = t.rsvps + EXCLUDED.rsvps,
                          places = t.places + EXCLUDED.places
        ),
        languages AS (
            INSERT INTO rsvp_language_tallies AS t (event_id, shift_id, need, people)
            SELECT g.event_id, g.shift_id, need, sum(g.places)
              FROM gone g, unnest(g.language_needs) AS need
             WHERE g.status IN ('going', 'attended')
             GROUP BY g.event_id, g.shift_id, need
            ON CONFLICT (event_id, (coalesce(shift_id, '00000000-0000-0000-0000-000000000000'::uuid)), need)
            DO UPDATE SET people = t.people + EXCLUDED.people
        )
        SELECT e.org_id, g.event_id, count(*)::int AS purged,
               count(*) FILTER (WHERE g.had_contact)::int AS contacts
          FROM gone g
          JOIN events e ON e.id = g.event_id
         GROUP BY e.org_id, g.event_id
         ORDER BY g.event_id
        """,
        now,
        default_hours,
    )


# ---------------------------------------------------------------- sealing older rows


async def select_plaintext_aliases(
    conn: asyncpg.Connection, stock_alias: str, limit: int
) -> list[asyncpg.Record]:
    """Up to `limit` RSVPs still holding a plaintext alias (rows written before aliases were
    sealed), locked for sealing; the stock alias of a deleted account is left as it is, and
    rows another worker is sealing are skipped. Rows: id, event_id, alias."""
    return await conn.fetch(
        """
        SELECT r.id, r.event_id, r.alias
          FROM rsvps r
         WHERE r.alias IS NOT NULL
           AND r.alias_ciphertext IS NULL
           AND NOT (r.account_id IS NULL AND r.alias = $1)
         ORDER BY r.event_id, r.id
         LIMIT $2
           FOR UPDATE OF r SKIP LOCKED
        """,
        stock_alias,
        limit,
    )


async def update_sealed_aliases(
    conn: asyncpg.Connection, rsvp_ids: list[UUID], ciphertexts: list[bytes]
) -> int:
    """Store each RSVP's sealed alias and drop its plaintext one; how many rows changed."""
    result = await conn.execute(
        """
        UPDATE rsvps r
           SET alias_ciphertext = s.ciphertext,
               alias            = NULL
          FROM unnest($1::uuid[], $2::bytea[]) AS s (id, ciphertext)
         WHERE r.id = s.id
           AND r.alias_ciphertext IS NULL
        """,
        rsvp_ids,
        ciphertexts,
    )
    return int(result.split()[-1])
