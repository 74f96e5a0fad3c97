"""Events: their own rules (values, capacity, share links, notices) over access and locations.

Who sees an event is api.services.access; where it is, api.services.locations; lists and
search, api.services.event_search; status changes go through api.services.lifecycle.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

import asyncpg
from msgspec import UNSET

from api.errors import Conflict, NotFound, RuleViolation
from api.guards import require_org_role
from api.patching import place_columns, sent_fields
from api.services import access, counts, locations
from api.services.lifecycle import HostedKind
from api.services.orgs import check_timezone
from api.services.ride_cascade import flag_rides_for_event
from api.services.waitlist import promote_waitlist
from api.texts import choose_language, pick
from db.queries import events, hosts
from db.queries.notifications import insert_event_notifications
from db.queries.outbox import insert_outbox_entry
from schemas.events import (
    Counts,
    Display,
    Event,
    EventCreate,
    EventLinks,
    EventPatch,
)
from schemas.feeds import FeedLinks, feed_links, feed_links_for
from schemas.problems import FieldError

#: a change to any of these is a change a calendar shows: `sequence` rises
CALENDAR_COLUMNS = frozenset(
    {
        "title",
        "summary",
        "description",
        "starts_at",
        "ends_at",
        "timezone",
        "venue_name",
        "venue_address",
        "venue_lat",
        "venue_lon",
        "area",
        "virtual_url",
    }
)
#: a change to any of these tells everyone coming that the event moved
MOVE_COLUMNS = frozenset(
    {
        "starts_at",
        "ends_at",
        "venue_name",
        "venue_address",
        "venue_lat",
        "venue_lon",
        "area",
        "virtual_url",
    }
)

NOT_VISIBLE = "No event has this id, or it is not visible to you."


# ---------------------------------------------------------------- standing and visibility


async def require_event_organizer(
    conn: asyncpg.Connection,
    event_id: UUID,
    account_id: UUID | None,
    *,
    attendee_access: bool = False,
    for_update: bool = False,
) -> asyncpg.Record:
    """The event row if the caller organizes it (organizer/owner of a hosting org).

    With `attendee_access`, co-hosts count only when the creating org granted them attendee
    access. Anonymous → 401; an event the caller may not see → 404; seen but no role → 403.
    `for_update` locks the event row for the rest of the transaction.
    """
    caller = access.require_login(account_id)
    row = await events.select_event(conn, event_id, caller, for_update=for_update)
    if row is None or not access.can_view(row):
        raise NotFound(NOT_VISIBLE)
    await access.require_organizer(conn, "event", row, caller, attendee_access=attendee_access)
    return row


# ---------------------------------------------------------------- the view


def _counts(row: asyncpg.Record, organizer: bool) -> Counts:
    needs = dict(row["language_needs"] or {})
    return Counts(
        going=row["places_taken"],
        waitlisted=row["places_waitlisted"],
        spots_left=counts.spots_left(row["capacity"], row["places_taken"], row["queue_waiting"]),
        language_needs=needs if organizer else counts.public_needs(needs),
    )


def event_feeds(
    row: asyncpg.Record, public_url: str | None, share_url: str | None = None
) -> FeedLinks | None:
    """Subscribe links: public events by id, private ones only through their share link."""
    if share_url is not None:
        return feed_links_for(share_url + "/calendar.ics")
    if row["visibility"] == "public" and row["status"] != "draft":
        return feed_links(public_url, f"/v1/events/{row['id']}/calendar.ics")
    return None


def event_view(
    row: asyncpg.Record,
    languages: Sequence[str],
    *,
    public_url: str | None,
    confirmed: bool | None = None,
    share_url: str | None = None,
    feed_share_url: str | None = None,
) -> Event:
    """The Event JSON for a row from db.queries.events (which carries the caller's standing).

    `confirmed` overrides the row's `is_confirmed` (e.g. the holder of an RSVP manage link
    whose RSVP is going). Never carries attendee data: counts only, hidden from non-organizers
    when the event hides counts.
    """
    organizer = access.is_organizer(row)
    confirmed = access.is_confirmed(row) if confirmed is None else confirmed
    place = locations.place_of(row, "venue")
    title, summary, description = row["title"], row["summary"], row["description"]
    available = list(row["languages"]) or list(title)
    lang = choose_language(available, languages) or next(iter(title), "und")
    distance = row.get("distance_km")
    return Event(
        id=row["id"],
        org=row["org_slug"],
        cohosts=list(row["cohost_slugs"]),
        kind=row["kind"],
        title=title,
        summary=summary,
        description=description,
        languages=list(row["languages"]),
        display=Display(
            lang=lang,
            title=pick(title, lang),
            summary=pick(summary, lang),
            description=pick(description, lang),
        ),
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        timezone=row["timezone"],
        location=locations.location_for(
            place,
            exact_allowed=locations.may_see_exact_location(
                place, access.Standing(organizer=organizer, confirmed=confirmed)
            ),
        ),
        visibility=row["visibility"],
        status=row["status"],
        cancel_reason=row["cancel_reason"],
        capacity=row["capacity"],
        counts=None if row["hide_counts"] and not organizer else _counts(row, organizer),
        hide_counts=row["hide_counts"],
        location_policy=row["location_policy"],
        reveal_at=row["reveal_at"],
        tags=list(row["tags"]),
        accessibility_notes=row["accessibility_notes"],
        contact=row["contact"],
        series_id=row["series_id"],
        series_index=row["series_index"],
        sequence=row["sequence"],
        change_seq=row["change_seq"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        published_at=row["published_at"],
        share_url=share_url,
        distance_km=None if distance is None else round(distance, 2),
        links=EventLinks(
            self=f"/v1/events/{row['id']}",
            org=f"/v1/orgs/{row['org_slug']}",
            series=f"/v1/series/{row['series_id']}" if row["series_id"] else None,
        ),
        feeds=event_feeds(row, public_url, share_url or feed_share_url),
    )


async def event_view_for(
    conn: asyncpg.Connection,
    event_id: UUID,
    account_id: UUID | None,
    languages: Sequence[str],
    *,
    public_url: str | None,
    confirmed: bool | None = None,
) -> Event | None:
    """The event as `account_id` (None: anonymous) sees it, ignoring visibility rules (the
    caller already decided the event may be shown, e.g. behind an RSVP manage link)."""
    row = await events.select_event(conn, event_id, account_id)
    return (
        None
        if row is None
        else event_view(row, languages, public_url=public_url, confirmed=confirmed)
    )


# ---------------------------------------------------------------- values and rules


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _languages(given: Sequence[str] | None, *texts: Mapping[str, str]) -> list[str]:
    keys = [k for t in texts for k in t]
    return _unique([*(given or []), *keys]) if given else _unique(keys)


def values_from_create(data: EventCreate) -> dict[str, Any]:
    """Every writable column of a new event, from the request."""
    return locations.with_public_point(
        {
            "kind": data.kind,
            "title": data.title,
            "summary": data.summary,
            "description": data.description,
            "languages": _languages(data.languages, data.title),
            "starts_at": data.starts_at,
            "ends_at": data.ends_at,
            "timezone": data.timezone,
            **place_columns("venue", data.venue),
            "area": data.area,
            "virtual_url": data.virtual_url,
            "visibility": data.visibility,
            "capacity": data.capacity,
            "location_policy": data.location_policy,
            "reveal_at": data.reveal_at,
            "tags": _unique([t.strip().lower() for t in data.tags]),
            "accessibility_notes": data.accessibility_notes,
            "contact": data.contact,
            "hide_counts": data.hide_counts,
        },
        "venue",
    )


def values_from_row(row: asyncpg.Record) -> dict[str, Any]:
    values = {c: row[c] for c in events.WRITABLE_COLUMNS}
    values["languages"] = list(values["languages"])
    values["tags"] = list(values["tags"])
    return values


def apply_patch(current: Mapping[str, Any], data: EventPatch) -> dict[str, Any]:
    """The event's writable columns after the PATCH (omitted fields keep their values)."""
    new = dict(current)
    new.update(
        sent_fields(
            data,
            (
                "kind",
                "title",
                "summary",
                "description",
                "starts_at",
                "ends_at",
                "timezone",
                "area",
                "virtual_url",
                "visibility",
                "capacity",
                "location_policy",
                "reveal_at",
                "accessibility_notes",
                "contact",
                "hide_counts",
            ),
        )
    )
    if data.venue is not UNSET:
        new.update(place_columns("venue", data.venue))
    if data.tags is not UNSET:
        new["tags"] = _unique([t.strip().lower() for t in data.tags])
    if data.languages is not UNSET:
        new["languages"] = _languages(data.languages, new["title"])
    elif data.title is not UNSET:
        new["languages"] = _unique([*new["languages"], *new["title"]])
    # leaving the reveal_at policy drops the time, unless the request sets one (then a 422)
    if (
        data.location_policy is not UNSET
        and data.location_policy != "reveal_at"
        and data.reveal_at is UNSET
    ):
        new["reveal_at"] = None
    return locations.with_public_point(new, "venue")


