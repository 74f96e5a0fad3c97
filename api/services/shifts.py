"""Shifts: organizers create and change them; anyone who can see the event sees them and
their counts (unless the event hides counts)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from api.errors import Conflict, NotFound, RuleViolation, Unauthorized
from api.pagination import decode_cursor, split_page
from api.services import events, waitlist
from api.services.rsvp_booking import visible_event
from api.services.rsvp_counts import shift_counts
from api.texts import choose_language, pick
from db.queries import outbox, rsvps, shifts
from schemas.problems import FieldError
from schemas.shifts import Shift, ShiftCreate, ShiftPage, ShiftPatch


def _shift(
    record: asyncpg.Record,
    languages: Sequence[str],
    show_counts: bool,
    waiting: set[UUID | None] | frozenset[UUID | None] = frozenset(),
) -> Shift:
    """The shift as the caller sees it; `waiting` holds the pools where someone admissible
    waits (see rsvps.select_waiting_pools)."""
    name: dict[str, str] = record["name"]
    lang = choose_language(list(name), languages)
    return Shift(
        id=record["id"],
        event_id=record["event_id"],
        name=name,
        display_name=pick(name, lang),
        lang=lang,
        role=record["role"],
        starts_at=record["starts_at"],
        ends_at=record["ends_at"],
        capacity=record["capacity"],
        staffing_target=record["staffing_target"],
        language=record["language"],
        counts=shift_counts(record, record["id"] in waiting) if show_counts else None,
        created_at=record["created_at"],
        updated_at=record["updated_at"],
    )


def _check_times(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise RuleViolation(
            "A shift must end after it starts.",
            errors=[FieldError(pointer="#/ends_at", detail="must be after starts_at")],
        )


def _require_account(account_id: UUID | None) -> UUID:
    if account_id is None:
        raise Unauthorized("Log in first: send `Authorization: Bearer <token>`.")
    return account_id


async def _changed(
    conn: asyncpg.Connection, org_id: UUID, topic: str, event_id: UUID, shift_id: UUID
) -> None:
    await shifts.touch_event(conn, event_id)
    await outbox.insert_outbox_entry(
        conn, org_id, topic, shift_id, {"event_id": str(event_id), "shift_id": str(shift_id)}
    )


async def list_shifts(
    conn: asyncpg.Connection,
    event_id: UUID,
    account_id: UUID | None,
    share_token: str | None,
    languages: Sequence[str],
    cursor: str | None,
    limit: int,
) -> ShiftPage:
    event = await visible_event(conn, event_id, account_id, share_token)
    show_counts = not event["hide_counts"] or bool(event["is_host_organizer"])
    after = decode_cursor(cursor, tuple[datetime, UUID])
    rows = await shifts.select_shifts(conn, event_id, after, limit + 1)
    page, next_cursor = split_page(rows, limit, lambda r: (r["starts_at"], r["id"]))
    waiting = await rsvps.select_waiting_pools(conn, event_id) if show_counts else set()
    return ShiftPage(
        items=[_shift(r, languages, show_counts, waiting) for r in page], next_cursor=next_cursor
    )


async def create_shift(
    conn: asyncpg.Connection,
    event_id: UUID,
    account_id: UUID | None,
    data: ShiftCreate,
    languages: Sequence[str],
) -> Shift:
    event = await events.require_event_organizer(conn, event_id, _require_account(account_id))
    _check_times(data.starts_at, data.ends_at)
    if event["status"] == "cancelled":
        raise Conflict("The event was cancelled; it takes no new shifts.")
    record = await shifts.insert_shift(
        conn,
        event_id,
        event["org_id"],
        data.name,
        data.role.strip(),
        data.starts_at,
        data.ends_at,
        data.capacity,
        data.staffing_target,
        data.language.lower() if data.language else None,
    )
    await _changed(conn, event["org_id"], "shift.created", event_id, record["id"])
    return _shift(record, languages, True)


async def _organizer_shift(
    conn: asyncpg.Connection, shift_id: UUID, account_id: UUID | None
) -> asyncpg.Record:
    caller = _require_account(account_id)
    shift = await shifts.select_shift(conn, shift_id)
    if shift is None:
        raise NotFound("No shift has this id.")
    await events.require_event_organizer(conn, shift["event_id"], caller)
    return shift


async def update_shift(
    conn: asyncpg.Connection,
    shift_id: UUID,
    account_id: UUID | None,
    data: ShiftPatch,
    languages: Sequence[str],
) -> Shift:
    """Change a shift; capacity may not drop below the places taken (409), and a raised
    capacity admits the waitlist at once."""
    shift = await _organizer_shift(conn, shift_id, account_id)
    pool = await waitlist.lock_pool(conn, shift["event_id"], shift_id)
    if pool is None or pool.shift is None:
        raise NotFound("No shift has this id.")
    changes: dict[str, Any] = {
        k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET
    }
    if "role" in changes:
        changes["role"] = changes["role"].strip()
    if changes.get("language"):
        changes["language"] = changes["language"].lower()
    _check_times(
        changes.get("starts_at", shift["starts_at"]), changes.get("ends_at", shift["ends_at"])
    )
    if "capacity" in changes:
        capacity = changes["capacity"]
        taken = pool.shift["places_taken"]
        if capacity is not None and capacity < taken:
            raise Conflict(
                f"{taken} places of this shift are taken; capacity cannot go below that.",
                errors=[FieldError(pointer="#/capacity", detail=f"at least {taken}")],
            )
    record = await shifts.update_shift(conn, shift_id, changes)
    if "capacity" in changes and await waitlist.promote_waitlist(conn, shift["event_id"], shift_id):
        promoted = await shifts.select_shift(conn, shift_id)
        assert promoted is not None
        record = promoted
    await _changed(conn, shift["org_id"], "shift.updated", shift["event_id"], shift_id)
    return _shift(
        record, languages, True, await rsvps.select_waiting_pools(conn, shift["event_id"])
    )


async def delete_shift(conn: asyncpg.Connection, shift_id: UUID, account_id: UUID | None) -> None:
    """Delete a shift nobody is (still) signed up for."""
    shift = await _organizer_shift(conn, shift_id, account_id)
    await waitlist.lock_pool(conn, shift["event_id"], shift_id)
    live = await shifts.count_live_rsvps(conn, shift_id)
    if live:
        raise Conflict(
            f"{live} people are signed up for this shift; it cannot be deleted while they are."
        )
    await shifts.delete_shift(conn, shift_id)
    await _changed(conn, shift["org_id"], "shift.deleted", shift["event_id"], shift_id)
