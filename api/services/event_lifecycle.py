"""An event's status: publish, postpone, cancel (the transitions and who is told)."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import asyncpg

from api.services.events import EVENTS, event_view, notice
from api.services.lifecycle import refusing, transition
from api.services.ride_cascade import cancel_rides_for_event, flag_rides_for_event
from db.queries.notifications import insert_event_notifications
from schemas.events import Event

_FINAL = "This event is cancelled, and cancelled is final."


#: each move, and the statuses it is refused from (with why)
_TO_PUBLISHED = refusing(
    "published",
    {
        "cancelled": f"{_FINAL} It cannot be published again; create a new event.",
        "published": "This event is already published.",
        "postponed": "A postponed event is republished by giving it new times: PATCH "
        "starts_at and ends_at.",
    },
)
_TO_POSTPONED = refusing(
    "postponed",
    {
        "cancelled": f"{_FINAL} It cannot be postponed.",
        "draft": "Only a published event can be postponed; this one is a draft.",
        "postponed": "This event is already postponed.",
    },
)
_TO_CANCELLED = refusing(
    "cancelled",
    {"cancelled": _FINAL, "draft": "A draft has nobody to tell; delete it instead."},
)


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
    conn: asyncpg.Connection,
    public_url: str | None,
    event_id: UUID,
    account_id: UUID | None,
    languages: Sequence[str],
) -> Event:
    """draft → published."""
    after = await transition(
        EVENTS, conn, event_id, account_id, _TO_PUBLISHED, topic="event.updated"
    )
    return event_view(after, languages, public_url=public_url)


async def postpone_event(
    conn: asyncpg.Connection,
    public_url: str | None,
    event_id: UUID,
    account_id: UUID | None,
    languages: Sequence[str],
) -> Event:
    """published → postponed (new date not known yet); RSVPs are kept and told."""
    after = await transition(
        EVENTS,
        conn,
        event_id,
        account_id,
        _TO_POSTPONED,
        topic="event.updated",
        notify=_tell_postponed,
    )
    return event_view(after, languages, public_url=public_url)


async def cancel_event(
    conn: asyncpg.Connection,
    public_url: str | None,
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
        _TO_CANCELLED,
        topic="event.cancelled",
        reason=reason.strip(),
        notify=_tell_cancelled,
        then=_cancel_rides,
    )
    return event_view(after, languages, public_url=public_url)
