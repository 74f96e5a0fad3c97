"""Trip applications: applying, the organizers' decisions, withdrawal with waitlist promotion,
sealed participant data, checklist marks, the roster export, and "my trips".

Every decision and every withdrawal locks the trip row first, then the application, so the
changes to one trip run one after another: places are exact (the conditional UPDATE in
db.queries.trips.add_places is the backstop), and a freed place goes to the head of the
waitlist in the same transaction.

An application is known only to its applicant and the organizers with participant access:
everyone else gets a 404 for it. The applicant, and organizers without participant access,
see it but lack the role for what only the other side does: a 403.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from api.crypto import DecryptionError, Keyring
from api.errors import Conflict, Forbidden, NotFound, RuleViolation
from api.pagination import decode_cursor, split_page
from api.services import encryption
from api.services.access import is_organizer, sees_attendees
from api.services.trips import (
    EMERGENCY_CLASS,
    FINAL,
    Row,
    accepting_applications,
    deadline,
    fill_from_waitlist,
    outbox,
    participant_checklist,
    require_trip_organizer,
    trip_language,
    trip_view,
    visible_trip,
)
from api.texts import pick
from db.queries import audit, trip_applications, trips
from db.queries.notifications import insert_trip_application_notification
from schemas.problems import FieldError
from schemas.trips import (
    Application,
    ApplicationCounts,
    ApplicationCreate,
    ApplicationPage,
    EmergencyContact,
    MyTrip,
    MyTripPage,
    ParticipantChecklist,
    ParticipantData,
    ParticipantDataPut,
    ParticipantNotes,
    RoleCounts,
)

NOT_VISIBLE = "No trip application has this id, or it is not visible to you."

#: which statuses each organizer decision may start from
DECISIONS: dict[str, tuple[str, ...]] = {
    "accepted": ("applied", "waitlisted"),
    "waitlisted": ("applied",),
    "declined": ("applied", "waitlisted"),
}
_NOTICE_KIND = {
    "accepted": "trip.application_accepted",
    "waitlisted": "trip.application_waitlisted",
    "declined": "trip.application_declined",
}


# ---------------------------------------------------------------- views


def application_view(record: Row, waitlist_position: int | None = None) -> Application:
    position = record.get("waitlist_position") or waitlist_position
    return Application(
        id=record["id"],
        trip_id=record["trip_id"],
        account_id=record["account_id"],
        display_name=record["display_name"],
        status=record["status"],
        roles=list(record["roles"]),
        answers=record["answers"],
        waitlist_position=position,
        has_participant_data=record["has_participant_data"],
        data_purged_at=record["data_purged_at"],
        decided_at=record["decided_at"],
        created_at=record["created_at"],
        updated_at=record["updated_at"],
    )


async def _view(conn: asyncpg.Connection, record: asyncpg.Record) -> Application:
    return application_view(record, await trip_applications.waitlist_position(conn, record))


def _counts(rows: Sequence[Row]) -> ApplicationCounts:
    totals: dict[str, int] = {}
    roles: dict[str, dict[str, int]] = {}
    for r in rows:
        if r["role"] is None:
            totals[r["status"]] = r["applications"]
        elif r["status"] in ("applied", "accepted", "waitlisted"):
            roles.setdefault(r["role"], {})[r["status"]] = r["applications"]
    return ApplicationCounts(
        applied=totals.get("applied", 0),
        accepted=totals.get("accepted", 0),
        waitlisted=totals.get("waitlisted", 0),
        declined=totals.get("declined", 0),
        withdrawn=totals.get("withdrawn", 0),
        by_role={
            role: RoleCounts(
                applied=c.get("applied", 0),
                accepted=c.get("accepted", 0),
                waitlisted=c.get("waitlisted", 0),
            )
            for role, c in sorted(roles.items())
        },
    )


# ---------------------------------------------------------------- answers


def check_answers(questions: Sequence[Row], answers: Row) -> dict[str, Any]:
    """The answers, checked against the questions (required, kinds, options); one 422 with a
    pointer per broken answer. Empty answers to optional questions are dropped."""
    by_id = {str(q["id"]): q for q in questions}
    errors: list[FieldError] = []
    for key in answers:
        if key not in by_id:
            errors.append(FieldError(pointer=f"#/answers/{key}", detail="no such question"))
    cleaned: dict[str, Any] = {}
    for key, question in by_id.items():
        pointer = f"#/answers/{key}"
        value = answers.get(key)
        if value is None or value == [] or (isinstance(value, str) and not value.strip()):
            if question["required"]:
                errors.append(FieldError(pointer=pointer, detail="an answer is required"))
            continue
        options = {o["value"] for o in question["options"]}
        kind = question["kind"]
        if kind == "text":
            if not isinstance(value, str):
                errors.append(FieldError(pointer=pointer, detail="expected text"))
                continue
            cleaned[key] = value.strip()
        elif kind == "single_choice":
            if not isinstance(value, str):
                errors.append(FieldError(pointer=pointer, detail="expected one option value"))
            elif value not in options:
                errors.append(FieldError(pointer=pointer, detail="not one of the options"))
            else:
                cleaned[key] = value
        else:
            if not isinstance(value, list):
                errors.append(
                    FieldError(pointer=pointer, detail="expected a list of option values")
                )
            elif any(v not in options for v in value):
                errors.append(FieldError(pointer=pointer, detail="not one of the options"))
            elif len(set(value)) != len(value):
                errors.append(FieldError(pointer=pointer, detail="each option at most once"))
            else:
                cleaned[key] = value
    if errors:
        raise RuleViolation(
            "Some answers do not fit the trip's questions: "
            + "; ".join(f"{e.pointer[2:]} {e.detail}" for e in errors),
            errors=errors,
        )
    return cleaned


# ---------------------------------------------------------------- sealing


def _encode(value: msgspec.Struct | None) -> str | None:
    return None if value is None else msgspec.json.encode(value).decode()


async def _seal_data(
    conn: asyncpg.Connection,
    keyring: Keyring,
    trip_id: UUID,
    contact: EmergencyContact | None,
    notes: ParticipantNotes | None,
) -> tuple[bytes | None, bytes | None]:
    if notes is not None and not any((notes.medical, notes.dietary, notes.accessibility)):
        notes = None
    try:
        return (
            await encryption.seal(
                conn, keyring, "trip", trip_id, EMERGENCY_CLASS, _encode(contact)
            ),
            await encryption.seal(conn, keyring, "trip", trip_id, EMERGENCY_CLASS, _encode(notes)),
        )
    except DecryptionError:
        raise Conflict(
            "This trip's participant data was purged after the trip; nothing more is stored."
        ) from None


async def _open_data(
    conn: asyncpg.Connection, keyring: Keyring, record: Row
) -> tuple[EmergencyContact | None, ParticipantNotes | None]:
    trip_id = record["trip_id"]
    contact = await encryption.open_sealed(
        conn, keyring, "trip", trip_id, EMERGENCY_CLASS, record["emergency_contact_ciphertext"]
    )
    notes = await encryption.open_sealed(
        conn, keyring, "trip", trip_id, EMERGENCY_CLASS, record["notes_ciphertext"]
    )
    return (
        None if contact is None else msgspec.json.decode(contact, type=EmergencyContact),
        None if notes is None else msgspec.json.decode(notes, type=ParticipantNotes),
    )


# ---------------------------------------------------------------- apply, read


async def apply(
    conn: asyncpg.Connection,
    keyring: Keyring,
    trip_id: UUID,
    account_id: UUID,
    data: ApplicationCreate,
) -> Application:
    """Apply to an open (or full: organizers may waitlist) trip before its deadline; one live
    application per account. Answers are checked against the questions."""
    trip = await visible_trip(conn, trip_id, account_id)
    status = trip["status"]
    if status not in ("open", "full"):
        raise Conflict(
            f"This trip is {status}; it is not taking applications.",
        )
    if not accepting_applications(trip):
        raise Conflict(
            f"Applications closed at {deadline(trip).isoformat()} (the application deadline, "
            "or the trip's start)."
        )
    if trip["my_application_status"] == "declined":
        raise Conflict("You already applied to this trip, and the organizers declined it.")
    if trip["my_application_id"] is not None:
        raise Conflict(
            f"You already applied to this trip (GET /v1/trips/{trip_id}/applications/mine); "
            "withdraw first to apply again."
        )
    answers = check_answers(await trips.select_questions(conn, trip_id), data.answers)
    contact_ct, notes_ct = await _seal_data(
        conn, keyring, trip_id, data.emergency_contact, data.notes
    )
    record = await trip_applications.insert_application(
        conn,
        trip_id,
        trip["org_id"],
        account_id,
        list(dict.fromkeys(data.roles)),
        answers,
        contact_ct,
        notes_ct,
    )
    if record is None:  # a concurrent request of the same account won
        raise Conflict("You already applied to this trip; withdraw first to apply again.")
    return application_view(record)


async def get_my_application(
    conn: asyncpg.Connection, trip_id: UUID, account_id: UUID
) -> Application:
    await visible_trip(conn, trip_id, account_id)
    record = await trip_applications.select_live_application(conn, trip_id, account_id)
    if record is None:
        raise NotFound("You have no live application to this trip.")
    return await _view(conn, record)


async def list_applications(
    conn: asyncpg.Connection,
    trip_id: UUID,
    account_id: UUID | None,
    *,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> ApplicationPage:
    """All applications with counts by status and role (organizers with participant access);
    every read is audited."""
    trip = await require_trip_organizer(conn, trip_id, account_id, participant_access=True)
    after = decode_cursor(cursor, tuple[int])
    rows = await trip_applications.select_applications(
        conn, trip_id, status=status, after=after[0] if after else None, limit=limit + 1
    )
    page, next_cursor = split_page(rows, limit, lambda r: (r["arrival"],))
    await audit.insert_audit_entry(
        conn,
        trip["org_id"],
        account_id,
        "trip_applications.listed",
        "trip",
        trip_id,
        {"status": status, "rows": len(page)},
    )
    return ApplicationPage(
        items=[application_view(r) for r in page],
        counts=_counts(await trip_applications.select_counts(conn, trip_id)),
        next_cursor=next_cursor,
    )


# ---------------------------------------------------------------- access to one application


async def _locked(
    conn: asyncpg.Connection, application_id: UUID, account_id: UUID
) -> tuple[asyncpg.Record, asyncpg.Record]:
    """The trip (locked first) and the application (locked); 404 for strangers."""
    trip_id = await trip_applications.select_trip_id_of(conn, application_id)
    if trip_id is None:
        raise NotFound(NOT_VISIBLE)
    trip = await trips.select_trip(conn, trip_id, account_id, for_update=True)
    record = await trip_applications.select_application(conn, application_id, for_update=True)
    if trip is None or record is None:
        raise NotFound(NOT_VISIBLE)
    return trip, record


async def _readable(
    conn: asyncpg.Connection, application_id: UUID, account_id: UUID
) -> tuple[asyncpg.Record, asyncpg.Record]:
    """The trip and the application, for its applicant or organizers with participant access."""
    record = await trip_applications.select_application(conn, application_id)
    if record is None:
        raise NotFound(NOT_VISIBLE)
    trip = await trips.select_trip(conn, record["trip_id"], account_id)
    assert trip is not None
    _check_party(trip, record, account_id)
    return trip, record


def _check_party(trip: Row, record: Row, account_id: UUID) -> None:
    """The applicant and organizers with participant access pass; a co-host organizer without
    that access gets a 403; everyone else a 404 (they may not know the application exists)."""
    if record["account_id"] == account_id or sees_attendees(trip):
        return
    if is_organizer(trip):
        raise Forbidden(
            "Only organizers of the creating organization, or of a co-host it granted attendee "
            "access, see applications."
        )
    raise NotFound(NOT_VISIBLE)


# ---------------------------------------------------------------- decisions


async def decide(
    conn: asyncpg.Connection,
    application_id: UUID,
    account_id: UUID,
    to_status: str,
    roles: Sequence[str] | None = None,
) -> Application:
    """An organizer accepts, waitlists or declines. Accepting takes a place, refused (409)
    when none is left; the trip turns full with the last one. The applicant is notified."""
    trip, record = await _locked(conn, application_id, account_id)
    _check_party(trip, record, account_id)
    if not sees_attendees(trip):  # the applicant themself
        raise Forbidden("Only the trip's organizers decide on applications.")
    if trip["status"] in FINAL:
        raise Conflict(f"This trip is {trip['status']}; applications cannot change any more.")
    current = record["status"]
    if current == to_status:
        raise Conflict(f"This application is already {current}.")
    if current not in DECISIONS[to_status]:
        raise Conflict(
            f"An application that is {current} cannot become {to_status} "
            f"(only from {' or '.join(DECISIONS[to_status])})."
        )
    counts = None
    if to_status == "accepted":
        counts = await trips.add_places(conn, trip["id"], 1)
        if counts is None:
            raise Conflict(
                f"The trip is full: all {trip['capacity']} places are taken. Waitlist the "
                "application, or raise the capacity first."
            )
    changed = await trip_applications.update_status(
        conn, application_id, to_status, account_id, list(dict.fromkeys(roles)) if roles else None
    )
    await insert_trip_application_notification(
        conn,
        application_id,
        _NOTICE_KIND[to_status],
        {"trip_id": str(trip["id"]), "application_id": str(application_id), "status": to_status},
    )
    if counts is not None:
        await outbox(conn, {**dict(trip), **dict(counts)}, "trip.places_changed")
    return await _view(conn, changed)


async def withdraw(conn: asyncpg.Connection, application_id: UUID, account_id: UUID) -> Application:
    """The applicant withdraws. An accepted place is freed and, when the trip promotes from
    its waitlist, goes to the oldest waitlisted application in the same transaction."""
    trip, record = await _locked(conn, application_id, account_id)
    _check_party(trip, record, account_id)
    if record["account_id"] != account_id:
        raise Forbidden("Only the applicant withdraws an application; organizers decline it.")
    current = record["status"]
    if current not in ("applied", "accepted", "waitlisted"):
        raise Conflict(f"This application is {current}; there is nothing to withdraw.")
    changed = await trip_applications.update_status(conn, application_id, "withdrawn", None)
    if current == "accepted":
        counts = await trips.add_places(conn, trip["id"], -1)
        assert counts is not None
        if trip["promote_from_waitlist"] and trip["status"] not in FINAL:
            await fill_from_waitlist(conn, trip["id"], None)
        after = await trips.select_trip(conn, trip["id"], account_id)
        assert after is not None
        await outbox(conn, after, "trip.places_changed")
    return application_view(changed)


# ---------------------------------------------------------------- participant data


async def get_participant_data(
    conn: asyncpg.Connection, keyring: Keyring, application_id: UUID, account_id: UUID
) -> ParticipantData:
    """The participant sees their own; organizers with participant access too, and each of
    their reads is written to the audit log (who, which application; never the data)."""
    trip, record = await _readable(conn, application_id, account_id)
    if record["account_id"] != account_id:
        await audit.insert_audit_entry(
            conn,
            trip["org_id"],
            account_id,
            "trip_participant_data.read",
            "trip_application",
            application_id,
            {"trip_id": str(trip["id"])},
        )
    contact, notes = await _open_data(conn, keyring, record)
    return ParticipantData(
        application_id=application_id,
        emergency_contact=contact,
        notes=notes,
        purged_at=record["data_purged_at"],
    )


async def put_participant_data(
    conn: asyncpg.Connection,
    keyring: Keyring,
    application_id: UUID,
    account_id: UUID,
    data: ParticipantDataPut,
) -> ParticipantData:
    """Only the participant writes their data, while the application is live and not purged."""
    trip, record = await _readable(conn, application_id, account_id)
    if record["account_id"] != account_id:
        raise Forbidden("Only the participant gives their emergency contact and notes.")
    if record["status"] not in ("applied", "accepted", "waitlisted"):
        raise Conflict(f"This application is {record['status']}; its data cannot change.")
    if record["data_purged_at"] is not None:
        raise Conflict("This trip's participant data was purged; nothing more is stored.")
    contact_ct, notes_ct = await _seal_data(
        conn, keyring, trip["id"], data.emergency_contact, data.notes
    )
    changed = await trip_applications.update_participant_data(
        conn, application_id, contact_ct, notes_ct
    )
    if changed is None:
        raise Conflict("This trip's participant data was purged; nothing more is stored.")
    contact, notes = await _open_data(conn, keyring, changed)
    return ParticipantData(
        application_id=application_id, emergency_contact=contact, notes=notes, purged_at=None
    )


# ---------------------------------------------------------------- checklists


async def mark_checklist_item(
    conn: asyncpg.Connection, application_id: UUID, item_id: UUID, account_id: UUID, done: bool
) -> ParticipantChecklist:
    """The participant or an organizer with participant access marks an item (not) done."""
    trip, record = await _readable(conn, application_id, account_id)
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


# ---------------------------------------------------------------- roster export

_ROSTER_COLUMNS = ["display_name", "roles", "accepted_at", "outstanding"]
_SENSITIVE_COLUMNS = [
    "emergency_contact_name",
    "emergency_contact_phone",
    "emergency_contact_relation",
    "medical_notes",
    "dietary_notes",
    "accessibility_notes",
]


def _cell(value: Any) -> str:
    """Plain text for spreadsheets: a leading = + - @ (formula) is defused with a quote."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


