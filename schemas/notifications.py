"""The notifications inbox: things that happened to a person's RSVPs and events."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from msgspec import Meta, Struct

from schemas.common import NextCursor

Id = Annotated[UUID, Meta(examples=["5c7e2d1a-3b4f-4c6d-8e9f-0a1b2c3d4e5f"])]
When = Annotated[datetime, Meta(examples=["2026-12-05T17:00:00Z"])]

NotificationKind = Annotated[
    str,
    Meta(
        description=(
            "rsvp.promoted, event.moved, event.postponed, event.cancelled, "
            "event.location_revealed, event.announcement (later capabilities add more)"
        ),
        examples=["rsvp.promoted"],
    ),
]
NotificationOrder = Literal["newest", "unread_first"]


class Notification(Struct):
    """One notification; `payload` holds ids and the change (never other people's data)."""

    id: Id
    kind: NotificationKind
    event_id: Id | None
    payload: Annotated[
        dict[str, Any], Meta(examples=[{"event_id": "5c7e2d1a-3b4f-4c6d-8e9f-0a1b2c3d4e5f"}])
    ]
    created_at: When
    read_at: When | None


class NotificationPage(Struct):
    """A page of your notifications."""

    items: list[Notification]
    unread: Annotated[int, Meta(description="How many are unread in all", examples=[3])]
    next_cursor: NextCursor = None


class ReadAll(Struct):
    """How many notifications were marked read."""

    marked: Annotated[int, Meta(examples=[3])]
