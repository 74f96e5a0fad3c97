"""Trip checklists: the items organizers set and each accepted participant's marks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from api.errors import Conflict, NotFound
from api.services import access
from api.services.trip_access import (
    FINAL,
    Row,
    readable_application,
    require_not_final,
    require_participant_or_organizer,
    require_trip_organizer,
)
from api.services.trips import trip_language
from api.texts import pick
from db.queries import audit, trip_applications, trips
from schemas.trip_applications import (
    Checklist,
    ChecklistEntry,
    ChecklistItem,
    ChecklistItemCreate,
    ParticipantChecklist,
)

MAX_CHECKLIST_ITEMS = 50


def checklist_item_view(record: Row, lang: str) -> ChecklistItem:
    return ChecklistItem(
        id=record["id"],
        position=record["position"],
        title=record["title"],
        description=record["description"],
        display_title=pick(record["title"], lang),
    )


def participant_checklist(record: Row, items: Sequence[Row]) -> ParticipantChecklist:
    done: dict[str, Any] = record["done"]
    entries = [
        ChecklistEntry(
            item_id=i["id"],
            done=str(i["id"]) in done,
            completed_at=_parse_time(done.get(str(i["id"]))),
        )
        for i in items
    ]
    return ParticipantChecklist(
        application_id=record["id"],
        display_name=record["display_name"],
        roles=list(record["roles"]),
        entries=entries,
        outstanding=sum(1 for e in entries if not e.done),
    )


def _parse_time(value: Any) -> datetime | None:
    if value is None:
        return None
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


async def get_checklist(
    conn: asyncpg.Connection, trip_id: UUID, account_id: UUID | None, languages: Sequence[str]
) -> Checklist:
    """Organizers with participant access: every accepted participant's state; an accepted
    participant: their own."""
    row = await require_participant_or_organizer(conn, trip_id, account_id, "Checklists")
    lang = trip_language(row, languages)
    items = await trips.select_checklist_items(conn, trip_id)
    if access.sees_attendees(row):
        people = await trip_applications.select_participants(conn, trip_id)
        await audit.insert_audit_entry(
            conn,
            row["org_id"],
            account_id,
            "trip_checklist.read",
            "trip",
            trip_id,
            {"rows": len(people)},
        )
    elif access.is_confirmed(row):
        people = await trip_applications.select_participants(
            conn, trip_id, application_id=row["my_application_id"]
        )
    else:
        people = []
    return Checklist(
        items=[checklist_item_view(i, lang) for i in items],
        participants=[participant_checklist(p, items) for p in people],
    )


async def add_checklist_item(
    conn: asyncpg.Connection,
    trip_id: UUID,
    account_id: UUID | None,
    data: ChecklistItemCreate,
    languages: Sequence[str],
) -> ChecklistItem:
    row = await require_trip_organizer(conn, trip_id, account_id, for_update=True)
    require_not_final(row)
    if await trips.count_checklist_items(conn, trip_id) >= MAX_CHECKLIST_ITEMS:
        raise Conflict(f"A trip has at most {MAX_CHECKLIST_ITEMS} checklist items.")
    record = await trips.insert_checklist_item(conn, trip_id, data.title, data.description)
    return checklist_item_view(record, trip_language(row, languages))


async def mark_checklist_item(
    conn: asyncpg.Connection, application_id: UUID, item_id: UUID, account_id: UUID, done: bool
) -> ParticipantChecklist:
    """The participant or an organizer with participant access marks an item (not) done."""
    trip, record = await readable_application(conn, application_id, account_id)
    if record["status"] != "accepted":
        raise Conflict(f"Checklists are for accepted participants; this one is {record['status']}.")
    if trip["status"] in FINAL:
        raise Conflict(f"This trip is {trip['status']}; its checklists cannot change any more.")
    if await trips.select_checklist_item(conn, trip["id"], item_id) is None:
        raise NotFound("This trip has no checklist item with this id.")
    if done:
        await trip_applications.insert_completion(conn, application_id, item_id, account_id)
    else:
        await trip_applications.delete_completion(conn, application_id, item_id)
    items = await trips.select_checklist_items(conn, trip["id"])
    (row,) = await trip_applications.select_participants(
        conn, trip["id"], application_id=application_id
    )
    return participant_checklist(row, items)
