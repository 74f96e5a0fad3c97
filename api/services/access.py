"""A caller's standing towards a hosted thing (an event or a trip): rank, co-host rank, confirmed.

Every hosted thing is selected with the caller's standing (db.queries.hosts.rank_columns plus
its own `is_confirmed`), so one set of rules serves them all:
- drafts: organizers of a hosting org (the creating org or a co-host) only;
- public: everyone; members: members of a hosting org (others get a 404);
- private: organizers, and whoever came through the share link.
"""

from __future__ import annotations

from typing import Any, Protocol
from uuid import UUID

import asyncpg
import msgspec

from api.errors import Forbidden, Unauthorized
from api.guards import require_two_factor_for
from db.queries.hosts import Kind

#: ranks from db.queries.hosts.RANK
ORGANIZER = 2
MEMBER = 1


class Hosted(Protocol):
    """A row of a hosted thing as db.queries selects it for a caller: `status`, `visibility`,
    `host_rank`, `cohost_rank`, `cohost_attendee_rank` and `is_confirmed` (among others)."""

    def __getitem__(self, key: str, /) -> Any: ...


class Standing(msgspec.Struct, frozen=True, kw_only=True):
    """What decides how much of a protected place a caller sees."""

    organizer: bool
    confirmed: bool


def standing_of(row: Hosted) -> Standing:
    """The caller's standing as the row carries it."""
    return Standing(organizer=is_organizer(row), confirmed=is_confirmed(row))


def is_organizer(row: Hosted) -> bool:
    """Organizer or owner of the creating org or of a co-hosting org."""
    return max(row["host_rank"], row["cohost_rank"]) >= ORGANIZER


def is_host_organizer(row: Hosted) -> bool:
    """Organizer or owner of the creating org (who alone invites and removes co-hosts)."""
    return bool(row["host_rank"] >= ORGANIZER)


def is_member(row: Hosted) -> bool:
    """Any role in the creating org or a co-hosting org."""
    return max(row["host_rank"], row["cohost_rank"]) >= MEMBER


def sees_attendees(row: Hosted) -> bool:
    """Organizers of the creating org, or of a co-host it granted attendee access."""
    return max(row["host_rank"], row["cohost_attendee_rank"]) >= ORGANIZER


def is_confirmed(row: Hosted) -> bool:
    """Coming for sure: an RSVP going or attended, an accepted trip application."""
    return bool(row["is_confirmed"])


def can_view(row: Hosted, *, via_share_link: bool = False) -> bool:
    """Whether the caller may see the thing at all (see the module docstring)."""
    if is_organizer(row):
        return True
    if row["status"] == "draft":
        return False
    if row["visibility"] == "public":
        return True
    if row["visibility"] == "members":
        return is_member(row)
    return via_share_link


#: who the attendee data of each kind is, in a refusal
_ATTENDEES = {"event": "see who is coming", "trip": "see the people on a trip"}


async def require_organizer(
    conn: asyncpg.Connection,
    kind: Kind,
    row: Hosted,
    account_id: UUID,
    *,
    attendee_access: bool = False,
) -> None:
    """403 unless the caller organizes the row (a row they may see); with `attendee_access`,
    co-hosts count only when the creating org granted them attendee access. Then the org's
    two-factor requirement."""
    if attendee_access:
        if not sees_attendees(row):
            raise Forbidden(
                "Only organizers of the creating organization, or of a co-host it granted "
                f"attendee access, {_ATTENDEES[kind]}."
            )
    elif not is_organizer(row):
        raise Forbidden(f"This needs the organizer role in an organization hosting the {kind}.")
    await require_two_factor_for(conn, kind, row["id"], account_id)


def require_login(account_id: UUID | None) -> UUID:
    """The account; anonymous → 401."""
    if account_id is None:
        raise Unauthorized("Log in first: send `Authorization: Bearer <token>`.")
    return account_id
