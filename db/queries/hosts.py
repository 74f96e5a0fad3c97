"""SQL every hosted thing (event, trip) shares: standing, writes, co-hosts, announcements."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal, NamedTuple
from uuid import UUID

import asyncpg

Kind = Literal["event", "trip"]


class HostTable(NamedTuple):
    """Where one kind of hosted thing lives; the only source of table names in this module."""

    table: str
    alias: str
    cohosts: str
    invitations: str
    parent: str
    announcements: str
    #: the columns an organizer edits; insert and update always write all of them (the
    #: service merges a PATCH into the current row first), so the SQL text is fixed
    writable: tuple[str, ...]
    #: columns set once at insert besides org_id, created_by and `writable`, with defaults
    insert_only: Mapping[str, Any]
    #: timestamp columns a status transition stamps: {status: column}
    stamps: Mapping[str, str]
    #: columns an insert stamps: {column: expression of {status}, the status parameter}
    insert_stamps: Mapping[str, str]
    #: what else an update of the writable columns sets ({reveal}: the new reveal_at, $3:
    #: the new status or NULL)
    on_update: tuple[str, ...]


_EVENT_WRITABLE = (
    "kind",
    "title",
    "summary",
    "description",
    "languages",
    "starts_at",
    "ends_at",
    "timezone",
    "venue_name",
    "venue_address",
    "venue_lat",
    "venue_lon",
    "area",
    "public_lat",
    "public_lon",
    "virtual_url",
    "visibility",
    "capacity",
    "location_policy",
    "reveal_at",
    "tags",
    "accessibility_notes",
    "contact",
    "hide_counts",
)

_TRIP_WRITABLE = (
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

# The closed map: a kind picks its tables here, never from anything a caller sends.
HOSTS: Mapping[Kind, HostTable] = {
    "event": HostTable(
        table="events",
        alias="e",
        cohosts="event_cohosts",
        invitations="event_cohost_invitations",
        parent="event_id",
        announcements="announcements",
        writable=_EVENT_WRITABLE,
        insert_only={
            "status": "draft",
            "share_token_hash": None,
            "series_id": None,
            "series_index": None,
        },
        stamps={"published": "published_at", "cancelled": "cancelled_at"},
        insert_stamps={"published_at": "CASE WHEN {status} = 'published' THEN now() END"},
        on_update=(
            # a new reveal time deserves its own "location revealed" notice
            "reveal_notified_at = CASE WHEN reveal_at IS DISTINCT FROM {reveal}"
            " THEN NULL ELSE reveal_notified_at END",
            "published_at = CASE WHEN $3 = 'published' THEN coalesce(published_at, now())"
            " ELSE published_at END",
        ),
    ),
    "trip": HostTable(
        table="trips",
        alias="t",
        cohosts="trip_cohosts",
        invitations="trip_cohost_invitations",
        parent="trip_id",
        announcements="trip_announcements",
        writable=_TRIP_WRITABLE,
        insert_only={},
        stamps={"open": "opened_at", "cancelled": "cancelled_at", "completed": "completed_at"},
        insert_stamps={},
        on_update=(),
    ),
}

#: a membership's role as a number: owner 3, organizer 2, member 1
RANK = "CASE m.role WHEN 'owner' THEN 3 WHEN 'organizer' THEN 2 WHEN 'member' THEN 1 END"
ANY_ROLE = "'member', 'organizer', 'owner'"
ORGANIZER_ROLE = "'organizer', 'owner'"


def rank_columns(kind: Kind, account: str) -> str:
    """host_rank, cohost_rank and cohost_attendee_rank of the caller (`account`, a parameter
    that may be NULL for anonymous) towards each row of the kind's table."""
    h = HOSTS[kind]
    x = h.alias
    return f"""
       coalesce((SELECT {RANK} FROM memberships m
                  WHERE m.org_id = {x}.org_id AND m.account_id = {account}::uuid), 0) AS host_rank,
       coalesce((SELECT max({RANK}) FROM {h.cohosts} hc
                   JOIN memberships m ON m.org_id = hc.org_id AND m.account_id = {account}::uuid
                  WHERE hc.{h.parent} = {x}.id), 0) AS cohost_rank,
       coalesce((SELECT max({RANK}) FROM {h.cohosts} hc
                   JOIN memberships m ON m.org_id = hc.org_id AND m.account_id = {account}::uuid
                  WHERE hc.{h.parent} = {x}.id AND hc.can_see_attendees), 0)
                AS cohost_attendee_rank"""


