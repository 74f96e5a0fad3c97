"""Trips: lifecycle rules, who may see and change what, the protected meeting point, places and
the waitlist, co-hosts, questions, checklists, announcements, and the participant-data purge.

Who is who for a trip:
- organizers: organizer/owner of the creating org or of a co-hosting org; they edit the trip;
- organizers with participant access: those of the creating org, and of co-hosts it granted
  `can_see_attendees`; only they see applications, participant data, checklists and rosters;
- accepted participants: the exact meeting point and places (per `location_policy`), the
  participant-only itinerary items, announcements, and their own checklist.

Drafts are seen by organizers only; members-only trips by members of a hosting org. Whoever may
not see a trip gets a 404; whoever sees it but lacks the role gets a 403.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
from msgspec import UNSET

from api.errors import Conflict, Forbidden, NotFound, RuleViolation
from api.guards import require_org_role
from api.pagination import decode_cursor, split_page
from api.patching import place_columns, sent_fields
from api.services import access, locations
from api.services.lifecycle import HostedKind
from api.services.locations import Place
from api.services.orgs import check_timezone
from api.services.rides import flag_rides_for_trip
from api.texts import choose_language, pick
from db.queries import audit, data_keys, hosts, itinerary, orgs, trip_applications, trips
from db.queries.notifications import (
    insert_trip_application_notification,
    insert_trip_notifications,
)
from db.queries.outbox import insert_outbox_entry
from schemas.feeds import feed_links
from schemas.problems import FieldError
from schemas.trips import (
    Checklist,
    ChecklistEntry,
    ChecklistItem,
    ChecklistItemCreate,
    Cost,
    MyApplicationRef,
    ParticipantChecklist,
    Question,
    QuestionCreate,
    QuestionList,
    QuestionOption,
    Trip,
    TripAnnouncement,
    TripAnnouncementCreate,
    TripAnnouncementPage,
    TripCreate,
    TripDisplay,
    TripLinks,
    TripPage,
    TripPatch,
)

NOT_VISIBLE = "No trip has this id, or it is not visible to you."
#: the data class (and key) sealing emergency contacts and notes; one key per trip
EMERGENCY_CLASS = "trip_emergency"
MAX_QUESTIONS = 50
MAX_CHECKLIST_ITEMS = 50

#: a change to any of these is a change a calendar shows: `sequence` rises
CALENDAR_COLUMNS = frozenset(
    {
        "title",
        "summary",
        "description",
        "starts_at",
        "ends_at",
        "timezone",
        "meeting_name",
        "meeting_address",
        "meeting_lat",
        "meeting_lon",
        "area",
    }
)
#: a change to any of these tells accepted participants that the trip moved
MOVE_COLUMNS = frozenset(
    {
        "starts_at",
        "ends_at",
        "meeting_name",
        "meeting_address",
        "meeting_lat",
        "meeting_lon",
        "area",
    }
)
#: statuses after which nothing about the trip changes any more
FINAL = ("cancelled", "completed")

#: a trip, item or application row (from db.queries) or a mapping shaped like one
Row = asyncpg.Record | Mapping[str, Any]


def _now(now: datetime | None = None) -> datetime:
    return now or datetime.now(UTC)


# ---------------------------------------------------------------- standing and visibility


async def visible_trip(
    conn: asyncpg.Connection, trip_id: UUID, account_id: UUID | None, *, for_update: bool = False
) -> asyncpg.Record:
    """The trip row with the caller's standing; 404 when the caller may not see it."""
    row = await trips.select_trip(conn, trip_id, account_id, for_update=for_update)
    if row is None or not access.can_view(row):
        raise NotFound(NOT_VISIBLE)
    return row