def check_rules(values: Mapping[str, Any], pointer_base: str = "#") -> None:
    """Rules an event's own fields must satisfy together; all broken ones in one 422."""
    check_timezone(values["timezone"], f"{pointer_base}/timezone")
    errors: list[FieldError] = []
    if values["ends_at"] <= values["starts_at"]:
        errors.append(
            FieldError(pointer=f"{pointer_base}/ends_at", detail="must be after starts_at")
        )
    if values["location_policy"] == "reveal_at" and values["reveal_at"] is None:
        errors.append(
            FieldError(
                pointer=f"{pointer_base}/reveal_at",
                detail="required when location_policy is reveal_at",
            )
        )
    if values["location_policy"] != "reveal_at" and values["reveal_at"] is not None:
        errors.append(
            FieldError(
                pointer=f"{pointer_base}/reveal_at",
                detail="only with location_policy reveal_at",
            )
        )
    if values["location_policy"] != "public" and not values["area"]:
        errors.append(
            FieldError(
                pointer=f"{pointer_base}/area",
                detail="a protected location needs a public area (e.g. the neighborhood)",
            )
        )
    if (values["venue_lat"] is None) != (values["venue_lon"] is None):
        missing = "lon" if values["venue_lon"] is None else "lat"
        errors.append(
            FieldError(
                pointer=f"{pointer_base}/venue/{missing}",
                detail="give both lat and lon, or neither",
            )
        )
    if errors:
        raise RuleViolation("; ".join(f"{e.pointer[2:]} {e.detail}" for e in errors), errors=errors)


