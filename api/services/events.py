"""Events: lifecycle rules, who may see and edit what, protected locations, and discovery.

Who sees an event:
- drafts: organizers of a hosting org (the creating org or a co-host) only;
- public: everyone; members: members of a hosting org (others get a 404);
- private: organizers, and anyone holding the share link (`/v1/events/shared/{token}`).

Where it is (`location_for`): with location policy `attendees` or `reveal_at`, everyone but
organizers and confirmed attendees (an RSVP going or attended; for `reveal_at` only from that
time on) sees the coarse `area` and lat/lon on a ~5 km grid. That grid point is computed when
the event is written (`public_lat`/`public_lon`) and is the only point lists and distances use.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from msgspec import UNSET

from api.errors import BadRequest, Conflict, Forbidden, NotFound, RuleViolation, Unauthorized
from api.guards import require_org_role, require_two_factor_for
from api.pagination import decode_cursor, split_page
from api.patching import place_columns, sent_fields
from api.services import cohosts, counts
from api.services.cohosts import cohost_view
from api.services.orgs import check_timezone
from api.services.waitlist import promote_waitlist
from api.texts import choose_language, pick
from db.queries import cohosts as cohost_queries
from db.queries import events, orgs
from db.queries.notifications import insert_event_notifications
from db.queries.outbox import insert_outbox_entry
from schemas.events import (
    Cohost,
    CohostAdd,
    CohostList,
    Counts,
    Display,
    Event,
    EventCreate,
    EventLinks,
    EventPage,
    EventPatch,
    Location,
)
from schemas.feeds import FeedLinks, feed_links, feed_links_for, request_public_url
from schemas.problems import FieldError

#: public lat/lon of protected locations snap to this grid (degrees; ≈ 5.5 km of latitude)
GRID_DEGREES = 0.05
EARTH_RADIUS_KM = 6371.0088

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


def is_organizer(row: asyncpg.Record) -> bool:
    """Organizer or owner of the creating org or of a co-hosting org."""
    return max(row["host_rank"], row["cohost_rank"]) >= 2


def is_member(row: asyncpg.Record) -> bool:
    """Any role in the creating org or a co-hosting org."""
    return max(row["host_rank"], row["cohost_rank"]) >= 1


def can_view(row: asyncpg.Record, *, via_share_link: bool = False) -> bool:
    if is_organizer(row):
        return True
    if row["status"] == "draft":
        return False
    if row["visibility"] == "public":
        return True
    if row["visibility"] == "members":
        return is_member(row)
    return via_share_link


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
    if account_id is None:
        raise Unauthorized("Log in first: send `Authorization: Bearer <token>`.")
    row = await events.select_event(conn, event_id, account_id, for_update=for_update)
    if row is None or not can_view(row):
        raise NotFound(NOT_VISIBLE)
    if attendee_access:
        allowed = max(row["host_rank"], row["cohost_attendee_rank"]) >= 2
        if not allowed:
            raise Forbidden(
                "Only organizers of the creating organization, or of a co-host it granted "
                "attendee access, see who is coming."
            )
    elif not is_organizer(row):
        raise Forbidden("This needs the organizer role in an organization hosting the event.")
    await require_two_factor_for(conn, "event", event_id, account_id)
    return row


async def _require_host_organizer(
    conn: asyncpg.Connection, event_id: UUID, account_id: UUID | None, action: str
) -> asyncpg.Record:
    """Like require_event_organizer, but only the creating org's organizers qualify."""
    row = await require_event_organizer(conn, event_id, account_id, for_update=True)
    if row["host_rank"] < 2:
        raise Forbidden(f"Only organizers of the creating organization {action}.")
    return row


# ---------------------------------------------------------------- the view


def grid_point(lat: float | None, lon: float | None) -> tuple[float | None, float | None]:
    """Snap a point to the ~5 km grid (what callers see of a protected location)."""
    if lat is None or lon is None:
        return None, None
    return (
        round(round(lat / GRID_DEGREES) * GRID_DEGREES, 2),
        round(round(lon / GRID_DEGREES) * GRID_DEGREES, 2),
    )


