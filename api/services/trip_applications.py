"""Trip applications: applying with answers, reading and listing applications, "my trips".

Decisions and withdrawals are in api/services/trip_decisions.py, participant data in
api/services/trip_participant_data.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from api.crypto import Keyring
from api.errors import Conflict, NotFound, RuleViolation
from api.pagination import decode_cursor, split_page
from api.services.trip_access import Row, require_trip_organizer, visible_trip
from api.services.trip_participant_data import seal_data
from api.services.trips import accepting_applications, deadline, trip_view
from db.queries import audit, trip_applications, trips
from schemas.problems import FieldError
from schemas.trip_applications import (
    Application,
    ApplicationCounts,
    ApplicationCreate,
    ApplicationPage,
    MyTrip,
    MyTripPage,
    RoleCounts,
)


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


async def application_with_position(
    conn: asyncpg.Connection, record: asyncpg.Record
) -> Application:
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
    contact_ct, notes_ct = await seal_data(
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
    return await application_with_position(conn, record)


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


async def list_my_trips(
    conn: asyncpg.Connection,
    public_url: str | None,
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
                trip=trip_view(trip_rows[record["trip_id"]], languages, public_url=public_url),
            )
        )
    return MyTripPage(items=items, next_cursor=next_cursor)
