"""Series: weekly or monthly occurrences, each a real event at the same local wall-clock time."""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
from msgspec import UNSET, structs

from api.errors import NotFound, RuleViolation
from api.guards import require_org_role
from api.services import events as event_rules
from api.services.access import can_view
from api.services.orgs import check_timezone
from db.queries import events, hosts
from db.queries.outbox import insert_outbox_entry
from schemas.events import EventPatch, Series, SeriesCreate
from schemas.problems import FieldError

MAX_OCCURRENCES = 200


def _add_months(day: date, months: int) -> date:
    """The same day `months` later; a day the month lacks becomes its last (31 Jan → 28 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def occurrence_dates(
    first: date, frequency: str, interval: int, until_date: date | None, count: int | None
) -> list[date]:
    """Local dates of the occurrences: every `interval` weeks or months from `first`, up to
    `count` of them and not after `until_date` (whichever ends first)."""
    dates: list[date] = []
    limit = min(count or MAX_OCCURRENCES + 1, MAX_OCCURRENCES + 1)
    while len(dates) < limit:
        n = len(dates)
        day = (
            first + timedelta(weeks=n * interval)
            if frequency == "weekly"
            else _add_months(first, n * interval)
        )
        if until_date is not None and day > until_date:
            break
        dates.append(day)
    return dates


def _local(moment: datetime, tz: ZoneInfo) -> datetime:
    """Wall-clock time in `tz`, without the zone (for arithmetic in local time)."""
    return moment.astimezone(tz).replace(tzinfo=None)


def _series_view(
    series: asyncpg.Record,
    rows: Sequence[asyncpg.Record],
    languages: Sequence[str],
    public_url: str | None,
    share_urls: Mapping[UUID, str] | None = None,
) -> Series:
    share_urls = share_urls or {}
    return Series(
        id=series["id"],
        org=series["org_slug"],
        frequency=series["frequency"],
        interval=series["interval"],
        until_date=series["until_date"],
        count=series["count"],
        timezone=series["timezone"],
        created_at=series["created_at"],
        updated_at=series["updated_at"],
        occurrences=[
            event_rules.event_view(
                r, languages, public_url=public_url, share_url=share_urls.get(r["id"])
            )
            for r in rows
        ],
    )


async def create_series(
    conn: asyncpg.Connection,
    public_url: str,
    slug: str,
    account_id: UUID | None,
    data: SeriesCreate,
    languages: Sequence[str],
) -> Series:
    """The series and all its occurrences (drafts, or published with `publish`)."""
    org = await require_org_role(conn, slug, account_id, "organizer")
    assert account_id is not None
    template = data.template
    values = event_rules.values_from_create(template)
    event_rules.check_rules(values, "#/template")
    if data.until_date is None and data.count is None:
        raise RuleViolation(
            "Say when the series ends: `until_date`, `count`, or both.",
            errors=[FieldError(pointer="#/count", detail="count or until_date is required")],
        )
    tz = ZoneInfo(template.timezone)
    local_start, local_end = _local(template.starts_at, tz), _local(template.ends_at, tz)
    if data.until_date is not None and data.until_date < local_start.date():
        raise RuleViolation(
            "`until_date` is before the first occurrence.",
            errors=[FieldError(pointer="#/until_date", detail="before the template's start")],
        )
    dates = occurrence_dates(
        local_start.date(), data.frequency, data.interval, data.until_date, data.count
    )
    if len(dates) > MAX_OCCURRENCES:
        raise RuleViolation(
            f"A series has at most {MAX_OCCURRENCES} occurrences; choose an earlier "
            "`until_date` or a `count`.",
            errors=[FieldError(pointer="#/until_date", detail="more than 200 occurrences")],
        )
    duration = local_end - local_start
    reveal_before = (
        template.starts_at - template.reveal_at if template.reveal_at is not None else None
    )
    series_id = await events.insert_series(
        conn,
        org["id"],
        account_id,
        data.frequency,
        data.interval,
        data.until_date,
        data.count,
        template.timezone,
    )
    share_urls: dict[UUID, str] = {}
    for index, day in enumerate(dates, start=1):
        local = datetime.combine(day, local_start.time())
        starts_at = local.replace(tzinfo=tz)
        occurrence = {
            **values,
            "starts_at": starts_at,
            "ends_at": (local + duration).replace(tzinfo=tz),
            "reveal_at": starts_at - reveal_before if reveal_before is not None else None,
        }
        token, token_hash = (
            event_rules.new_share_token() if template.visibility == "private" else (None, None)
        )
        event_id = await hosts.insert_hosted(
            conn,
            "event",
            org["id"],
            account_id,
            {
                **occurrence,
                "status": "published" if data.publish else "draft",
                "share_token_hash": token_hash,
                "series_id": series_id,
                "series_index": index,
            },
        )
        if token:
            share_urls[event_id] = event_rules.share_url(public_url, token)
        await insert_outbox_entry(
            conn, org["id"], "event.created", event_id, {"id": str(event_id), "sequence": 0}
        )
    series = await events.select_series(conn, series_id)
    assert series is not None
    rows = await events.select_series_events(conn, series_id, account_id)
    return _series_view(series, rows, languages, public_url, share_urls)


async def get_series(
    conn: asyncpg.Connection,
    public_url: str | None,
    series_id: UUID,
    account_id: UUID | None,
    languages: Sequence[str],
) -> Series:
    """The series with the occurrences the caller may see; 404 when they may see none."""
    series = await events.select_series(conn, series_id)
    rows = await events.select_series_events(conn, series_id, account_id) if series else []
    visible = [r for r in rows if can_view(r)]
    if series is None or not visible:
        raise NotFound("No series has this id, or it is not visible to you.")
    return _series_view(series, visible, languages, public_url)


def _shifted_patch(
    data: EventPatch,
    target: asyncpg.Record,
    occurrence: asyncpg.Record,
) -> EventPatch:
    """The patch for a later occurrence: a new time on the target moves it by the same
    wall-clock amount (and gives it the same length), in its own time zone."""
    if data.starts_at is UNSET and data.ends_at is UNSET:
        return data
    if isinstance(data.timezone, str):
        check_timezone(data.timezone)  # before it is used: an unknown zone is a 422, not a 500
    tz = ZoneInfo(data.timezone if isinstance(data.timezone, str) else target["timezone"])
    old_start = _local(target["starts_at"], tz)
    new_start = _local(
        data.starts_at if isinstance(data.starts_at, datetime) else target["starts_at"], tz
    )
    new_end = _local(data.ends_at if isinstance(data.ends_at, datetime) else target["ends_at"], tz)
    own_start = _local(occurrence["starts_at"], tz) + (new_start - old_start)
    starts_at = own_start.replace(tzinfo=tz)
    changes: dict[str, Any] = {
        "starts_at": starts_at,
        "ends_at": (own_start + (new_end - new_start)).replace(tzinfo=tz),
    }
    if isinstance(data.reveal_at, datetime):
        changes["reveal_at"] = starts_at - (
            (data.starts_at if isinstance(data.starts_at, datetime) else target["starts_at"])
            - data.reveal_at
        )
    elif data.reveal_at is UNSET and occurrence["reveal_at"] is not None:
        changes["reveal_at"] = occurrence["reveal_at"] + (starts_at - occurrence["starts_at"])
    return structs.replace(data, **changes)


async def update_occurrences(
    conn: asyncpg.Connection,
    public_url: str,
    series_id: UUID,
    index: int,
    account_id: UUID | None,
    data: EventPatch,
    scope: str,
    languages: Sequence[str],
) -> Series:
    """Edit one occurrence, or it and every later one that is not cancelled. Each occurrence
    is edited as an event (rules, capacity, notices); one refusal refuses them all."""
    series = await events.select_series(conn, series_id)
    event_id = await events.select_series_event_id(conn, series_id, index) if series else None
    if series is None or event_id is None:
        raise NotFound("No such occurrence in this series, or it is not visible to you.")
    target = await event_rules.require_event_organizer(conn, event_id, account_id)
    ids = [event_id]
    if scope == "this_and_following":
        ids += [i for i in await events.select_series_event_ids_from(conn, series_id, index + 1)]
    for occurrence_id in ids:
        occurrence = await event_rules.require_event_organizer(
            conn, occurrence_id, account_id, for_update=True
        )
        await event_rules.update_event(
            conn,
            public_url,
            occurrence_id,
            account_id,
            _shifted_patch(data, target, occurrence),
            languages,
        )
    await events.touch_series(conn, series_id)
    return await get_series(conn, public_url, series_id, account_id, languages)
