"""Co-hosting by consent: an invitation the invited organization's organizers accept or decline.

Until accepted, an invitation is shown nowhere (no event or trip JSON, JSON-LD, feed, OSDI or
partner view) and gives no rights: those all read the accepted co-host tables only. The event
and trip services call these rules from their own co-host functions.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg

from api.errors import Conflict, NotFound, RuleViolation
from api.guards import ROLE_RANK, require_org_role
from db.queries import cohosts as q
from db.queries import hosts, orgs
from schemas.cohosts import CohostInvitation, CohostInvitationList
from schemas.events import Cohost
from schemas.problems import FieldError


def cohost_view(record: asyncpg.Record, status: str = "accepted") -> Cohost:
    return Cohost(
        org=record["org"],
        name=record["name"],
        can_see_attendees=record["can_see_attendees"],
        created_at=record["created_at"],
        status=status,  # type: ignore[arg-type]
    )


async def invited_org(
    conn: asyncpg.Connection, kind: q.Kind, parent_id: UUID, host_org_id: UUID, slug: str
) -> asyncpg.Record:
    """The org named as co-host, refused when unknown, the host itself, or a co-host already."""
    org = await orgs.select_org(conn, slug)
    if org is None:
        raise RuleViolation(
            f"No organization has the slug {slug!r}.",
            errors=[FieldError(pointer="#/org", detail="unknown organization")],
        )
    if org["id"] == host_org_id:
        raise Conflict(f"{slug} created this {kind}; it hosts it already.")
    if await q.is_cohost(conn, kind, parent_id, org["id"]):
        raise Conflict(f"{slug} already co-hosts this {kind}; remove it first to change access.")
    return org


async def speaks_for(conn: asyncpg.Connection, slug: str, account_id: UUID) -> bool:
    """Whether the caller could accept for the org themselves (organizer or owner there, with
    two-factor on if the org requires it): then inviting it needs no second step."""
    org = await orgs.select_org_with_role(conn, slug, account_id)
    if org is None or org["role"] is None or ROLE_RANK[org["role"]] < ROLE_RANK["organizer"]:
        return False
    return not org["require_two_factor"] or bool(org["caller_two_factor"])


async def invite(
    conn: asyncpg.Connection, kind: q.Kind, parent_id: UUID, org_id: UUID, slug: str, grant: bool
) -> Cohost:
    record = await hosts.insert_cohost(conn, kind, parent_id, org_id, grant, invited=True)
    if record is None:
        raise Conflict(
            f"{slug} is already invited to co-host this {kind}; it has not answered yet."
        )
    return cohost_view(record, "pending")


async def answer(
    conn: asyncpg.Connection, kind: q.Kind, parent_id: UUID, slug: str, account_id: UUID | None
) -> asyncpg.Record:
    """The pending invitation of `slug`, taken away for its answer; only that org's organizers
    (or owners) may answer, and anyone else learns nothing about it."""
    await require_org_role(conn, slug, account_id, "organizer")
    found = await q.lock_parent(conn, kind, parent_id)
    invitation = await q.take_invitation(conn, kind, parent_id, slug) if found else None
    if invitation is None:
        raise NotFound(f"{slug} has no pending invitation to co-host this {kind}.")
    return invitation


async def pending(conn: asyncpg.Connection, kind: q.Kind, parent_id: UUID) -> list[Cohost]:
    return [
        cohost_view(r, "pending")
        for r in await hosts.select_cohosts(conn, kind, parent_id, invited=True)
    ]


async def list_org_invitations(
    conn: asyncpg.Connection, slug: str, account_id: UUID | None
) -> CohostInvitationList:
    """The invitations to co-host that the org has not answered (its organizers and owners)."""
    org = await require_org_role(conn, slug, account_id, "organizer")
    items = []
    for r in await q.select_org_invitations(conn, org["id"]):
        base = f"/v1/{r['kind']}s/{r['id']}/cohosts/{slug}"
        items.append(
            CohostInvitation(
                kind=r["kind"],
                id=r["id"],
                title=r["title"],
                starts_at=r["starts_at"],
                timezone=r["timezone"],
                status=r["status"],
                host_org=r["host_org"],
                host_name=r["host_name"],
                can_see_attendees=r["can_see_attendees"],
                invited_at=r["created_at"],
                accept_url=f"{base}/accept",
                decline_url=f"{base}/decline",
            )
        )
    return CohostInvitationList(items=items)
