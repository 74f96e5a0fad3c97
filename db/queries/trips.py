"""SQL for trips, their places, questions and checklist items (shared: db.queries.hosts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from db.queries import hosts

#: the columns an organizer edits (insert and update write all of them)
WRITABLE_COLUMNS = hosts.HOSTS["trip"].writable

TRIP_COLUMNS = """
       t.id, t.org_id, t.title, t.summary, t.description, t.languages, t.starts_at, t.ends_at,
       t.timezone, t.meeting_name, t.meeting_address, t.meeting_lat, t.meeting_lon, t.area,
       t.public_lat, t.public_lon, t.location_policy, t.reveal_at, t.capacity, t.places_taken,
       t.status, t.cancel_reason, t.application_deadline, t.cost_amount, t.cost_currency,
       t.cost_notes, t.scholarships_available, t.visibility, t.requirements,
       t.promote_from_waitlist, t.sequence, t.change_seq, t.created_at, t.updated_at,
       t.opened_at, t.cancelled_at, t.completed_at,
       (SELECT o.slug FROM orgs o WHERE o.id = t.org_id) AS org_slug,
       """ + hosts.cohost_slugs("trip")

_MINE = """LEFT JOIN LATERAL (
           SELECT a.id, a.status FROM trip_applications a
            WHERE a.trip_id = t.id AND a.account_id = {a}::uuid AND a.status <> 'withdrawn'
       ) mine ON true"""


def _access(param: str) -> str:
    """The caller's standing towards each trip; `param` is the account (NULL = anonymous).
    `my_*` come from the caller's live application (the `_mine` join)."""
    return f"""{hosts.rank_columns("trip", param)},
       mine.id AS my_application_id,
       mine.status AS my_application_status,
       coalesce(mine.status = 'accepted', false) AS is_confirmed"""


def _mine(param: str) -> str:
    return _MINE.format(a=param)


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
         WHERE {hosts.hosted_by("trip", "$1")}
           AND ($3::timestamptz IS NULL OR t.ends_at >= $3)
           AND ($4::timestamptz IS NULL OR (t.starts_at, t.id) > ($4, $5::uuid))
           AND (
                {hosts.member_of_host("trip", "$2", hosts.ORGANIZER_ROLE)}
                OR (t.status <> 'draft'
                    AND (t.visibility = 'public'
                         OR {hosts.member_of_host("trip", "$2", hosts.ANY_ROLE)}))
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
