"""The roster export of a trip's accepted participants, as CSV, audited."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg

from api.crypto import Keyring
from api.errors import RuleViolation
from api.services.trip_access import require_trip_organizer
from api.services.trip_checklists import participant_checklist
from api.services.trip_participant_data import open_data
from api.services.trips import trip_language
from api.texts import pick
from db.queries import audit, trip_applications, trips
from schemas.problems import FieldError

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
            contact, notes = await open_data(conn, keyring, person)
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
