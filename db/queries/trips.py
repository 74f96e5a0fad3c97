"""SQL for trips, their co-hosts, places, questions, checklist items and announcements."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

# The columns an organizer edits; insert and update always write all of them (the service
# merges a PATCH into the current row first), so the SQL text is fixed.
WRITABLE_COLUMNS = (
    "title",
    "summary",
    "description",
    "languages",
    "starts_at",
    "ends_at",
    "timezone",
    "meeting_name",
    "meeting_address",
    "meeting_lat",
    "meeting_lon",
    "area",
    "public_lat",
    "public_lon",
    "location_policy",
    "reveal_at",
    "capacity",
    "application_deadline",
    "cost_amount",
    "cost_currency",
    "cost_notes",
    "scholarships_available",
    "visibility",
    "requirements",
    "promote_from_waitlist",
)

TRIP_COLUMNS = """
       t.id, t.org_id, t.title, t.summary, t.description, t.languages, t.starts_at, t.ends_at,
       t.timezone, t.meeting_name, t.meeting_address, t.meeting_lat, t.meeting_lon, t.area,
       t.public_lat, t.public_lon, t.location_policy, t.reveal_at, t.capacity, t.places_taken,
       t.status, t.cancel_reason, t.application_deadline, t.cost_amount, t.cost_currency,
       t.cost_notes, t.scholarships_available, t.visibility, t.requirements,
       t.promote_from_waitlist, t.sequence, t.change_seq, t.created_at, t.updated_at,
       t.opened_at, t.cancelled_at, t.completed_at,
       (SELECT o.slug FROM orgs o WHERE o.id = t.org_id) AS org_slug,
       coalesce((SELECT array_agg(co.slug ORDER BY co.slug)
                   FROM trip_cohosts tc
                   JOIN orgs co ON co.id = tc.org_id
                  WHERE tc.trip_id = t.id), '{}') AS cohost_slugs"""

_RANK = "CASE m.role WHEN 'owner' THEN 3 WHEN 'organizer' THEN 2 WHEN 'member' THEN 1 END"

# The caller's standing towards each trip; {a} is the account parameter (NULL = anonymous).
# `my_*` come from the caller's live application (LEFT JOIN LATERAL ... AS mine).
_ACCESS_COLUMNS = f"""
       coalesce((SELECT {_RANK} FROM memberships m
                  WHERE m.org_id = t.org_id AND m.account_id = {{a}}::uuid), 0) AS host_rank,
       coalesce((SELECT max({_RANK}) FROM trip_cohosts tc
                   JOIN memberships m ON m.org_id = tc.org_id AND m.account_id = {{a}}::uuid
                  WHERE tc.trip_id = t.id), 0) AS cohost_rank,
       coalesce((SELECT max({_RANK}) FROM trip_cohosts tc
                   JOIN memberships m ON m.org_id = tc.org_id AND m.account_id = {{a}}::uuid
                  WHERE tc.trip_id = t.id AND tc.can_see_attendees), 0) AS cohost_attendee_rank,
       mine.id AS my_application_id,
       mine.status AS my_application_status,
       coalesce(mine.status = 'accepted', false) AS is_confirmed"""

_MINE = """LEFT JOIN LATERAL (
           SELECT a.id, a.status FROM trip_applications a
            WHERE a.trip_id = t.id AND a.account_id = {a}::uuid AND a.status <> 'withdrawn'
       ) mine ON true"""


def _access(param: str) -> str:
    return _ACCESS_COLUMNS.format(a=param)


def _mine(param: str) -> str:
    return _MINE.format(a=param)


async def insert_trip(
    conn: asyncpg.Connection, org_id: UUID, created_by: UUID | None, values: Mapping[str, Any]
) -> UUID:
    """Insert a draft trip; returns its id."""
    columns = ", ".join(WRITABLE_COLUMNS)
    params = ", ".join(f"${i}" for i in range(3, 3 + len(WRITABLE_COLUMNS)))
    trip_id: UUID = await conn.fetchval(
        f"""
        INSERT INTO trips (org_id, created_by, {columns})
        VALUES ($1, $2, {params})
        RETURNING id
        """,
        org_id,
        created_by,
        *(values[c] for c in WRITABLE_COLUMNS),
    )
    return trip_id


async def select_trip(
    conn: asyncpg.Connection,
    trip_id: UUID,
    account_id: UUID | None,
    *,
    for_update: bool = False,
) -> asyncpg.Record | None:
    """The trip with the caller's standing (host_rank, cohost_rank, my_application_…).

    `for_update` locks the trip row: every change to places or to an application's status
    takes this lock first, so those changes to one trip run one after another.
    """
    lock = "FOR UPDATE OF t" if for_update else ""
    return await conn.fetchrow(
        f"""
        SELECT {TRIP_COLUMNS}, {_access("$2")}
          FROM trips t
          {_mine("$2")}
         WHERE t.id = $1
         {lock}
        """,
        trip_id,
        account_id,
    )


_UPDATE_SET = ",\n               ".join(
    f"{c} = ${i}" for i, c in enumerate(WRITABLE_COLUMNS, start=4)
)


async def update_trip(
    conn: asyncpg.Connection,
    trip_id: UUID,
    values: Mapping[str, Any],
    *,
    bump_sequence: bool,
    status: str | None = None,
) -> None:
    """Write every editable column; `status` (when given) changes the status in the same write."""
    await conn.execute(
        f"""
        UPDATE trips
           SET {_UPDATE_SET},
               status     = coalesce($3, status),
               sequence   = sequence + CASE WHEN $2 THEN 1 ELSE 0 END,
               change_seq = nextval('change_seq'),
               updated_at = now()
         WHERE id = $1
        """,
        trip_id,
        bump_sequence,
        status,
        *(values[c] for c in WRITABLE_COLUMNS),
    )


async def update_trip_status(
    conn: asyncpg.Connection, trip_id: UUID, status: str, cancel_reason: str | None = None
) -> None:
    """A lifecycle transition; a calendar shows status, so `sequence` rises."""
    await conn.execute(
        """
        UPDATE trips
           SET status        = $2,
               cancel_reason = CASE WHEN $2 = 'cancelled' THEN $3 ELSE cancel_reason END,
               opened_at     = CASE WHEN $2 = 'open' THEN coalesce(opened_at, now())
                                    ELSE opened_at END,
               cancelled_at  = CASE WHEN $2 = 'cancelled' THEN now() ELSE cancelled_at END,
               completed_at  = CASE WHEN $2 = 'completed' THEN now() ELSE completed_at END,
               sequence      = sequence + 1,
               change_seq    = nextval('change_seq'),
               updated_at    = now()
         WHERE id = $1
        """,
        trip_id,
        status,
        cancel_reason,
    )


async def touch_trip(conn: asyncpg.Connection, trip_id: UUID, *, bump_sequence: bool) -> int:
    """A change outside the trip row (itinerary, co-hosts); returns the new `sequence`."""
    sequence: int = await conn.fetchval(
        """
        UPDATE trips
           SET sequence   = sequence + CASE WHEN $2 THEN 1 ELSE 0 END,
               change_seq = nextval('change_seq'),
               updated_at = now()
         WHERE id = $1
     RETURNING sequence
        """,
        trip_id,
        bump_sequence,
    )
    return sequence


async def add_places(conn: asyncpg.Connection, trip_id: UUID, delta: int) -> asyncpg.Record | None:
    """Take (delta > 0) or free (delta < 0) places; None when they do not fit.

    The condition is re-checked by PostgreSQL against the newest row version, so it cannot
    overbook even without the row lock the services take anyway. Status follows: open turns
    full when the last place is taken, full turns open when one frees.
    """
    return await conn.fetchrow(
        """
        UPDATE trips
           SET places_taken = places_taken + $2,
               status       = CASE
                                WHEN status = 'open' AND places_taken + $2 >= capacity THEN 'full'
                                WHEN status = 'full' AND places_taken + $2 < capacity THEN 'open'
                                ELSE status
                              END,
               change_seq   = nextval('change_seq'),
               updated_at   = now()
         WHERE id = $1
           AND places_taken + $2 BETWEEN 0 AND capacity
     RETURNING id, org_id, status, capacity, places_taken
        """,
        trip_id,
        delta,
    )


# ---------------------------------------------------------------- lists


async def select_org_trips(
    conn: asyncpg.Connection,
    org_id: UUID,
    account_id: UUID | None,
    *,
    ends_after: datetime | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Trips the org hosts or co-hosts that the caller may see, by start time.

    Drafts only for organizers of a hosting org; members-only trips only for its members.
    """
    return await conn.fetch(
        f"""
        SELECT {TRIP_COLUMNS}, {_access("$2")}
          FROM trips t
          {_mine("$2")}
         WHERE (t.org_id = $1
                OR EXISTS (SELECT 1 FROM trip_cohosts tc WHERE tc.trip_id = t.id AND tc.org_id = $1))
           AND ($3::timestamptz IS NULL OR t.ends_at >= $3)
           AND ($4::timestamptz IS NULL OR (t.starts_at, t.id) > ($4, $5::uuid))
           AND (
                EXISTS (SELECT 1 FROM memberships m
                         WHERE m.account_id = $2::uuid AND m.role IN ('organizer', 'owner')
                           AND (m.org_id = t.org_id
                                OR m.org_id IN (SELECT tc.org_id FROM trip_cohosts tc
                                                 WHERE tc.trip_id = t.id)))
                OR (t.status <> 'draft'
                    AND (t.visibility = 'public'
                         OR EXISTS (SELECT 1 FROM memberships m
                                     WHERE m.account_id = $2::uuid
                                       AND (m.org_id = t.org_id
                                            OR m.org_id IN (SELECT tc.org_id FROM trip_cohosts tc
                                                             WHERE tc.trip_id = t.id)))))
           )
         ORDER BY t.starts_at, t.id
         LIMIT $6
        """,
        org_id,
        account_id,
        ends_after,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


# ---------------------------------------------------------------- co-hosts


async def insert_cohost(
    conn: asyncpg.Connection, trip_id: UUID, org_id: UUID, can_see_attendees: bool
) -> asyncpg.Record | None:
    """Add a co-host; None when it already is one."""
    return await conn.fetchrow(
        """
        WITH added AS (
            INSERT INTO trip_cohosts (trip_id, org_id, can_see_attendees)
            VALUES ($1, $2, $3)
            ON CONFLICT ON CONSTRAINT trip_cohosts_pkey DO NOTHING
            RETURNING org_id, can_see_attendees, created_at
        )
        SELECT o.slug AS org, o.name, a.can_see_attendees, a.created_at
          FROM added a
          JOIN orgs o ON o.id = a.org_id
        """,
        trip_id,
        org_id,
        can_see_attendees,
    )


async def select_cohosts(conn: asyncpg.Connection, trip_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT o.slug AS org, o.name, tc.can_see_attendees, tc.created_at
          FROM trip_cohosts tc
          JOIN orgs o ON o.id = tc.org_id
         WHERE tc.trip_id = $1
         ORDER BY o.slug
        """,
        trip_id,
    )


async def delete_cohost(conn: asyncpg.Connection, trip_id: UUID, slug: str) -> bool:
    status = await conn.execute(
        """
        DELETE FROM trip_cohosts tc
         USING orgs o
         WHERE tc.trip_id = $1 AND tc.org_id = o.id AND o.slug = $2
        """,
        trip_id,
        slug,
    )
    return status != "DELETE 0"


# ---------------------------------------------------------------- questions

QUESTION_COLUMNS = "q.id, q.trip_id, q.position, q.kind, q.prompt, q.options, q.required"


async def insert_question(
    conn: asyncpg.Connection,
    trip_id: UUID,
    kind: str,
    prompt: dict[str, str],
    options: list[dict[str, Any]],
    required: bool,
) -> asyncpg.Record:
    """Append a question (the caller holds the trip row lock, so positions do not collide)."""
    row = await conn.fetchrow(
        f"""
        INSERT INTO trip_questions AS q (trip_id, position, kind, prompt, options, required)
        VALUES ($1,
                (SELECT coalesce(max(position), 0) + 1 FROM trip_questions WHERE trip_id = $1),
                $2, $3, $4, $5)
        RETURNING {QUESTION_COLUMNS}
        """,
        trip_id,
        kind,
        prompt,
        options,
        required,
    )
    assert row is not None
    return row


async def select_questions(conn: asyncpg.Connection, trip_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""
        SELECT {QUESTION_COLUMNS}
          FROM trip_questions q
         WHERE q.trip_id = $1
         ORDER BY q.position
        """,
        trip_id,
    )


async def count_questions(conn: asyncpg.Connection, trip_id: UUID) -> int:
    count = await conn.fetchval("SELECT count(*) FROM trip_questions WHERE trip_id = $1", trip_id)
    return int(count)


# ---------------------------------------------------------------- checklist items

CHECKLIST_COLUMNS = "c.id, c.trip_id, c.position, c.title, c.description, c.created_at"


async def insert_checklist_item(
    conn: asyncpg.Connection, trip_id: UUID, title: dict[str, str], description: dict[str, str]
) -> asyncpg.Record:
    """Append a checklist item (the caller holds the trip row lock)."""
    row = await conn.fetchrow(
        f"""
        INSERT INTO checklist_items AS c (trip_id, position, title, description)
        VALUES ($1,
                (SELECT coalesce(max(position), 0) + 1 FROM checklist_items WHERE trip_id = $1),
                $2, $3)
        RETURNING {CHECKLIST_COLUMNS}
        """,
        trip_id,
        title,
        description,
    )
    assert row is not None
    return row


async def select_checklist_items(conn: asyncpg.Connection, trip_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""
        SELECT {CHECKLIST_COLUMNS}
          FROM checklist_items c
         WHERE c.trip_id = $1
         ORDER BY c.position
        """,
        trip_id,
    )


async def select_checklist_item(
    conn: asyncpg.Connection, trip_id: UUID, item_id: UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {CHECKLIST_COLUMNS} FROM checklist_items c WHERE c.id = $1 AND c.trip_id = $2",
        item_id,
        trip_id,
    )


async def count_checklist_items(conn: asyncpg.Connection, trip_id: UUID) -> int:
    count = await conn.fetchval("SELECT count(*) FROM checklist_items WHERE trip_id = $1", trip_id)
    return int(count)


# ---------------------------------------------------------------- announcements

ANNOUNCEMENT_COLUMNS = "a.id, a.trip_id, a.body, a.created_at"


async def insert_announcement(
    conn: asyncpg.Connection, trip_id: UUID, org_id: UUID, author_id: UUID, body: dict[str, str]
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""
        INSERT INTO trip_announcements AS a (trip_id, org_id, author_id, body, created_at)
        VALUES ($1, $2, $3, $4, clock_timestamp())
        RETURNING {ANNOUNCEMENT_COLUMNS}
        """,
        trip_id,
        org_id,
        author_id,
        body,
    )
    assert row is not None
    return row


async def select_announcements(
    conn: asyncpg.Connection,
    trip_id: UUID,
    before: tuple[datetime, UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Newest first."""
    return await conn.fetch(
        f"""
        SELECT {ANNOUNCEMENT_COLUMNS}
          FROM trip_announcements a
         WHERE a.trip_id = $1
           AND ($2::timestamptz IS NULL OR (a.created_at, a.id) < ($2, $3::uuid))
         ORDER BY a.created_at DESC, a.id DESC
         LIMIT $4
        """,
        trip_id,
        before[0] if before else None,
        before[1] if before else None,
        limit,
    )


async def select_trips_by_ids(
    conn: asyncpg.Connection, trip_ids: list[UUID], account_id: UUID | None
) -> list[asyncpg.Record]:
    """Several trips at once, each with the caller's standing (no visibility filter)."""
    return await conn.fetch(
        f"""
        SELECT {TRIP_COLUMNS}, {_access("$2")}
          FROM trips t
          {_mine("$2")}
         WHERE t.id = ANY($1::uuid[])
        """,
        trip_ids,
        account_id,
    )