# ---------------------------------------------------------------- share links


def new_share_token() -> tuple[str, bytes]:
    """A 256-bit token and the hash we keep of it."""
    token = secrets.token_urlsafe(32)
    return token, share_token_hash(token)


def share_token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def share_url(public_url: str, token: str) -> str:
    return f"{public_url}/v1/events/shared/{token}"


# ---------------------------------------------------------------- helpers


def notice(row: asyncpg.Record, **extra: Any) -> dict[str, Any]:
    """A notification payload: what changed, never where exactly (the inbox is not the venue)."""
    return {
        "event_id": str(row["id"]),
        "title": row["title"],
        "starts_at": row["starts_at"],
        "ends_at": row["ends_at"],
        "area": row["area"],
        "sequence": row["sequence"],
        **extra,
    }


async def outbox(conn: asyncpg.Connection, row: asyncpg.Record, topic: str) -> None:
    await insert_outbox_entry(
        conn,
        row["org_id"],
        topic,
        row["id"],
        {"id": str(row["id"]), "sequence": row["sequence"], "status": row["status"]},
    )


async def reload(
    conn: asyncpg.Connection, event_id: UUID, account_id: UUID | None
) -> asyncpg.Record:
    row = await events.select_event(conn, event_id, account_id)
    assert row is not None
    return row


async def _find(
    conn: asyncpg.Connection, event_id: UUID, account_id: UUID | None
) -> asyncpg.Record:
    return await require_event_organizer(conn, event_id, account_id)


async def _lock(
    conn: asyncpg.Connection, event_id: UUID, account_id: UUID | None
) -> asyncpg.Record:
    return await require_event_organizer(conn, event_id, account_id, for_update=True)


EVENTS = HostedKind(kind="event", find=_find, lock=_lock, reload=reload, outbox=outbox)


# ---------------------------------------------------------------- create, read


async def create_event(
    conn: asyncpg.Connection,
    public_url: str,
    slug: str,
    account_id: UUID | None,
    data: EventCreate,
    languages: Sequence[str],
) -> Event:
    """A new draft under the org (organizers and owners)."""
    org = await require_org_role(conn, slug, account_id, "organizer")
    values = values_from_create(data)
    check_rules(values)
    token, token_hash = new_share_token() if data.visibility == "private" else (None, None)
    event_id = await hosts.insert_hosted(
        conn, "event", org["id"], account_id, {**values, "share_token_hash": token_hash}
    )
    row = await reload(conn, event_id, account_id)
    await outbox(conn, row, "event.created")
    return event_view(
        row,
        languages,
        public_url=public_url,
        share_url=share_url(public_url, token) if token else None,
    )


async def get_event(
    conn: asyncpg.Connection,
    public_url: str,
    event_id: UUID,
    account_id: UUID | None,
    languages: Sequence[str],
) -> Event:
    row = await events.select_event(conn, event_id, account_id)
    if row is None or not access.can_view(row):
        raise NotFound(NOT_VISIBLE)
    return event_view(row, languages, public_url=public_url)


async def get_shared_event(
    conn: asyncpg.Connection,
    public_url: str,
    token: str,
    account_id: UUID | None,
    languages: Sequence[str],
) -> Event:
    """A private event through its share link (drafts stay hidden until published)."""
    row = await events.select_event_by_share_hash(conn, share_token_hash(token), account_id)
    if row is None or not access.can_view(row, via_share_link=True):
        raise NotFound(
            "This share link is unknown, was rotated, or the event is not published yet."
        )
    return event_view(
        row, languages, public_url=public_url, feed_share_url=share_url(public_url, token)
    )


