"""Co-hosts of a trip: invitations, answers and removal."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from api.errors import Conflict, Forbidden, NotFound
from api.services import cohosts
from api.services.cohosts import cohost_view
from api.services.trip_access import require_trip_organizer
from api.services.trips import outbox, reload
from db.queries import cohosts as cohost_queries
from db.queries import trips
from schemas.events import Cohost, CohostAdd, CohostList


async def _require_host_organizer(
    conn: asyncpg.Connection, trip_id: UUID, account_id: UUID | None, action: str
) -> asyncpg.Record:
    row = await require_trip_organizer(conn, trip_id, account_id, for_update=True)
    if row["host_rank"] < 2:
        raise Forbidden(f"Only organizers of the creating organization {action}.")
    return row


async def list_cohosts(
    conn: asyncpg.Connection, trip_id: UUID, account_id: UUID | None
) -> CohostList:
    """Accepted co-hosts for every organizer of a hosting org; the pending invitations too
    for the creating org's organizers, who sent them."""
    row = await require_trip_organizer(conn, trip_id, account_id)
    items = [cohost_view(r) for r in await trips.select_cohosts(conn, trip_id)]
    if row["host_rank"] >= 2:
        items += await cohosts.pending(conn, "trip", trip_id)
    return CohostList(items=items)


async def add_cohost(
    conn: asyncpg.Connection, trip_id: UUID, account_id: UUID | None, data: CohostAdd
) -> Cohost:
    """Invite another org to co-host the trip: once its organizers accept, they may edit it;
    with `can_see_attendees` they also see applications and participant data. A caller who
    is an organizer there too accepts at once."""
    row = await _require_host_organizer(conn, trip_id, account_id, "add co-hosts")
    org = await cohosts.invited_org(conn, "trip", trip_id, row["org_id"], data.org)
    assert account_id is not None
    if not await cohosts.speaks_for(conn, data.org, account_id):
        return await cohosts.invite(
            conn, "trip", trip_id, org["id"], data.org, data.can_see_attendees
        )
    await cohost_queries.take_invitation(conn, "trip", trip_id, data.org)
    return await _make_cohost(conn, trip_id, account_id, org["id"], data.can_see_attendees)


async def _make_cohost(
    conn: asyncpg.Connection, trip_id: UUID, account_id: UUID, org_id: UUID, grant: bool
) -> Cohost:
    record = await trips.insert_cohost(conn, trip_id, org_id, grant)
    if record is None:
        raise Conflict("This organization already co-hosts this trip.")
    await trips.touch_trip(conn, trip_id, bump_sequence=False)
    await outbox(conn, await reload(conn, trip_id, account_id), "trip.updated")
    return cohost_view(record)


async def accept_cohost(
    conn: asyncpg.Connection, trip_id: UUID, account_id: UUID | None, slug: str
) -> Cohost:
    """An organizer of the invited org accepts: from now on it co-hosts the trip."""
    invitation = await cohosts.answer(conn, "trip", trip_id, slug, account_id)
    assert account_id is not None
    return await _make_cohost(
        conn, trip_id, account_id, invitation["org_id"], invitation["can_see_attendees"]
    )


async def decline_cohost(
    conn: asyncpg.Connection, trip_id: UUID, account_id: UUID | None, slug: str
) -> None:
    """An organizer of the invited org declines: the invitation is gone, nothing was shown."""
    await cohosts.answer(conn, "trip", trip_id, slug, account_id)


async def remove_cohost(
    conn: asyncpg.Connection, trip_id: UUID, account_id: UUID | None, slug: str
) -> None:
    """Remove a co-host, or withdraw an invitation not yet answered."""
    await _require_host_organizer(conn, trip_id, account_id, "remove co-hosts")
    if await cohost_queries.take_invitation(conn, "trip", trip_id, slug) is not None:
        return
    if not await trips.delete_cohost(conn, trip_id, slug):
        raise NotFound(f"{slug!r} does not co-host this trip.")
    await trips.touch_trip(conn, trip_id, bump_sequence=False)
    await outbox(conn, await reload(conn, trip_id, account_id), "trip.updated")