async def require_trip_organizer(
    conn: asyncpg.Connection,
    trip_id: UUID,
    account_id: UUID | None,
    *,
    participant_access: bool = False,
    for_update: bool = False,
) -> asyncpg.Record:
    """The trip row if the caller organizes it (with participant access when asked).

    Anonymous → 401; a trip the caller may not see → 404; seen but no role → 403.
    `for_update` locks the trip row for the rest of the transaction.
    """
    caller = access.require_login(account_id)
    row = await visible_trip(conn, trip_id, caller, for_update=for_update)
    await access.require_organizer(conn, "trip", row, caller, attendee_access=participant_access)
    return row


async def require_participant_or_organizer(
    conn: asyncpg.Connection, trip_id: UUID, account_id: UUID | None, what: str
) -> asyncpg.Record:
    """The trip row if the caller is an accepted participant or organizes it."""
    access.require_login(account_id)
    row = await visible_trip(conn, trip_id, account_id)
    if not (access.is_confirmed(row) or access.is_organizer(row)):
        raise Forbidden(f"{what} are for accepted participants and the trip's organizers.")
    return row


def require_not_final(row: Row) -> None:
    if row["status"] in FINAL:
        raise Conflict(f"This trip is {row['status']}; it cannot change any more.")


# ---------------------------------------------------------------- the view


def trip_place(row: Row) -> Place:
    """The meeting point, under the trip's location policy."""
    return locations.place_of(row, "meeting")


def sees_exact_places(row: Row, now: datetime | None = None) -> bool:
    """Whether the caller sees the exact meeting point and itinerary places."""
    return locations.may_see_exact_location(trip_place(row), access.standing_of(row), now)


def deadline(row: Row) -> datetime:
    """When applications stop: the application deadline, else the trip's start."""
    return row["application_deadline"] or row["starts_at"]  # type: ignore[no-any-return]


def accepting_applications(row: Row, now: datetime | None = None) -> bool:
    return row["status"] in ("open", "full") and _now(now) < deadline(row)


def cost_of(row: Row) -> Cost:
    amount = row["cost_amount"]
    return Cost(
        amount=None if amount is None else f"{amount:.2f}",
        currency=row["cost_currency"],
        scholarships_available=row["scholarships_available"],
        notes=row["cost_notes"],
    )


def trip_language(row: Row, languages: Sequence[str]) -> str:
    title = row["title"]
    available = list(row["languages"]) or list(title)
    return choose_language(available, languages) or next(iter(title), "und")