def may_see_exact_location(
    row: asyncpg.Record, *, organizer: bool, confirmed: bool, now: datetime | None = None
) -> bool:
    """Whether a caller sees the venue: organizers always; confirmed attendees (going or
    attended) under policy `attendees`, or under `reveal_at` once that time has come."""
    policy = row["location_policy"]
    if policy == "public" or organizer:
        return True
    if not confirmed:
        return False
    if policy == "attendees":
        return True
    reveal_at = row["reveal_at"]
    return reveal_at is not None and (now or datetime.now(UTC)) >= reveal_at


def location_for(row: asyncpg.Record, *, exact_allowed: bool) -> Location:
    """The event's location as a caller may see it.

    `exact_allowed` comes from `may_see_exact_location` (or, for an RSVP's manage link, from
    that RSVP's status). Without it, a protected location shows only the area, the grid point
    and `precision: "area"`: no venue name, address or virtual link.
    """
    if exact_allowed or row["location_policy"] == "public":
        return Location(
            precision="exact",
            area=row["area"],
            name=row["venue_name"],
            address=row["venue_address"],
            lat=row["venue_lat"],
            lon=row["venue_lon"],
            virtual_url=row["virtual_url"],
        )
    return Location(
        precision="area",
        area=row["area"],
        name=None,
        address=None,
        lat=row["public_lat"],
        lon=row["public_lon"],
        virtual_url=None,
    )


def _counts(row: asyncpg.Record, organizer: bool) -> Counts:
    needs = dict(row["language_needs"] or {})
    return Counts(
        going=row["places_taken"],
        waitlisted=row["places_waitlisted"],
        spots_left=counts.spots_left(row["capacity"], row["places_taken"], row["queue_waiting"]),
        language_needs=needs if organizer else counts.public_needs(needs),
    )


def event_feeds(row: asyncpg.Record, share_url: str | None = None) -> FeedLinks | None:
    """Subscribe links: public events by id, private ones only through their share link."""
    if share_url is not None:
        return feed_links_for(share_url + "/calendar.ics")
    if row["visibility"] == "public" and row["status"] != "draft":
        return feed_links(f"/v1/events/{row['id']}/calendar.ics")
    return None


def event_view(
    row: asyncpg.Record,
    languages: Sequence[str],
    *,
    confirmed: bool | None = None,
    share_url: str | None = None,
    feed_share_url: str | None = None,
) -> Event:
    """The Event JSON for a row from db.queries.events (which carries the caller's standing).

    `confirmed` overrides the row's `is_confirmed` (e.g. the holder of an RSVP manage link
    whose RSVP is going). Never carries attendee data: counts only, hidden from non-organizers
    when the event hides counts.
    """
    organizer = is_organizer(row)
    confirmed = row["is_confirmed"] if confirmed is None else confirmed
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
        location=location_for(
            row,
            exact_allowed=may_see_exact_location(row, organizer=organizer, confirmed=confirmed),
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
        feeds=event_feeds(row, share_url or feed_share_url),
    )


async def event_view_for(
    conn: asyncpg.Connection,
    event_id: UUID,
    account_id: UUID | None,
    languages: Sequence[str],
    *,
    confirmed: bool | None = None,
) -> Event | None:
    """The event as `account_id` (None: anonymous) sees it, ignoring visibility rules (the
    caller already decided the event may be shown, e.g. behind an RSVP manage link)."""
    row = await events.select_event(conn, event_id, account_id)
    return None if row is None else event_view(row, languages, confirmed=confirmed)


# ---------------------------------------------------------------- values and rules


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _languages(given: Sequence[str] | None, *texts: Mapping[str, str]) -> list[str]:
    keys = [k for t in texts for k in t]
    return _unique([*(given or []), *keys]) if given else _unique(keys)


def _with_public_point(values: dict[str, Any]) -> dict[str, Any]:
    if values["location_policy"] == "public":
        values["public_lat"], values["public_lon"] = values["venue_lat"], values["venue_lon"]
    else:
        values["public_lat"], values["public_lon"] = grid_point(
            values["venue_lat"], values["venue_lon"]
        )
    return values


