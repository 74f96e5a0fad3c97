"""Co-hosts of any hosted thing: listed, invited or added, accepted, declined and removed."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from api.errors import Conflict, NotFound
from api.services import access, cohosts
from api.services.cohosts import cohost_view
from api.services.lifecycle import HostedKind
from db.queries import cohosts as cohost_queries
from db.queries import hosts
from schemas.events import Cohost, CohostAdd, CohostList


async def list_cohosts(
    hosted: HostedKind, conn: asyncpg.Connection, row_id: UUID, account_id: UUID | None
) -> CohostList:
    """Accepted co-hosts for every organizer of a hosting org; the pending invitations too
    for the creating org's organizers, who sent them."""
    row = await hosted.find(conn, row_id, account_id)
    items = [cohost_view(r) for r in await hosts.select_cohosts(conn, hosted.kind, row_id)]
    if access.is_host_organizer(row):
        items += await cohosts.pending(conn, hosted.kind, row_id)
    return CohostList(items=items)


async def add_cohost(
    hosted: HostedKind,
    conn: asyncpg.Connection,
    row_id: UUID,
    account_id: UUID | None,
    data: CohostAdd,
) -> Cohost:
    """Invite another org to co-host: once its organizers accept, they may edit the thing and
    it lists under both orgs. A caller who is an organizer there too accepts at once."""
    row = await hosted.lock_as_host(conn, row_id, account_id, "add co-hosts")
    org = await cohosts.invited_org(conn, hosted.kind, row_id, row["org_id"], data.org)
    caller = access.require_login(account_id)
    if not await cohosts.speaks_for(conn, data.org, caller):
        return await cohosts.invite(
            conn, hosted.kind, row_id, org["id"], data.org, data.can_see_attendees
        )
    await cohost_queries.take_invitation(conn, hosted.kind, row_id, data.org)
    return await _make_cohost(hosted, conn, row_id, caller, org["id"], data.can_see_attendees)


async def _make_cohost(
    hosted: HostedKind,
    conn: asyncpg.Connection,
    row_id: UUID,
    account_id: UUID,
    org_id: UUID,
    grant: bool,
) -> Cohost:
    record = await hosts.insert_cohost(conn, hosted.kind, row_id, org_id, grant)
    if record is None:
        raise Conflict(f"This organization already co-hosts this {hosted.kind}.")
    await _changed(hosted, conn, row_id, account_id)
    return cohost_view(record)


async def _changed(
    hosted: HostedKind, conn: asyncpg.Connection, row_id: UUID, account_id: UUID
) -> None:
    # co-hosts are no calendar change: `sequence` stays, partners still hear of it
    await hosts.touch(conn, hosted.kind, row_id, bump_sequence=False)
    after = await hosted.reload(conn, row_id, account_id)
    await hosted.outbox(conn, after, f"{hosted.kind}.updated")


async def accept_cohost(
    hosted: HostedKind, conn: asyncpg.Connection, row_id: UUID, account_id: UUID | None, slug: str
) -> Cohost:
    """An organizer of the invited org accepts: from now on it co-hosts."""
    invitation = await cohosts.answer(conn, hosted.kind, row_id, slug, account_id)
    caller = access.require_login(account_id)
    return await _make_cohost(
        hosted, conn, row_id, caller, invitation["org_id"], invitation["can_see_attendees"]
    )


async def decline_cohost(
    hosted: HostedKind, conn: asyncpg.Connection, row_id: UUID, account_id: UUID | None, slug: str
) -> None:
    """An organizer of the invited org declines: the invitation is gone, nothing was shown."""
    await cohosts.answer(conn, hosted.kind, row_id, slug, account_id)


async def remove_cohost(
    hosted: HostedKind, conn: asyncpg.Connection, row_id: UUID, account_id: UUID | None, slug: str
) -> None:
    """Remove a co-host, or withdraw an invitation not yet answered."""
    await hosted.lock_as_host(conn, row_id, account_id, "remove co-hosts")
    if await cohost_queries.take_invitation(conn, hosted.kind, row_id, slug) is not None:
        return
    if not await hosts.delete_cohost(conn, hosted.kind, row_id, slug):
        raise NotFound(f"{slug!r} does not co-host this {hosted.kind}.")
    await _changed(hosted, conn, row_id, access.require_login(account_id))