async def export_roster(
    conn: asyncpg.Connection,
    keyring: Keyring,
    trip_id: UUID,
    account_id: UUID | None,
    *,
    include_emergency_contacts: bool,
    reason: str | None,
    languages: Sequence[str],
) -> str:
    """Accepted participants with roles and checklist state, as CSV (organizers with
    participant access). Emergency contacts and notes only when asked for with a reason;
    every export is audited, with that reason."""
    reason = reason.strip() if reason else None
    if include_emergency_contacts and not reason:
        raise RuleViolation(
            "Say why you need the emergency contacts (`reason`); it is written to the audit log.",
            errors=[
                FieldError(
                    pointer="#/query/reason", detail="required with include_emergency_contacts"
                )
            ],
        )
    trip = await require_trip_organizer(conn, trip_id, account_id, participant_access=True)
    lang = trip_language(trip, languages)
    items = await trips.select_checklist_items(conn, trip_id)
    people = await trip_applications.select_participants(conn, trip_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        _ROSTER_COLUMNS
        + [_cell(pick(i["title"], lang)) for i in items]
        + (_SENSITIVE_COLUMNS if include_emergency_contacts else [])
    )
    for person in people:
        state = participant_checklist(person, items)
        row: list[Any] = [
            _cell(person["display_name"]),
            " ".join(person["roles"]),
            person["decided_at"].isoformat() if person["decided_at"] else "",
            state.outstanding,
        ]
        row += ["done" if e.done else "" for e in state.entries]
        if include_emergency_contacts:
            contact, notes = await _open_data(conn, keyring, person)
            row += [
                _cell(contact.name if contact else None),
                _cell(contact.phone if contact else None),
                _cell(contact.relation if contact else None),
                _cell(notes.medical if notes else None),
                _cell(notes.dietary if notes else None),
                _cell(notes.accessibility if notes else None),
            ]
        writer.writerow(row)
    await audit.insert_audit_entry(
        conn,
        trip["org_id"],
        account_id,
        "trip_roster.exported",
        "trip",
        trip_id,
        {
            "rows": len(people),
            "include_emergency_contacts": include_emergency_contacts,
            "reason": reason,
        },
    )
    return out.getvalue()


# ---------------------------------------------------------------- my trips


async def list_my_trips(
    conn: asyncpg.Connection,
    account_id: UUID,
    cursor: str | None,
    limit: int,
    languages: Sequence[str],
) -> MyTripPage:
    """Your applications (withdrawn ones too) with their trips, by the trip's start."""
    after = decode_cursor(cursor, tuple[datetime, UUID])
    rows = await trip_applications.select_account_applications(conn, account_id, after, limit + 1)
    page, next_cursor = split_page(rows, limit, lambda r: (r["trip_starts_at"], r["id"]))
    trip_rows = {
        t["id"]: t
        for t in await trips.select_trips_by_ids(
            conn, list({r["trip_id"] for r in page}), account_id
        )
    }
    items = []
    for record in page:
        position = await trip_applications.waitlist_position(conn, record)
        items.append(
            MyTrip(
                application=application_view(record, position),
                trip=trip_view(trip_rows[record["trip_id"]], languages),
            )
        )
    return MyTripPage(items=items, next_cursor=next_cursor)