def trip_view(row: Row, languages: Sequence[str]) -> Trip:
    """The Trip JSON for a row from db.queries.trips (which carries the caller's standing)."""
    lang = trip_language(row, languages)
    mine = (
        MyApplicationRef(id=row["my_application_id"], status=row["my_application_status"])
        if row["my_application_id"]
        else None
    )
    return Trip(
        id=row["id"],
        org=row["org_slug"],
        cohosts=list(row["cohost_slugs"]),
        title=row["title"],
        summary=row["summary"],
        description=row["description"],
        languages=list(row["languages"]),
        display=TripDisplay(
            lang=lang,
            title=pick(row["title"], lang),
            summary=pick(row["summary"], lang),
            description=pick(row["description"], lang),
            requirements=[pick(r, lang) for r in row["requirements"]],
            cost_notes=pick(row["cost_notes"], lang),
        ),
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        timezone=row["timezone"],
        location=locations.location_for(trip_place(row), exact_allowed=sees_exact_places(row)),
        location_policy=row["location_policy"],
        reveal_at=row["reveal_at"],
        visibility=row["visibility"],
        status=row["status"],
        cancel_reason=row["cancel_reason"],
        capacity=row["capacity"],
        places_taken=row["places_taken"],
        spots_left=max(row["capacity"] - row["places_taken"], 0),
        application_deadline=row["application_deadline"],
        accepting_applications=accepting_applications(row),
        cost=cost_of(row),
        requirements=list(row["requirements"]),
        promote_from_waitlist=row["promote_from_waitlist"],
        my_application=mine,
        sequence=row["sequence"],
        change_seq=row["change_seq"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        links=TripLinks(
            self=f"/v1/trips/{row['id']}",
            org=f"/v1/orgs/{row['org_slug']}",
            itinerary=f"/v1/trips/{row['id']}/itinerary",
            applications=f"/v1/trips/{row['id']}/applications",
        ),
        feeds=feed_links(f"/v1/trips/{row['id']}/calendar.ics")
        if row["visibility"] == "public" and row["status"] != "draft"
        else None,
    )


# ---------------------------------------------------------------- values and rules


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _cost_columns(cost: Cost) -> dict[str, Any]:
    return {
        "cost_amount": None if cost.amount is None else Decimal(cost.amount),
        "cost_currency": cost.currency,
        "cost_notes": cost.notes,
        "scholarships_available": cost.scholarships_available,
    }


def values_from_create(data: TripCreate) -> dict[str, Any]:
    """Every writable column of a new trip, from the request."""
    return locations.with_public_point(
        {
            "title": data.title,
            "summary": data.summary,
            "description": data.description,
            "languages": _unique([*(data.languages or []), *data.title])
            if data.languages
            else list(data.title),
            "starts_at": data.starts_at,
            "ends_at": data.ends_at,
            "timezone": data.timezone,
            **place_columns("meeting", data.meeting_point),
            "area": data.area,
            "location_policy": data.location_policy,
            "reveal_at": data.reveal_at,
            "capacity": data.capacity,
            "application_deadline": data.application_deadline,
            **_cost_columns(data.cost),
            "visibility": data.visibility,
            "requirements": data.requirements,
            "promote_from_waitlist": data.promote_from_waitlist,
        },
        "meeting",
    )


def values_from_row(row: Row) -> dict[str, Any]:
    values = {c: row[c] for c in trips.WRITABLE_COLUMNS}
    values["languages"] = list(values["languages"])
    return values


def apply_patch(current: Row, data: TripPatch) -> dict[str, Any]:
    """The trip's writable columns after the PATCH (omitted fields keep their values)."""
    new = dict(current)
    new.update(
        sent_fields(
            data,
            (
                "title",
                "summary",
                "description",
                "starts_at",
                "ends_at",
                "timezone",
                "area",
                "location_policy",
                "reveal_at",
                "capacity",
                "application_deadline",
                "visibility",
                "requirements",
                "promote_from_waitlist",
            ),
        )
    )
    if data.meeting_point is not UNSET:
        new.update(place_columns("meeting", data.meeting_point))
    if data.cost is not UNSET:
        new.update(_cost_columns(data.cost))
    if data.languages is not UNSET:
        new["languages"] = _unique([*data.languages, *new["title"]])
    elif data.title is not UNSET:
        new["languages"] = _unique([*new["languages"], *new["title"]])
    # leaving the reveal_at policy drops the time, unless the request sets one (then a 422)
    if (
        data.location_policy is not UNSET
        and data.location_policy != "reveal_at"
        and data.reveal_at is UNSET
    ):
        new["reveal_at"] = None
    return locations.with_public_point(new, "meeting")


def check_rules(values: Row) -> None:
    """Rules a trip's own fields must satisfy together; all broken ones in one 422."""
    check_timezone(values["timezone"])
    errors: list[FieldError] = []
    if values["ends_at"] <= values["starts_at"]:
        errors.append(FieldError(pointer="#/ends_at", detail="must be after starts_at"))
    deadline_at = values["application_deadline"]
    if deadline_at is not None and deadline_at > values["starts_at"]:
        errors.append(
            FieldError(pointer="#/application_deadline", detail="must not be after starts_at")
        )
    if values["location_policy"] == "reveal_at" and values["reveal_at"] is None:
        errors.append(
            FieldError(pointer="#/reveal_at", detail="required when location_policy is reveal_at")
        )
    if values["location_policy"] != "reveal_at" and values["reveal_at"] is not None:
        errors.append(
            FieldError(pointer="#/reveal_at", detail="only with location_policy reveal_at")
        )
    if values["location_policy"] != "public" and not values["area"]:
        errors.append(
            FieldError(
                pointer="#/area",
                detail="a protected meeting point needs a public area (e.g. the city)",
            )
        )
    if (values["meeting_lat"] is None) != (values["meeting_lon"] is None):
        missing = "lon" if values["meeting_lon"] is None else "lat"
        errors.append(
            FieldError(
                pointer=f"#/meeting_point/{missing}", detail="give both lat and lon, or neither"
            )
        )
    if values["cost_amount"] is not None and values["cost_currency"] is None:
        errors.append(FieldError(pointer="#/cost/currency", detail="required with an amount"))
    if errors:
        raise RuleViolation("; ".join(f"{e.pointer[2:]} {e.detail}" for e in errors), errors=errors)


# ---------------------------------------------------------------- helpers


def notice(row: Row, **extra: Any) -> dict[str, Any]:
    """A notification payload: what changed, never where exactly (the inbox is not the place)."""
    return {
        "trip_id": str(row["id"]),
        "title": row["title"],
        "starts_at": row["starts_at"],
        "ends_at": row["ends_at"],
        "area": row["area"],
        "sequence": row["sequence"],
        **extra,
    }


async def outbox(conn: asyncpg.Connection, row: Row, topic: str) -> None:
    """A thin change record: ids, sequence, status and place counts; never people."""
    await insert_outbox_entry(
        conn,
        row["org_id"],
        topic,
        row["id"],
        {
            "id": str(row["id"]),
            "sequence": row["sequence"],
            "status": row["status"],
            "capacity": row["capacity"],
            "places_taken": row["places_taken"],
        },
    )


async def reload(
    conn: asyncpg.Connection, trip_id: UUID, account_id: UUID | None
) -> asyncpg.Record:
    row = await trips.select_trip(conn, trip_id, account_id)
    assert row is not None
    return row


# ---------------------------------------------------------------- places and the waitlist


async def fill_from_waitlist(
    conn: asyncpg.Connection, trip_id: UUID, decided_by: UUID | None
) -> list[UUID]:
    """Accept the oldest waitlisted applications while places are free; the promoted ids.

    Call it with the trip row locked, in the transaction that freed the places (a withdrawal,
    a raised capacity). Each promoted applicant gets a "trip.application_promoted" notice.
    """
    promoted: list[UUID] = []
    while True:
        head = await trip_applications.next_waitlisted(conn, trip_id)
        if head is None:
            break
        if await trips.add_places(conn, trip_id, 1) is None:
            break
        await trip_applications.update_status(conn, head["id"], "accepted", decided_by)
        await insert_trip_application_notification(
            conn,
            head["id"],
            "trip.application_promoted",
            {"trip_id": str(trip_id), "application_id": str(head["id"]), "status": "accepted"},
        )
        promoted.append(head["id"])
    return promoted


# ---------------------------------------------------------------- create, read, list


async def create_trip(
    conn: asyncpg.Connection,
    slug: str,
    account_id: UUID | None,
    data: TripCreate,
    languages: Sequence[str],
) -> Trip:
    """A new draft under the org (organizers and owners)."""
    org = await require_org_role(conn, slug, account_id, "organizer")
    values = values_from_create(data)
    check_rules(values)
    trip_id = await hosts.insert_hosted(conn, "trip", org["id"], account_id, values)
    row = await reload(conn, trip_id, account_id)
    await outbox(conn, row, "trip.created")
    return trip_view(row, languages)


async def get_trip(
    conn: asyncpg.Connection, trip_id: UUID, account_id: UUID | None, languages: Sequence[str]
) -> Trip:
    return trip_view(await visible_trip(conn, trip_id, account_id), languages)


async def list_org_trips(
    conn: asyncpg.Connection,
    slug: str,
    account_id: UUID | None,
    *,
    include_past: bool,
    cursor: str | None,
    limit: int,
    languages: Sequence[str],
) -> TripPage:
    """The org's trips and those it co-hosts that the caller may see, by start time."""
    org = await orgs.select_org(conn, slug)
    if org is None:
        raise NotFound(f"No organization has the slug {slug!r}.")
    after = decode_cursor(cursor, tuple[datetime, UUID])
    rows = await trips.select_org_trips(
        conn,
        org["id"],
        account_id,
        ends_after=None if include_past else _now(),
        after=after,
        limit=limit + 1,
    )
    page, next_cursor = split_page(rows, limit, lambda r: (r["starts_at"], r["id"]))
    return TripPage(items=[trip_view(r, languages) for r in page], next_cursor=next_cursor)


# ---------------------------------------------------------------- update


async def update_trip(
    conn: asyncpg.Connection,
    trip_id: UUID,
    account_id: UUID | None,
    data: TripPatch,
    languages: Sequence[str],
) -> Trip:
    """Apply a PATCH: sequence for calendar-visible changes; capacity never below the places
    taken; full/open follow the capacity; itinerary items must stay within the dates."""
    row = await require_trip_organizer(conn, trip_id, account_id, for_update=True)
    require_not_final(row)
    current = values_from_row(row)
    new = apply_patch(current, data)
    check_rules(new)
    if new["capacity"] < row["places_taken"]:
        raise Conflict(
            f"{row['places_taken']} participants are accepted; the capacity cannot go below "
            "that. Ask someone to withdraw first, or choose a larger capacity.",
            errors=[
                FieldError(
                    pointer="#/capacity", detail=f"at least {row['places_taken']} (accepted)"
                )
            ],
        )
    if new["starts_at"] != current["starts_at"] or new["ends_at"] != current["ends_at"]:
        outside = await itinerary.select_items_outside(
            conn, trip_id, new["starts_at"], new["ends_at"]
        )
        if outside:
            raise RuleViolation(
                f"{len(outside)} itinerary item(s) would fall outside the new dates; move or "
                "delete them first.",
                errors=[
                    FieldError(
                        pointer="#/starts_at"
                        if new["starts_at"] > current["starts_at"]
                        else "#/ends_at",
                        detail="itinerary items fall outside these dates",
                    )
                ],
            )
    changed = {c for c in trips.WRITABLE_COLUMNS if new[c] != current[c]}
    status = None
    if row["status"] in ("open", "full"):
        status = "full" if row["places_taken"] >= new["capacity"] else "open"
        status = None if status == row["status"] else status
    if not changed and status is None:
        return trip_view(row, languages)
    await hosts.update_hosted(
        conn, "trip", trip_id, new, bump_sequence=bool(changed & CALENDAR_COLUMNS), status=status
    )
    if (
        new["capacity"] > current["capacity"]
        and new["promote_from_waitlist"]
        and row["status"] in ("open", "full", "closed")
    ):
        await fill_from_waitlist(conn, trip_id, account_id)
    after = await reload(conn, trip_id, account_id)
    if row["status"] != "draft" and changed & MOVE_COLUMNS:
        await insert_trip_notifications(conn, trip_id, "trip.moved", notice(after))
    if changed & {"starts_at", "ends_at"}:
        await flag_rides_for_trip(conn, trip_id)
    await outbox(conn, after, "trip.updated")
    return trip_view(after, languages)


async def _find(conn: asyncpg.Connection, trip_id: UUID, account_id: UUID | None) -> asyncpg.Record:
    return await require_trip_organizer(conn, trip_id, account_id)


async def _lock(conn: asyncpg.Connection, trip_id: UUID, account_id: UUID | None) -> asyncpg.Record:
    return await require_trip_organizer(conn, trip_id, account_id, for_update=True)


TRIPS = HostedKind(kind="trip", find=_find, lock=_lock, reload=reload, outbox=outbox)


# ---------------------------------------------------------------- questions


def question_view(record: Row, lang: str) -> Question:
    return Question(
        id=record["id"],
        position=record["position"],
        kind=record["kind"],
        prompt=record["prompt"],
        display_prompt=pick(record["prompt"], lang),
        options=[QuestionOption(value=o["value"], label=o["label"]) for o in record["options"]],
        required=record["required"],
    )


async def list_questions(
    conn: asyncpg.Connection, trip_id: UUID, account_id: UUID | None, languages: Sequence[str]
) -> QuestionList:
    """The application questions: for whoever may see the trip (they apply with them)."""
    row = await visible_trip(conn, trip_id, account_id)
    lang = trip_language(row, languages)
    return QuestionList(
        items=[question_view(q, lang) for q in await trips.select_questions(conn, trip_id)]
    )


async def add_question(
    conn: asyncpg.Connection,
    trip_id: UUID,
    account_id: UUID | None,
    data: QuestionCreate,
    languages: Sequence[str],
) -> Question:
    row = await require_trip_organizer(conn, trip_id, account_id, for_update=True)
    require_not_final(row)
    errors: list[FieldError] = []
    values = [o.value for o in data.options]
    if data.kind == "text" and data.options:
        errors.append(FieldError(pointer="#/options", detail="text questions have no options"))
    if data.kind != "text" and len(data.options) < 2:
        errors.append(FieldError(pointer="#/options", detail="a choice needs at least 2 options"))
    if len(set(values)) != len(values):
        errors.append(FieldError(pointer="#/options", detail="option values must be unique"))
    if errors:
        raise RuleViolation(
            "; ".join(f"{e.pointer[2:]}: {e.detail}" for e in errors), errors=errors
        )
    if await trips.count_questions(conn, trip_id) >= MAX_QUESTIONS:
        raise Conflict(f"A trip has at most {MAX_QUESTIONS} questions.")
    record = await trips.insert_question(
        conn,
        trip_id,
        data.kind,
        data.prompt,
        [{"value": o.value, "label": o.label} for o in data.options],
        data.required,
    )
    return question_view(record, trip_language(row, languages))


# ---------------------------------------------------------------- checklists


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


# ---------------------------------------------------------------- announcements


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


# ---------------------------------------------------------------- retention


async def purge_trip_participant_data(
    conn: asyncpg.Connection,
    *,
    now: datetime | None = None,
    days: int = 7,
    org_id: UUID | None = None,
) -> list[dict[str, Any]]:
    """Purge emergency contacts and notes of trips that ended (or were cancelled) at least
    `days` ago: ciphertexts set to NULL with `data_purged_at`, the trip's data key destroyed
    (which also shreds copies in backups), and an audit row per trip. Application statuses
    and counts stay. Safe to run repeatedly and from several workers at once. With `org_id`,
    only that org's trips (an org with a shorter window).

    Returns one {"trip_id", "org_id", "applications_purged", "key_destroyed"} per trip purged.
    """
    if days < 0:
        raise ValueError("days must not be negative")
    moment = _now(now)
    done: list[dict[str, Any]] = []
    async with conn.transaction():
        for trip in await trip_applications.select_trips_due_for_purge(conn, moment, days):
            if org_id is not None and trip["org_id"] != org_id:
                continue
            held = await trip_applications.purge_participant_data(conn, trip["id"], moment)
            destroyed = await data_keys.destroy_data_key(conn, "trip", trip["id"], EMERGENCY_CLASS)
            await audit.insert_audit_entry(
                conn,
                trip["org_id"],
                None,
                "trip_participant_data.purged",
                "trip",
                trip["id"],
                {"applications_purged": held, "key_destroyed": destroyed, "days": days},
            )
            done.append(
                {
                    "trip_id": trip["id"],
                    "org_id": trip["org_id"],
                    "applications_purged": held,
                    "key_destroyed": destroyed,
                }
            )
    return done
