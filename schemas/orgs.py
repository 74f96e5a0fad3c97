"""Organizations and memberships."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from msgspec import UNSET, Meta, Struct, UnsetType

from schemas.common import DisplayName, Email, LongText, NextCursor, Slug, Timezone, Url
from schemas.feeds import FeedLinks

Role = Annotated[
    Literal["owner", "organizer", "member"],
    Meta(description="owner > organizer > member", examples=["organizer"]),
]
OrgName = Annotated[
    str,
    Meta(min_length=1, max_length=120, pattern=r"^[^\x00-\x1f\x7f]+$", examples=["Frontera Unida"]),
]
When = Annotated[datetime, Meta(examples=["2026-12-05T17:00:00Z"])]


class OrgCreate(Struct, forbid_unknown_fields=True):
    """Create an organization; you become its owner."""

    slug: Slug
    name: OrgName
    timezone: Timezone
    description: LongText = ""
    website: Url | None = None


class Org(Struct):
    """An organization's public profile."""

    id: Annotated[UUID, Meta(examples=["5c7e2d1a-3b4f-4c6d-8e9f-0a1b2c3d4e5f"])]
    slug: Slug
    name: OrgName
    description: LongText
    timezone: Timezone
    website: Url | None
    created_at: When
    updated_at: When
    require_two_factor: Annotated[
        bool,
        Meta(
            description="Organizers and owners must use two-factor authentication",
            examples=[False],
        ),
    ] = False
    feeds: Annotated[
        FeedLinks | None,
        Meta(description="Subscribe links to the org's public calendar feed"),
    ] = None


class OrgPatch(Struct, forbid_unknown_fields=True):
    """Change an organization's profile; omitted fields stay as they are."""

    name: OrgName | UnsetType = UNSET
    description: LongText | UnsetType = UNSET
    timezone: Timezone | UnsetType = UNSET
    website: Url | UnsetType | None = UNSET
    require_two_factor: Annotated[
        bool | UnsetType,
        Meta(description="Owners only; turning it on needs two-factor on your own account"),
    ] = UNSET


class OrgPage(Struct):
    """A page of organizations."""

    items: list[Org]
    next_cursor: NextCursor = None


class MyOrg(Struct):
    """An organization you belong to, with your role in it."""

    org: Org
    role: Role


class MyOrgPage(Struct):
    """The organizations you belong to."""

    items: list[MyOrg]
    next_cursor: NextCursor = None


class MemberAdd(Struct, forbid_unknown_fields=True):
    """Add someone who already has an account, by the email they signed up with."""

    email: Email
    role: Role = "member"


class MemberPatch(Struct, forbid_unknown_fields=True):
    """Change a member's role."""

    role: Role


class Member(Struct):
    """A member as the org's organizers see them: display name and role only."""

    account_id: Annotated[UUID, Meta(examples=["9b2f0c1e-6a4d-4f7e-9a51-0c3e2b7d8f10"])]
    display_name: DisplayName
    role: Role
    joined_at: When


class MemberPage(Struct):
    """A page of members."""

    items: list[Member]
    next_cursor: NextCursor = None
