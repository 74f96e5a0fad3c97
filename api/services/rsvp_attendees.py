"""The organizers' attendee tools: the list, its CSV export and check-in, each audited."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg

from api.crypto import Keyring
from api.errors import Conflict, NotFound, Unauthorized
from api.pagination import decode_cursor, split_page
from api.services import events
from api.services.rsvp_booking import lock_rsvp, rsvp_view
from api.services.rsvp_keys import contact_aad, open_alias, rsvp_key
from api.texts import choose_language, pick
from db.queries import audit, rsvps
from schemas.rsvps import Attendee, AttendeeCounts, AttendeePage, Rsvp, StatusCount


def _counts(rows: Sequence[asyncpg.Record]) -> AttendeeCounts:
    by_status = {r["status"]: StatusCount(rsvps=r["rsvps"], places=r["places"]) for r in rows}
    zero = StatusCount(rsvps=0, places=0)
    return AttendeeCounts(
        going=by_status.get("going", zero),
        waitlisted=by_status.get("waitlisted", zero),
        cancelled=by_status.get("cancelled", zero),
        attended=by_status.get("attended", zero),
    )


async def _attendees(
    conn: asyncpg.Connection,
    keyring: Keyring,
    event_id: UUID,
    rows: Sequence[asyncpg.Record],
    languages: Sequence[str],
) -> list[Attendee]:
    key = await rsvp_key(conn, keyring, event_id) if rows else None
    items = []
    for row in rows:
        name = row["shift_name"]
        blob = row["contact_ciphertext"]
        items.append(
            Attendee(
                id=row["id"],
                alias=open_alias(keyring, key, row),
                contact=None
                if blob is None or key is None
                else keyring.decrypt(key, blob, contact_aad(event_id)),
                guests=row["guests"],
                places=row["places"],
                status=row["status"],
                shift_id=row["shift_id"],
                shift_name=pick(name, choose_language(list(name), languages)) if name else None,
                language_needs=list(row["language_needs"]),
                has_account=row["account_id"] is not None,
                checked_in_at=row["checked_in_at"],
                created_at=row["created_at"],
            )
        )
    return items


async def _organizer_event(
    conn: asyncpg.Connection, event_id: UUID, account_id: UUID | None
) -> asyncpg.Record:
    if account_id is None:
        raise Unauthorized("Log in first: send `Authorization: Bearer <token>`.")
    return await events.require_event_organizer(conn, event_id, account_id, attendee_access=True)


async def list_attendees(
    conn: asyncpg.Connection,
    keyring: Keyring,
    event_id: UUID,
    account_id: UUID | None,
    *,
    shift_id: UUID | None,
    event_only: bool,
    status: str | None,
    languages: Sequence[str],
    cursor: str | None,
    limit: int,
) -> AttendeePage:
    """The attendee list (organizers of the creating org, or co-hosts granted access);
    every read is written to the audit log."""
    event = await _organizer_event(conn, event_id, account_id)
    after = decode_cursor(cursor, tuple[int])
    rows = await rsvps.select_attendees(
        conn,
        event_id,
        shift_id=shift_id,
        only_event=event_only,
        status=status,
        after=after[0] if after else None,
        limit=limit + 1,
    )
    page, next_cursor = split_page(rows, limit, lambda r: (r["arrival"],))
    if shift_id is not None or event_only:
        count_rows = await rsvps.select_status_counts(conn, event_id, shift_id)
    else:
        count_rows = await rsvps.select_all_status_counts(conn, event_id)
    await audit.insert_audit_entry(
        conn,
        event["org_id"],
        account_id,
        "rsvps.listed",
        "event",
        event_id,
        {
            "shift_id": str(shift_id) if shift_id else None,
            "status": status,
            "rows": len(page),
        },
    )
    return AttendeePage(
        items=await _attendees(conn, keyring, event_id, page, languages),
        counts=_counts(count_rows),
        next_cursor=next_cursor,
    )


_CSV_COLUMNS = (
    "alias",
    "contact",
    "guests",
    "places",
    "status",
    "shift",
    "language_needs",
    "checked_in_at",
    "created_at",
)


def _cell(value: Any) -> str:
    """Plain text for spreadsheets: a leading = + - @ (formula) is defused with a quote."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


async def export_attendees(
    conn: asyncpg.Connection,
    keyring: Keyring,
    event_id: UUID,
    account_id: UUID | None,
    *,
    shift_id: UUID | None,
    status: str | None,
    languages: Sequence[str],
) -> str:
    """The attendee list as CSV (all rows); written to the audit log."""
    event = await _organizer_event(conn, event_id, account_id)
    rows = await rsvps.select_attendees(
        conn,
        event_id,
        shift_id=shift_id,
        only_event=False,
        status=status,
        after=None,
        limit=None,
    )
    items = await _attendees(conn, keyring, event_id, rows, languages)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_CSV_COLUMNS)
    for a in items:
        writer.writerow(
            [
                _cell(a.alias),
                _cell(a.contact),
                a.guests,
                a.places,
                a.status,
                _cell(a.shift_name),
                _cell(" ".join(a.language_needs)),
                a.checked_in_at.isoformat() if a.checked_in_at else "",
                a.created_at.isoformat(),
            ]
        )
    await audit.insert_audit_entry(
        conn,
        event["org_id"],
        account_id,
        "rsvps.exported",
        "event",
        event_id,
        {"shift_id": str(shift_id) if shift_id else None, "status": status, "rows": len(items)},
    )
    return out.getvalue()


async def check_in(
    conn: asyncpg.Connection, keyring: Keyring, rsvp_id: UUID, account_id: UUID | None
) -> Rsvp:
    """Mark a going RSVP attended (organizers with attendee access); idempotent."""
    if account_id is None:
        raise Unauthorized("Log in first: send `Authorization: Bearer <token>`.")
    record = await rsvps.select_rsvp(conn, rsvp_id)
    if record is None:
        raise NotFound("No RSVP has this id.")
    event = await _organizer_event(conn, record["event_id"], account_id)
    _, record = await lock_rsvp(conn, record)
    if record["status"] == "attended":
        return await rsvp_view(conn, keyring, record, with_position=False)
    if record["status"] != "going":
        raise Conflict(f"Only a going RSVP can be checked in; this one is {record['status']}.")
    record = await rsvps.update_rsvp_status(conn, rsvp_id, "attended")
    await audit.insert_audit_entry(
        conn, event["org_id"], account_id, "rsvp.checked_in", "rsvp", rsvp_id
    )
    return await rsvp_view(conn, keyring, record, with_position=False)
