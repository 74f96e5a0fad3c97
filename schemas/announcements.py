"""Announcements: organizers' updates to the people coming to an event."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from msgspec import Meta, Struct

from schemas.common import NextCursor
from schemas.texts import LanguageTag

Id = Annotated[UUID, Meta(examples=["5c7e2d1a-3b4f-4c6d-8e9f-0a1b2c3d4e5f"])]
When = Annotated[datetime, Meta(examples=["2026-12-05T17:00:00Z"])]

AnnouncementBody = Annotated[
    dict[LanguageTag, Annotated[str, Meta(min_length=1, max_length=5_000, pattern=r"^[^\x00]*$")]],
    Meta(
        min_length=1,
        max_length=10,
        description="The update in one or more languages, keyed by language tag",
        examples=[{"en": "Meet at the north entrance", "es": "Nos vemos en la entrada norte"}],
    ),
]


class AnnouncementCreate(Struct, forbid_unknown_fields=True):
    """An update for everyone going, waitlisted or checked in; it lands in each one's inbox."""

    body: AnnouncementBody


class Announcement(Struct):
    """An update posted to an event's attendees."""

    id: Id
    event_id: Id
    body: AnnouncementBody
    display_body: Annotated[str, Meta(examples=["Nos vemos en la entrada norte"])]
    lang: Annotated[str | None, Meta(examples=["es"])]
    created_at: When


class AnnouncementPage(Struct):
    """An event's announcements, newest first."""

    items: list[Announcement]
    next_cursor: NextCursor = None


class PostedAnnouncement(Announcement):
    """The announcement just posted, and how many inboxes it reached."""

    recipients: Annotated[int, Meta(examples=[42])] = 0
