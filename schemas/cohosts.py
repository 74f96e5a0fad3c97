"""Co-host invitations as the invited organization's organizers see them."""

from typing import Annotated, Literal
from uuid import UUID

from msgspec import Meta, Struct

from schemas.common import Slug, Timezone
from schemas.events import When
from schemas.texts import ShortTexts


class CohostInvitation(Struct, kw_only=True):
    """An event or trip another organization asks this one to co-host; nothing of it is public
    under this organization's name until accepted."""

    kind: Annotated[Literal["event", "trip"], Meta(examples=["event"])]
    id: Annotated[UUID, Meta(examples=["0f8e2c4a-1b3d-4e5f-8a9b-0c1d2e3f4a5b"])]
    title: ShortTexts
    starts_at: When
    timezone: Timezone
    status: Annotated[str, Meta(description="The event's or trip's status", examples=["draft"])]
    host_org: Slug
    host_name: Annotated[str, Meta(examples=["Frontera Unida"])]
    can_see_attendees: Annotated[
        bool, Meta(description="Whether accepting also grants the attendee (or participant) list")
    ]
    invited_at: When
    accept_url: Annotated[
        str, Meta(examples=["/v1/events/0f8e2c4a-1b3d-4e5f-8a9b-0c1d2e3f4a5b/cohosts/red/accept"])
    ]
    decline_url: Annotated[
        str, Meta(examples=["/v1/events/0f8e2c4a-1b3d-4e5f-8a9b-0c1d2e3f4a5b/cohosts/red/decline"])
    ]


class CohostInvitationList(Struct):
    """The invitations to co-host that the organization has not answered yet."""

    items: list[CohostInvitation]
