"""Role guards: every org-scoped route asks here before it touches anything."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from api.errors import Forbidden, NotFound, Unauthorized
from db.queries import orgs

ROLE_RANK = {"member": 1, "organizer": 2, "owner": 3}


class TwoFactorRequired(Forbidden):
    """Raised when an org requires two-factor authentication of its organizers and owners and
    the caller, acting as one, has not turned it on."""

    slug, title = "two-factor-required-by-org", "This organization requires two-factor"


def require_caller(account_id: UUID | None) -> UUID:
    if account_id is None:
        raise Unauthorized("Log in first: send `Authorization: Bearer <token>`.")
    return account_id


async def require_org_role(
    conn: asyncpg.Connection, slug: str, account_id: UUID | None, min_role: str
) -> asyncpg.Record:
    """The org row (with the caller's `role`) if the caller holds at least `min_role` in it.

    Orgs are public, so a non-member learns nothing new from a 403. When the org requires
    two-factor authentication, organizer and owner actions need it on (403 otherwise).
    """
    caller = require_caller(account_id)
    org = await orgs.select_org_with_role(conn, slug, caller)
    if org is None:
        raise NotFound(f"No organization has the slug {slug!r}.")
    if org["role"] is None or ROLE_RANK[org["role"]] < ROLE_RANK[min_role]:
        raise Forbidden(f"This needs the {min_role} role (or higher) in {slug}.")
    if ROLE_RANK[min_role] >= ROLE_RANK["organizer"]:
        require_two_factor(org)
    return org


def require_two_factor(org: asyncpg.Record) -> None:
    """403 unless the org leaves two-factor optional or the caller (as read by
    select_org_with_role) has it on."""
    if org["require_two_factor"] and not org["caller_two_factor"]:
        raise TwoFactorRequired(
            f"{org['slug']} requires two-factor authentication of its organizers and owners: "
            "turn it on first (POST /v1/me/two-factor, then confirm it with a code)."
        )


async def require_two_factor_for(
    conn: asyncpg.Connection, kind: str, object_id: UUID, account_id: UUID
) -> None:
    """The org's two-factor requirement for organizer checks that start from an event or a
    trip ("event" | "trip") instead of a slug."""
    slug = await orgs.select_two_factor_block(conn, kind, object_id, account_id)
    if slug is not None:
        raise TwoFactorRequired(
            f"{slug} requires two-factor authentication of its organizers and owners: "
            "turn it on first (POST /v1/me/two-factor, then confirm it with a code)."
        )