def cohost_slugs(kind: Kind) -> str:
    """The co-hosting orgs' slugs of each row, in order."""
    h = HOSTS[kind]
    return f"""coalesce((SELECT array_agg(co.slug ORDER BY co.slug)
                   FROM {h.cohosts} hc
                   JOIN orgs co ON co.id = hc.org_id
                  WHERE hc.{h.parent} = {h.alias}.id), '{{}}') AS cohost_slugs"""


def member_of_host(kind: Kind, account: str, roles: str) -> str:
    """Whether the caller holds one of `roles` (ANY_ROLE, ORGANIZER_ROLE) in a hosting org."""
    h = HOSTS[kind]
    return f"""EXISTS (SELECT 1 FROM memberships m
                WHERE m.account_id = {account}::uuid
                  AND m.role IN ({roles})
                  AND (m.org_id = {h.alias}.org_id
                       OR m.org_id IN (SELECT hc.org_id FROM {h.cohosts} hc
                                        WHERE hc.{h.parent} = {h.alias}.id)))"""


def hosted_by(kind: Kind, org: str) -> str:
    """Rows the org (parameter `org`) hosts or co-hosts, written so that PostgreSQL starts
    from the org's own rows (an index on org_id) rather than walking every row: with
    `org_id = $n OR EXISTS (co-host)` it cannot, and the cost grows with the table."""
    h = HOSTS[kind]
    return (
        f"{h.alias}.id IN (SELECT h.id FROM {h.table} h WHERE h.org_id = {org}"
        f" UNION ALL SELECT hc.{h.parent} FROM {h.cohosts} hc WHERE hc.org_id = {org})"
    )


# ---------------------------------------------------------------- writes


async def insert_hosted(
    conn: asyncpg.Connection,
    kind: Kind,
    org_id: UUID,
    created_by: UUID | None,
    values: Mapping[str, Any],
) -> UUID:
    """Insert a row (a draft unless `values` says otherwise); returns its id.

    `values` holds every writable column, and may hold insert-only ones (else their defaults).
    """
    h = HOSTS[kind]
    names = (*h.insert_only, *h.writable)
    params = [f"${i}" for i in range(3, 3 + len(names))]
    status = params[names.index("status")] if "status" in names else "NULL"
    stamped = [*names, *h.insert_stamps]
    stamps = [expr.format(status=status) for expr in h.insert_stamps.values()]
    row_id: UUID = await conn.fetchval(
        f"""
        INSERT INTO {h.table} (org_id, created_by, {", ".join(stamped)})
        VALUES ($1, $2, {", ".join([*params, *stamps])})
        RETURNING id
        """,
        org_id,
        created_by,
        *(values[c] if c in h.writable else values.get(c, h.insert_only[c]) for c in names),
    )
    return row_id


async def update_hosted(
    conn: asyncpg.Connection,
    kind: Kind,
    row_id: UUID,
    values: Mapping[str, Any],
    *,
    bump_sequence: bool,
    status: str | None = None,
) -> None:
    """Write every editable column; `status` (when given) changes the status in the same write."""
    h = HOSTS[kind]
    first = 4
    sets = [f"{c} = ${i}" for i, c in enumerate(h.writable, start=first)]
    reveal = f"${first + h.writable.index('reveal_at')}"
    sets += [fragment.format(reveal=reveal) for fragment in h.on_update]
    set_list = ",\n               ".join(sets)
    await conn.execute(
        f"""
        UPDATE {h.table}
           SET {set_list},
               status     = coalesce($3, status),
               sequence   = sequence + CASE WHEN $2 THEN 1 ELSE 0 END,
               change_seq = nextval('change_seq'),
               updated_at = now()
         WHERE id = $1
        """,
        row_id,
        bump_sequence,
        status,
        *(values[c] for c in h.writable),
    )


async def update_status(
    conn: asyncpg.Connection,
    kind: Kind,
    row_id: UUID,
    status: str,
    cancel_reason: str | None = None,
) -> None:
    """A lifecycle transition: a calendar shows status, so `sequence` rises."""
    h = HOSTS[kind]
    # the first time a status is reached is kept, except cancelled (final) and completed
    stamps = ",\n               ".join(
        f"{column} = CASE WHEN $2 = '{state}' THEN "
        + (f"coalesce({column}, now())" if state in ("published", "open") else "now()")
        + f" ELSE {column} END"
        for state, column in h.stamps.items()
    )
    await conn.execute(
        f"""
        UPDATE {h.table}
           SET status        = $2,
               cancel_reason = CASE WHEN $2 = 'cancelled' THEN $3 ELSE cancel_reason END,
               {stamps},
               sequence      = sequence + 1,
               change_seq    = nextval('change_seq'),
               updated_at    = now()
         WHERE id = $1
        """,
        row_id,
        status,
        cancel_reason,
    )


