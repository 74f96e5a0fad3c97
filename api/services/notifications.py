"""The notifications inbox, and announcements that land in it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from api.errors import Forbidden, NotFound, Unauthorized
from api.pagination import decode_cursor, split_page
from api.services import events
from api.services.briefs import announcement, notification
from api.services.rsvp_booking import visible_event
from db.queries import hosts, notifications, outbox, rsvps
from schemas.announcements import AnnouncementCreate, AnnouncementPage, PostedAnnouncement
from schemas.notifications import Notification, NotificationPage, ReadAll

# ---------------------------------------------------------------- inbox


async def list_inbox(
    conn: asyncpg.Connection,
    account_id: UUID,
    *,
    order: str,
    unread_only: bool,
    cursor: str | None,
    limit: int,
) -> NotificationPage:
    after = decode_cursor(cursor, tuple[int, datetime, UUID])
    rows = await notifications.select_account_notifications(
        conn, account_id, order=order, unread_only=unread_only, after=after, limit=limit + 1
    )
    page, next_cursor = split_page(rows, limit, lambda r: (r["rank"], r["created_at"], r["id"]))
    return NotificationPage(
        items=[notification(r) for r in page],
        unread=await notifications.count_unread(conn, account_id),
        next_cursor=next_cursor,
    )


async def mark_read(
    conn: asyncpg.Connection, account_id: UUID, notification_id: UUID
) -> Notification:
    record = await notifications.mark_read(conn, account_id, notification_id)
    if record is None:
        raise NotFound("You have no notification with this id.")
    return notification(record)


async def mark_all_read(conn: asyncpg.Connection, account_id: UUID) -> ReadAll:
    return ReadAll(marked=await notifications.mark_all_read(conn, account_id))


# ---------------------------------------------------------------- announcements


async def post_announcement(
    conn: asyncpg.Connection,
    event_id: UUID,
    account_id: UUID | None,
    data: AnnouncementCreate,
    languages: Sequence[str],
) -> PostedAnnouncement:
    """Post an update; it lands in the inbox of everyone going, waitlisted or checked in
    (their account's inbox, or their manage link's), once per person."""
    if account_id is None:
        raise Unauthorized("Log in first: send `Authorization: Bearer <token>`.")
    event = await events.require_event_organizer(conn, event_id, account_id)
    record = await hosts.insert_announcement(
        conn, "event", event_id, event["org_id"], account_id, data.body
    )
    reached = await notifications.insert_event_notifications(
        conn,
        event_id,
        "event.announcement",
        {"event_id": str(event_id), "announcement_id": str(record["id"]), "body": data.body},
    )
    await outbox.insert_outbox_entry(
        conn,
        event["org_id"],
        "event.announcement",
        event_id,
        {"event_id": str(event_id), "announcement_id": str(record["id"])},
    )
    posted = announcement(record, languages)
    return PostedAnnouncement(**msgspec.structs.asdict(posted), recipients=reached)


async def list_announcements(
    conn: asyncpg.Connection,
    event_id: UUID,
    account_id: UUID | None,
    languages: Sequence[str],
    cursor: str | None,
    limit: int,
) -> AnnouncementPage:
    """For the hosts' organizers and for people with a live RSVP (accounts; people without
    one read them behind their manage link)."""
    if account_id is None:
        raise Unauthorized("Log in first, or open your RSVP's manage link.")
    event = await visible_event(conn, event_id, account_id)
    if not event["is_host_organizer"]:
        if not await rsvps.account_has_live_rsvp(conn, event_id, account_id):
            raise Forbidden("Announcements are for the people coming and the organizers.")
    before = decode_cursor(cursor, tuple[datetime, UUID])
    rows = await hosts.select_announcements(conn, "event", event_id, before, limit + 1)
    page, next_cursor = split_page(rows, limit, lambda r: (r["created_at"], r["id"]))
    return AnnouncementPage(
        items=[announcement(r, languages) for r in page], next_cursor=next_cursor
    )
