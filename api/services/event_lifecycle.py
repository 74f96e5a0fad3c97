"""An event's status: publish, postpone, cancel (the transitions and who is told)."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import asyncpg

from api.errors import Conflict
from api.services.events import EVENTS, event_view, notice
from api.services.lifecycle import transition
from api.services.rides import cancel_rides_for_event, flag_rides_for_event
from db.queries.notifications import insert_event_notifications
from schemas.events import Event

_FINAL = "This event is cancelled, and cancelled is final."


def _to_published(row: asyncpg.Record) -> str:
    status = row["status"]
    if status == "cancelled":
        raise Conflict(f"{_FINAL} It cannot be published again; create a new event.")
    if status == "published":
        raise Conflict("This event is already published.")
    if status == "postponed":
        raise Conflict(
            "A postponed event is republished by giving it new times: PATCH starts_at and ends_at."
        )
    return "published"


def _to_postponed(row: asyncpg.Record) -> str:
    status = row["status"]
    if status == "cancelled":
        raise Conflict(f"{_FINAL} It cannot be postponed.")
    if status == "draft":
        raise Conflict("Only a published event can be postponed; this one is a draft.")
    if status == "postponed":
        raise Conflict("This event is already postponed.")
    return "postponed"


def _to_cancelled(row: asyncpg.Record) -> str:
    status = row["status"]
    if status == "cancelled":
        raise Conflict(f"{_FINAL}")
    if status == "draft":
        raise Conflict("A draft has nobody to tell; delete it instead.")
    return "cancelled"


async def _tell_postponed(conn: asyncpg.Connection, after: asyncpg.Record) -> None:
    await insert_event_notifications(conn, after["id"], "event.postponed", notice(after))
    await flag_rides_for_event(conn, after["id"])


async def _tell_cancelled(conn: asyncpg.Connection, after: asyncpg.Record) -> None:
    await insert_event_notifications(
        conn, after["id"], "event.cancelled", notice(after, reason=after["cancel_reason"])
    )


async def _cancel_rides(conn: asyncpg.Connection, after: asyncpg.Record) -> None:
    await cancel_rides_for_event(conn, after["id"])


async def publish_event(
    conn: asyncpg.Connection, event_id: UUID, account_id: UUID | None, languages: Sequence[str]
) -> Event:
    """draft → published."""
    after = await transition(
        EVENTS, conn, event_id, account_id, _to_published, topic="event.updated"
    )
    return event_view(after, languages)


async def postpone_event(
    conn: asyncpg.Connection, event_id: UUID, account_id: UUID | None, languages: Sequence[str]
) -> Event:
    """published → postponed (new date not known yet); RSVPs are kept and told."""
    after = await transition(
        EVENTS,
        conn,
        event_id,
        account_id,
        _to_postponed,
        topic="event.updated",
        notify=_tell_postponed,
    )
    return event_view(after, languages)


async def cancel_event(
    conn: asyncpg.Connection,
    event_id: UUID,
    account_id: UUID | None,
    reason: str,
    languages: Sequence[str],
) -> Event:
    """published or postponed → cancelled (final); everyone going or waitlisted is told why."""
    after = await transition(
        EVENTS,
        conn,
        event_id,
        account_id,
        _to_cancelled,
        topic="event.cancelled",
        reason=reason.strip(),
        notify=_tell_cancelled,
        then=_cancel_rides,
    )
    return event_view(after, languages)
