"""Trip announcements: updates posted to every accepted participant's inbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from api.errors import Conflict
from api.pagination import decode_cursor, split_page
from api.services import access
from api.services.trip_access import (
    Row,
    require_participant_or_organizer,
    require_trip_organizer,
)
from api.texts import choose_language, pick
from db.queries import hosts
from db.queries.notifications import insert_trip_notifications
from db.queries.outbox import insert_outbox_entry
from schemas.trips import TripAnnouncement, TripAnnouncementCreate, TripAnnouncementPage


def announcement_view(
    record: Row, languages: Sequence[str], recipients: int | None = None
) -> TripAnnouncement:
    body: dict[str, str] = record["body"]
    lang = choose_language(list(body), languages)
    return TripAnnouncement(
        id=record["id"],
        trip_id=record["trip_id"],
        body=body,
        display_body=pick(body, lang),
        lang=lang,
        created_at=record["created_at"],
        recipients=recipients,
    )


async def post_announcement(
    conn: asyncpg.Connection,
    trip_id: UUID,
    account_id: UUID | None,
    data: TripAnnouncementCreate,
    languages: Sequence[str],
) -> TripAnnouncement:
    """Post an update; it lands in every accepted participant's inbox."""
    row = await require_trip_organizer(conn, trip_id, account_id)
    if row["status"] == "draft":
        raise Conflict("Open the trip first; a draft has nobody to tell.")
    record = await hosts.insert_announcement(
        conn, "trip", trip_id, row["org_id"], access.require_login(account_id), data.body
    )
    reached = await insert_trip_notifications(
        conn,
        trip_id,
        "trip.announcement",
        {"trip_id": str(trip_id), "announcement_id": str(record["id"]), "body": data.body},
    )
    await insert_outbox_entry(
        conn,
        row["org_id"],
        "trip.announcement",
        trip_id,
        {"trip_id": str(trip_id), "announcement_id": str(record["id"])},
    )
    return announcement_view(record, languages, reached)


async def list_announcements(
    conn: asyncpg.Connection,
    trip_id: UUID,
    account_id: UUID | None,
    languages: Sequence[str],
    cursor: str | None,
    limit: int,
) -> TripAnnouncementPage:
    """Newest first; for accepted participants and the trip's organizers."""
    await require_participant_or_organizer(conn, trip_id, account_id, "Announcements")
    before = decode_cursor(cursor, tuple[datetime, UUID])
    rows = await hosts.select_announcements(conn, "trip", trip_id, before, limit + 1)
    page, next_cursor = split_page(rows, limit, lambda r: (r["created_at"], r["id"]))
    return TripAnnouncementPage(
        items=[announcement_view(r, languages) for r in page], next_cursor=next_cursor
    )
