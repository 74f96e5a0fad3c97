"""Counts without names: places, waitlists, shifts and language coverage of an event."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import asyncpg

from api.errors import Forbidden
from api.services import counts
from api.services.rsvp_booking import visible_event
from db.queries import rsvps, shifts
from schemas.rsvps import EventCounts, LanguageCoverage, ShiftCountsItem
from schemas.shifts import ShiftCounts


def shift_counts(shift: asyncpg.Record, queue_waiting: bool) -> ShiftCounts:
    """The shift's counts; `queue_waiting` says whether anyone admissible waits for it."""
    going, target = shift["places_taken"], shift["staffing_target"]
    return ShiftCounts(
        going=going,
        waitlisted=shift["places_waitlisted"],
        spots_left=counts.spots_left(shift["capacity"], going, queue_waiting),
        staffing_target=target,
        still_needed=None if target is None else max(target - going, 0),
    )


def language_coverage(rows: Sequence[asyncpg.Record], *, organizer: bool) -> list[LanguageCoverage]:
    """Needs per language against interpreters; for the public, small needs stay hidden
    (and a language nobody interprets shows only once enough people need it)."""
    items = [
        LanguageCoverage(
            language=r["language"],
            needed=r["needed"] if organizer else counts.public_need(r["needed"]),
            interpreters=r["interpreters"],
        )
        for r in rows
    ]
    if organizer:
        return items
    # a shift's language is public anyway; a need alone shows only above the threshold
    return [i for i, r in zip(items, rows, strict=True) if r["interpreted"] or i.needed is not None]


async def event_counts(
    conn: asyncpg.Connection,
    event_id: UUID,
    account_id: UUID | None,
    share_token: str | None,
) -> EventCounts:
    """Counts without names, for anyone who can see the event unless its organizers hide
    them (organizers always see them, and the exact language needs)."""
    event = await visible_event(conn, event_id, account_id, share_token)
    organizer = bool(event["is_host_organizer"])
    if event["hide_counts"] and not organizer:
        raise Forbidden("The organizers of this event do not show counts.")
    capacity = event["capacity"]
    going = event["places_taken"]
    shift_rows = await shifts.select_shifts(conn, event_id, None, None)
    waiting = await rsvps.select_waiting_pools(conn, event_id)
    coverage = await rsvps.select_language_coverage(conn, event_id)
    needs = {r["language"]: r["needed"] for r in coverage if r["needed"]}
    return EventCounts(
        event_id=event_id,
        going=going,
        waitlisted=event["places_waitlisted"],
        capacity=capacity,
        spots_left=counts.spots_left(capacity, going, None in waiting),
        language_needs=needs if organizer else counts.public_needs(needs),
        languages=language_coverage(coverage, organizer=organizer),
        shifts=[
            ShiftCountsItem(shift_id=s["id"], counts=shift_counts(s, s["id"] in waiting))
            for s in shift_rows
        ],
    )