# ---------------------------------------------------------------- update


async def update_event(
    conn: asyncpg.Connection,
    public_url: str,
    event_id: UUID,
    account_id: UUID | None,
    data: EventPatch,
    languages: Sequence[str],
    *,
    pointer_base: str = "#",
) -> Event:
    """Apply a PATCH: sequence for calendar-visible changes, capacity rule, waitlist promotion,
    "event.moved" notices, share-link lifecycle; new times republish a postponed event."""
    row = await require_event_organizer(conn, event_id, account_id, for_update=True)
    if row["status"] == "cancelled":
        raise Conflict("This event is cancelled, and cancelled is final; create a new event.")
    current = values_from_row(row)
    new = apply_patch(current, data)
    check_rules(new, pointer_base)
    capacity = new["capacity"]
    if capacity is not None and capacity < row["places_taken"]:
        raise Conflict(
            f"{row['places_taken']} places are going (guests included); the capacity cannot go "
            f"below that. Ask people to cancel first, or choose at least {row['places_taken']}.",
            errors=[
                FieldError(
                    pointer=f"{pointer_base}/capacity",
                    detail=f"at least {row['places_taken']} (places going)",
                )
            ],
        )
    changed = {c for c in events.WRITABLE_COLUMNS if new[c] != current[c]}
    times_given = data.starts_at is not UNSET or data.ends_at is not UNSET
    status = "published" if row["status"] == "postponed" and times_given else None
    share = None
    if changed or status:
        await hosts.update_hosted(
            conn,
            "event",
            event_id,
            new,
            bump_sequence=bool(changed & CALENDAR_COLUMNS) or status is not None,
            status=status,
        )
        if new["visibility"] == "private" and not row["has_share_link"]:
            token, token_hash = new_share_token()
            await events.update_share_token_hash(conn, event_id, token_hash)
            share = share_url(public_url, token)
        elif new["visibility"] != "private" and row["has_share_link"]:
            # the old link must stop working if the event ever becomes private again
            await events.update_share_token_hash(conn, event_id, None)
        # any new capacity may admit someone: a raised one frees places, and a lowered one can
        # leave the waiting head group too large to ever fit, so those behind it move up
        if capacity != current["capacity"]:
            await promote_waitlist(conn, event_id, None)
        after = await reload(conn, event_id, account_id)
        if row["status"] in ("published", "postponed") and (changed & MOVE_COLUMNS or status):
            await insert_event_notifications(conn, event_id, "event.moved", notice(after))
        if changed & {"starts_at", "ends_at"}:
            await flag_rides_for_event(conn, event_id)
        await outbox(conn, after, "event.updated")
    else:
        after = row
    return event_view(after, languages, public_url=public_url, share_url=share)


async def delete_event(conn: asyncpg.Connection, event_id: UUID, account_id: UUID | None) -> None:
    """Delete a draft (creating org's organizers); published events are cancelled instead."""
    row = await EVENTS.lock_as_host(conn, event_id, account_id, "delete an event")
    if row["status"] != "draft":
        raise Conflict(
            f"This event is {row['status']}: published events are never deleted, so people who "
            f"saw it can learn what happened. Cancel it instead (POST /v1/events/{event_id}/cancel)."
        )
    await events.delete_draft_event(conn, event_id)
    await insert_outbox_entry(
        conn,
        row["org_id"],
        "event.deleted",
        event_id,
        {"id": str(event_id), "sequence": row["sequence"]},
    )


async def rotate_share_link(
    conn: asyncpg.Connection,
    public_url: str,
    event_id: UUID,
    account_id: UUID | None,
    languages: Sequence[str],
) -> Event:
    """A new share link for a private event; the old one stops working."""
    row = await require_event_organizer(conn, event_id, account_id, for_update=True)
    if row["visibility"] != "private":
        raise Conflict("Only private events have share links; set visibility to private first.")
    token, token_hash = new_share_token()
    await events.update_share_token_hash(conn, event_id, token_hash)
    after = await reload(conn, event_id, account_id)
    await outbox(conn, after, "event.updated")
    return event_view(
        after, languages, public_url=public_url, share_url=share_url(public_url, token)
    )


async def notify_revealed_locations(conn: asyncpg.Connection, limit: int = 100) -> int:
    """Tell the people going to each event whose reveal time has come that its place is now
    shown to them ("event.location_revealed"); each event once. Run by the worker; returns
    how many events it handled (call again while it returns `limit`)."""
    handled = 0
    for row in await events.claim_due_reveals(conn, limit):
        await insert_event_notifications(
            conn, row["id"], "event.location_revealed", notice(row), statuses=("going",)
        )
        handled += 1
    return handled
