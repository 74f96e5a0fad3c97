"""SQL for co-host invitations: pending until an organizer of the invited org accepts them."""

from __future__ import annotations

from uuid import UUID

import asyncpg

# The one dynamic piece: which tables a kind of hosted thing uses (db.queries.hosts' closed map).
from db.queries.hosts import HOSTS, Kind


async def lock_parent(conn: asyncpg.Connection, kind: Kind, parent_id: UUID) -> bool:
    """Lock the event or trip row, the lock inviting takes too, so an answer and a new
    invitation for the same org cannot cross; False when it does not exist."""
    found = await conn.fetchval(
        f"SELECT 1 FROM {HOSTS[kind].table} WHERE id = $1 FOR UPDATE", parent_id
    )
    return found is not None


async def is_cohost(conn: asyncpg.Connection, kind: Kind, parent_id: UUID, org_id: UUID) -> bool:
    """Whether the org already co-hosts (has accepted) the event or trip."""
    accepted, parent = HOSTS[kind].cohosts, HOSTS[kind].parent
    found = await conn.fetchval(
        f"SELECT 1 FROM {accepted} WHERE {parent} = $1 AND org_id = $2", parent_id, org_id
    )
    return found is not None


async def take_invitation(
    conn: asyncpg.Connection, kind: Kind, parent_id: UUID, slug: str
) -> asyncpg.Record | None:
    """Remove the pending invitation of the org `slug` (accepted, declined or withdrawn) and
    return what it offered; None when there is none."""
    invitations, parent = HOSTS[kind].invitations, HOSTS[kind].parent
    return await conn.fetchrow(
        f"""
        DELETE FROM {invitations} i
         USING orgs o
         WHERE i.{parent} = $1 AND i.org_id = o.id AND o.slug = $2
     RETURNING i.org_id, i.can_see_attendees
        """,
        parent_id,
        slug,
    )


async def select_org_invitations(conn: asyncpg.Connection, org_id: UUID) -> list[asyncpg.Record]:
    """The invitations the org has not answered yet, events and trips, by start time."""
    return await conn.fetch(
        """
        SELECT 'event' AS kind, e.id, e.title, e.starts_at, e.timezone, e.status,
               h.slug AS host_org, h.name AS host_name, i.can_see_attendees, i.created_at
          FROM event_cohost_invitations i
          JOIN events e ON e.id = i.event_id
          JOIN orgs h   ON h.id = e.org_id
         WHERE i.org_id = $1
        UNION ALL
        SELECT 'trip' AS kind, t.id, t.title, t.starts_at, t.timezone, t.status,
               h.slug AS host_org, h.name AS host_name, i.can_see_attendees, i.created_at
          FROM trip_cohost_invitations i
          JOIN trips t ON t.id = i.trip_id
          JOIN orgs h  ON h.id = t.org_id
         WHERE i.org_id = $1
         ORDER BY starts_at, id
        """,
        org_id,
    )