def values_from_create(data: EventCreate) -> dict[str, Any]:
    """Every writable column of a new event, from the request."""
    venue = data.venue
    return _with_public_point(
        {
            "kind": data.kind,
            "title": data.title,
            "summary": data.summary,
            "description": data.description,
            "languages": _languages(data.languages, data.title),
            "starts_at": data.starts_at,
            "ends_at": data.ends_at,
            "timezone": data.timezone,
            "venue_name": venue.name if venue else None,
            "venue_address": venue.address if venue else None,
            "venue_lat": venue.lat if venue else None,
            "venue_lon": venue.lon if venue else None,
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
        }
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
    return _with_public_point(new)


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


def _notice(row: asyncpg.Record, **extra: Any) -> dict[str, Any]:
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


async def _outbox(conn: asyncpg.Connection, row: asyncpg.Record, topic: str) -> None:
    await insert_outbox_entry(
        conn,
        row["org_id"],
        topic,
        row["id"],
        {"id": str(row["id"]), "sequence": row["sequence"], "status": row["status"]},
    )


async def _reload(
    conn: asyncpg.Connection, event_id: UUID, account_id: UUID | None
) -> asyncpg.Record:
    row = await events.select_event(conn, event_id, account_id)
    assert row is not None
    return row


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
    event_id = await events.insert_event(
        conn, org["id"], account_id, values, share_token_hash=token_hash
    )
    row = await _reload(conn, event_id, account_id)
    await _outbox(conn, row, "event.created")
    return event_view(row, languages, share_url=share_url(public_url, token) if token else None)


async def get_event(
    conn: asyncpg.Connection, event_id: UUID, account_id: UUID | None, languages: Sequence[str]
) -> Event:
    row = await events.select_event(conn, event_id, account_id)
    if row is None or not can_view(row):
        raise NotFound(NOT_VISIBLE)
    return event_view(row, languages)


async def get_shared_event(
    conn: asyncpg.Connection, token: str, account_id: UUID | None, languages: Sequence[str]
) -> Event:
    """A private event through its share link (drafts stay hidden until published)."""
    row = await events.select_event_by_share_hash(conn, share_token_hash(token), account_id)
    if row is None or not can_view(row, via_share_link=True):
        raise NotFound(
            "This share link is unknown, was rotated, or the event is not published yet."
        )
    base = request_public_url.get()
    return event_view(
        row, languages, feed_share_url=share_url(base, token) if base is not None else None
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
        await events.update_event(
            conn,
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
        after = await _reload(conn, event_id, account_id)
        if row["status"] in ("published", "postponed") and (changed & MOVE_COLUMNS or status):
            await insert_event_notifications(conn, event_id, "event.moved", _notice(after))
        if changed & {"starts_at", "ends_at"}:
            from api.services.ride_cascade import flag_rides_for_event  # rides import this module

            await flag_rides_for_event(conn, event_id)
        await _outbox(conn, after, "event.updated")
    else:
        after = row
    return event_view(after, languages, share_url=share)


# ---------------------------------------------------------------- lifecycle

_FINAL = "This event is cancelled, and cancelled is final."


async def publish_event(
    conn: asyncpg.Connection, event_id: UUID, account_id: UUID | None, languages: Sequence[str]
) -> Event:
    """draft → published."""
    row = await require_event_organizer(conn, event_id, account_id, for_update=True)
    status = row["status"]
    if status == "cancelled":
        raise Conflict(f"{_FINAL} It cannot be published again; create a new event.")
    if status == "published":
        raise Conflict("This event is already published.")
    if status == "postponed":
        raise Conflict(
            "A postponed event is republished by giving it new times: PATCH starts_at and ends_at."
        )
    await events.update_event_status(conn, event_id, "published")
    after = await _reload(conn, event_id, account_id)
    await _outbox(conn, after, "event.updated")
    return event_view(after, languages)


async def postpone_event(
    conn: asyncpg.Connection, event_id: UUID, account_id: UUID | None, languages: Sequence[str]
) -> Event:
    """published → postponed (new date not known yet); RSVPs are kept and told."""
    row = await require_event_organizer(conn, event_id, account_id, for_update=True)
    status = row["status"]
    if status == "cancelled":
        raise Conflict(f"{_FINAL} It cannot be postponed.")
    if status == "draft":
        raise Conflict("Only a published event can be postponed; this one is a draft.")
    if status == "postponed":
        raise Conflict("This event is already postponed.")
    await events.update_event_status(conn, event_id, "postponed")
    after = await _reload(conn, event_id, account_id)
    await insert_event_notifications(conn, event_id, "event.postponed", _notice(after))
    from api.services.ride_cascade import flag_rides_for_event  # rides import this module

    await flag_rides_for_event(conn, event_id)
    await _outbox(conn, after, "event.updated")
    return event_view(after, languages)


async def cancel_event(
    conn: asyncpg.Connection,
    event_id: UUID,
    account_id: UUID | None,
    reason: str,
    languages: Sequence[str],
) -> Event:
    """published or postponed → cancelled (final); everyone going or waitlisted is told why."""
    row = await require_event_organizer(conn, event_id, account_id, for_update=True)
    status = row["status"]
    if status == "cancelled":
        raise Conflict(f"{_FINAL}")
    if status == "draft":
        raise Conflict("A draft has nobody to tell; delete it instead.")
    await events.update_event_status(conn, event_id, "cancelled", reason.strip())
    after = await _reload(conn, event_id, account_id)
    await insert_event_notifications(
        conn, event_id, "event.cancelled", _notice(after, reason=after["cancel_reason"])
    )
    await _outbox(conn, after, "event.cancelled")
    from api.services.ride_cascade import cancel_rides_for_event  # rides import this module

    await cancel_rides_for_event(conn, event_id)
    return event_view(after, languages)


async def delete_event(conn: asyncpg.Connection, event_id: UUID, account_id: UUID | None) -> None:
    """Delete a draft (creating org's organizers); published events are cancelled instead."""
    row = await _require_host_organizer(conn, event_id, account_id, "delete an event")
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
    after = await _reload(conn, event_id, account_id)
    await _outbox(conn, after, "event.updated")
    return event_view(after, languages, share_url=share_url(public_url, token))


async def notify_revealed_locations(conn: asyncpg.Connection, limit: int = 100) -> int:
    """Tell the people going to each event whose reveal time has come that its place is now
    shown to them ("event.location_revealed"); each event once. Run by the worker; returns
    how many events it handled (call again while it returns `limit`)."""
    handled = 0
    for row in await events.claim_due_reveals(conn, limit):
        await insert_event_notifications(
            conn, row["id"], "event.location_revealed", _notice(row), statuses=("going",)
        )
        handled += 1
    return handled


# ---------------------------------------------------------------- lists


class EventQuery(msgspec.Struct, kw_only=True):
    """Validated list filters (the routes parse the query string into this)."""

    starts_from: datetime | None = None
    starts_to: datetime | None = None
    kinds: Sequence[str] | None = None
    tags: Sequence[str] | None = None
    org: str | None = None
    language: str | None = None
    near: tuple[float, float] | None = None
    radius_km: float | None = None
    text: str | None = None
    include_cancelled: bool = False


def parse_near(near: str) -> tuple[float, float]:
    """`lat,lon` in degrees; a malformed or out-of-range point is a 400."""
    parts = near.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        lat, lon = float(parts[0]), float(parts[1])
        if not (math.isfinite(lat) and math.isfinite(lon)):
            raise ValueError
    except ValueError:
        raise BadRequest(
            "`near` must be `lat,lon` in decimal degrees, e.g. near=32.53,-117.04.",
            errors=[FieldError(pointer="#/query/near", detail="expected lat,lon")],
        ) from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise BadRequest(
            "`near` is out of range: lat must be within ±90 and lon within ±180.",
            errors=[FieldError(pointer="#/query/near", detail="lat within ±90, lon within ±180")],
        )
    return lat, lon


def check_query(query: EventQuery) -> None:
    """Rules between filters (422), after each filter matched its schema."""
    if query.near is not None and query.radius_km is None:
        raise RuleViolation(
            "`near` needs `radius_km` (how far from the point to look).",
            errors=[FieldError(pointer="#/query/radius_km", detail="required with near")],
        )
    if query.radius_km is not None and query.near is None:
        raise RuleViolation(
            "`radius_km` needs `near` (the point to measure from).",
            errors=[FieldError(pointer="#/query/near", detail="required with radius_km")],
        )
    if query.starts_from and query.starts_to and query.starts_from > query.starts_to:
        raise RuleViolation(
            "`from` is after `to`; no event can be in that window.",
            errors=[FieldError(pointer="#/query/to", detail="must not be before from")],
        )


def bounding_box(
    lat: float, lon: float, radius_km: float
) -> tuple[float, float, float | None, float | None]:
    """A lat/lon box holding the circle; lon bounds are None near poles or the antimeridian."""
    dlat = math.degrees(radius_km / EARTH_RADIUS_KM)
    lat_min, lat_max = max(-90.0, lat - dlat), min(90.0, lat + dlat)
    widest = max(abs(lat_min), abs(lat_max))
    if widest >= 89.9:
        return lat_min, lat_max, None, None
    dlon = math.degrees(radius_km / (EARTH_RADIUS_KM * math.cos(math.radians(widest))))
    if lon - dlon < -180 or lon + dlon > 180:
        return lat_min, lat_max, None, None
    return lat_min, lat_max, lon - dlon, lon + dlon


async def events_version(conn: asyncpg.Connection) -> int:
    """A number that changes whenever any event (or its counts) changes."""
    return await events.select_events_version(conn)


#: `q` is always stemmed as Spanish and English (and unstemmed), whatever the caller reads
SEARCH_LANGUAGES = ("es", "en")
#: and in the caller's first few languages: a long Accept-Language adds no more work
SEARCH_CALLER_LANGUAGES = 3


def search_languages(languages: Sequence[str]) -> list[str]:
    """The languages a query is stemmed in: the caller's first few, then Spanish and English."""
    return [*languages[:SEARCH_CALLER_LANGUAGES], *SEARCH_LANGUAGES]


#: a distance search looks first this far past where its page starts (or 1/16 of its radius)
FIRST_RING_KM = 2.0


async def _nearest_first(
    select: Callable[[float], Awaitable[list[asyncpg.Record]]],
    radius_km: float,
    start_km: float,
    limit: int,
) -> list[asyncpg.Record]:
    """A page by distance, looked for in widening rings: a page sorted by distance must sort
    every candidate in its circle, and a dense city has thousands. When a ring holds more than
    a page, the page is exact (whatever lies beyond the ring is farther than all it holds), so
    the work follows the page, not the density; each ring that falls short doubles."""
    width = min(FIRST_RING_KM, radius_km / 16)
    # at most log2(20,000 km / 2 km) ≈ 14 rings; none for a radius too small to split
    while width > 0 and start_km + width < radius_km:
        rows = await select(start_km + width)
        if len(rows) > limit:
            return rows
        width *= 2
    return await select(radius_km)


async def list_events(
    conn: asyncpg.Connection,
    account_id: UUID | None,
    query: EventQuery,
    cursor: str | None,
    limit: int,
    languages: Sequence[str],
    *,
    org_slug: str | None = None,
) -> EventPage:
    """Discovery (org_slug None) or one org's events (with co-hosted ones)."""
    check_query(query)
    org_id = None
    if org_slug is not None:
        org = await orgs.select_org(conn, org_slug)
        if org is None:
            raise NotFound(f"No organization has the slug {org_slug!r}.")
        org_id = org["id"]
    org_filter_id = None
    if query.org is not None:
        org = await orgs.select_org(conn, query.org)
        if org is None:
            return EventPage(items=[])
        org_filter_id = org["id"]
    by_distance = query.near is not None
    by_relevance = query.text is not None and not by_distance
    after = decode_cursor(
        cursor,
        tuple[float, UUID]
        if by_distance
        else tuple[int, datetime, UUID]
        if by_relevance
        else tuple[datetime, UUID],
    )
    statuses = ["published", "postponed"] + (["cancelled"] if query.include_cancelled else [])

    async def select(radius_km: float | None) -> list[asyncpg.Record]:
        return await events.select_events(
            conn,
            account_id=account_id,
            org_id=org_id,
            statuses=statuses,
            starts_from=query.starts_from,
            starts_to=query.starts_to,
            kinds=query.kinds,
            tags=[t.strip().lower() for t in query.tags] if query.tags else None,
            org_filter_id=org_filter_id,
            language=query.language,
            near=query.near,
            radius_km=radius_km,
            box=bounding_box(*query.near, radius_km)
            if query.near and radius_km is not None
            else None,
            text=query.text,
            text_languages=search_languages(languages),
            after=after,
            limit=limit + 1,
        )

    if query.near is not None and query.radius_km is not None:
        rows = await _nearest_first(select, query.radius_km, after[0] if after else 0.0, limit)
    else:
        rows = await select(None)
    page, next_cursor = split_page(
        rows,
        limit,
        (lambda r: (r["distance_km"], r["id"]))
        if by_distance
        else (lambda r: (r["search_tier"], r["starts_at"], r["id"]))
        if by_relevance
        else (lambda r: (r["starts_at"], r["id"])),
    )
    return EventPage(items=[event_view(r, languages) for r in page], next_cursor=next_cursor)


# ---------------------------------------------------------------- co-hosts


async def list_cohosts(
    conn: asyncpg.Connection, event_id: UUID, account_id: UUID | None
) -> CohostList:
    """Accepted co-hosts for every organizer of a hosting org; the pending invitations too
    for the creating org's organizers, who sent them."""
    row = await require_event_organizer(conn, event_id, account_id)
    items = [cohost_view(r) for r in await events.select_cohosts(conn, event_id)]
    if row["host_rank"] >= 2:
        items += await cohosts.pending(conn, "event", event_id)
    return CohostList(items=items)


async def add_cohost(
    conn: asyncpg.Connection, event_id: UUID, account_id: UUID | None, data: CohostAdd
) -> Cohost:
    """Invite another org to co-host: once its organizers accept, they may edit the event and
    it lists under both orgs. A caller who is an organizer there too accepts at once."""
    row = await _require_host_organizer(conn, event_id, account_id, "add co-hosts")
    org = await cohosts.invited_org(conn, "event", event_id, row["org_id"], data.org)
    assert account_id is not None
    if not await cohosts.speaks_for(conn, data.org, account_id):
        return await cohosts.invite(
            conn, "event", event_id, org["id"], data.org, data.can_see_attendees
        )
    await cohost_queries.take_invitation(conn, "event", event_id, data.org)
    return await _make_cohost(conn, event_id, account_id, org["id"], data.can_see_attendees)


async def _make_cohost(
    conn: asyncpg.Connection, event_id: UUID, account_id: UUID, org_id: UUID, grant: bool
) -> Cohost:
    record = await events.insert_cohost(conn, event_id, org_id, grant)
    if record is None:
        raise Conflict("This organization already co-hosts this event.")
    await events.touch_event(conn, event_id)
    await _outbox(conn, await _reload(conn, event_id, account_id), "event.updated")
    return cohost_view(record)


async def accept_cohost(
    conn: asyncpg.Connection, event_id: UUID, account_id: UUID | None, slug: str
) -> Cohost:
    """An organizer of the invited org accepts: from now on it co-hosts the event."""
    invitation = await cohosts.answer(conn, "event", event_id, slug, account_id)
    assert account_id is not None
    return await _make_cohost(
        conn, event_id, account_id, invitation["org_id"], invitation["can_see_attendees"]
    )


async def decline_cohost(
    conn: asyncpg.Connection, event_id: UUID, account_id: UUID | None, slug: str
) -> None:
    """An organizer of the invited org declines: the invitation is gone, nothing was shown."""
    await cohosts.answer(conn, "event", event_id, slug, account_id)


async def remove_cohost(
    conn: asyncpg.Connection, event_id: UUID, account_id: UUID | None, slug: str
) -> None:
    """Remove a co-host, or withdraw an invitation not yet answered."""
    await _require_host_organizer(conn, event_id, account_id, "remove co-hosts")
    if await cohost_queries.take_invitation(conn, "event", event_id, slug) is not None:
        return
    if not await events.delete_cohost(conn, event_id, slug):
        raise NotFound(f"{slug!r} does not co-host this event.")
    await events.touch_event(conn, event_id)
    await _outbox(conn, await _reload(conn, event_id, account_id), "event.updated")
