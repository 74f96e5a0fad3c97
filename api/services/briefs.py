"""Short views of events, shifts, announcements and notifications in the caller's language."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from api.texts import choose_language, pick
from schemas.announcements import Announcement
from schemas.notifications import Notification
from schemas.rsvps import EventBrief, ShiftBrief


def event_brief(event: asyncpg.Record, languages: Sequence[str]) -> EventBrief:
    title: dict[str, str] = event["title"]
    lang = choose_language(list(event["languages"]) or list(title), languages)
    return EventBrief(
        id=event["id"],
        title=title,
        display_title=pick(title, lang),
        lang=lang,
        starts_at=event["starts_at"],
        ends_at=event["ends_at"],
        timezone=event["timezone"],
        status=event["status"],
    )


def shift_brief(shift: asyncpg.Record, languages: Sequence[str]) -> ShiftBrief:
    name: dict[str, str] = shift["name"]
    return ShiftBrief(
        id=shift["id"],
        name=name,
        display_name=pick(name, choose_language(list(name), languages)),
        role=shift["role"],
        starts_at=shift["starts_at"],
        ends_at=shift["ends_at"],
    )


def notification(record: asyncpg.Record) -> Notification:
    return Notification(
        id=record["id"],
        kind=record["kind"],
        event_id=record["event_id"],
        payload=record["payload"],
        created_at=record["created_at"],
        read_at=record["read_at"],
    )


def announcement(record: asyncpg.Record, languages: Sequence[str]) -> Announcement:
    body: dict[str, str] = record["body"]
    lang = choose_language(list(body), languages)
    return Announcement(
        id=record["id"],
        event_id=record["event_id"],
        body=body,
        display_body=pick(body, lang),
        lang=lang,
        created_at=record["created_at"],
    )