async def touch(conn: asyncpg.Connection, kind: Kind, row_id: UUID, *, bump_sequence: bool) -> int:
    """A change outside the row (co-hosts, itinerary); returns the new `sequence`, which
    rises only when a calendar shows the change."""
    sequence: int = await conn.fetchval(
        f"""
        UPDATE {HOSTS[kind].table}
           SET sequence   = sequence + CASE WHEN $2 THEN 1 ELSE 0 END,
               change_seq = nextval('change_seq'),
               updated_at = now()
         WHERE id = $1
     RETURNING sequence
        """,
        row_id,
        bump_sequence,
    )
    return sequence


# ---------------------------------------------------------------- co-hosts


def _cohost_table(kind: Kind, invited: bool) -> str:
    return HOSTS[kind].invitations if invited else HOSTS[kind].cohosts


async def insert_cohost(
    conn: asyncpg.Connection,
    kind: Kind,
    row_id: UUID,
    org_id: UUID,
    can_see_attendees: bool,
    *,
    invited: bool = False,
) -> asyncpg.Record | None:
    """Add a co-host (`invited`: a pending invitation instead); None when the org already
    co-hosts (or is invited already)."""
    h = HOSTS[kind]
    table = _cohost_table(kind, invited)
    return await conn.fetchrow(
        f"""
        WITH added AS (
            INSERT INTO {table} ({h.parent}, org_id, can_see_attendees)
            VALUES ($1, $2, $3)
            ON CONFLICT ON CONSTRAINT {table}_pkey DO NOTHING
            RETURNING org_id, can_see_attendees, created_at
        )
        SELECT o.slug AS org, o.name, a.can_see_attendees, a.created_at
          FROM added a
          JOIN orgs o ON o.id = a.org_id
        """,
        row_id,
        org_id,
        can_see_attendees,
    )


async def select_cohosts(
    conn: asyncpg.Connection, kind: Kind, row_id: UUID, *, invited: bool = False
) -> list[asyncpg.Record]:
    """The accepted co-hosts (`invited`: the pending invitations), by org slug."""
    h = HOSTS[kind]
    return await conn.fetch(
        f"""
        SELECT o.slug AS org, o.name, hc.can_see_attendees, hc.created_at
          FROM {_cohost_table(kind, invited)} hc
          JOIN orgs o ON o.id = hc.org_id
         WHERE hc.{h.parent} = $1
         ORDER BY o.slug
        """,
        row_id,
    )


async def delete_cohost(conn: asyncpg.Connection, kind: Kind, row_id: UUID, slug: str) -> bool:
    """False when the org does not co-host."""
    h = HOSTS[kind]
    status = await conn.execute(
        f"""
        DELETE FROM {h.cohosts} hc
         USING orgs o
         WHERE hc.{h.parent} = $1 AND hc.org_id = o.id AND o.slug = $2
        """,
        row_id,
        slug,
    )
    return status != "DELETE 0"


# ---------------------------------------------------------------- announcements


def _announcement_columns(kind: Kind) -> str:
    return f"a.id, a.{HOSTS[kind].parent}, a.body, a.created_at"


async def insert_announcement(
    conn: asyncpg.Connection,
    kind: Kind,
    row_id: UUID,
    org_id: UUID,
    author_id: UUID,
    body: dict[str, str],
) -> asyncpg.Record:
    """An organizers' update to the people coming (its time orders the list)."""
    h = HOSTS[kind]
    row = await conn.fetchrow(
        f"""
        INSERT INTO {h.announcements} AS a ({h.parent}, org_id, author_id, body, created_at)
        VALUES ($1, $2, $3, $4, clock_timestamp())
        RETURNING {_announcement_columns(kind)}
        """,
        row_id,
        org_id,
        author_id,
        body,
    )
    assert row is not None
    return row


async def select_announcements(
    conn: asyncpg.Connection,
    kind: Kind,
    row_id: UUID,
    before: tuple[datetime, UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Newest first, older than `before` (a page cursor) when given."""
    h = HOSTS[kind]
    return await conn.fetch(
        f"""
        SELECT {_announcement_columns(kind)}
          FROM {h.announcements} a
         WHERE a.{h.parent} = $1
           AND ($2::timestamptz IS NULL OR (a.created_at, a.id) < ($2, $3::uuid))
         ORDER BY a.created_at DESC, a.id DESC
         LIMIT $4
        """,
        row_id,
        before[0] if before else None,
        before[1] if before else None,
        limit,
    )
