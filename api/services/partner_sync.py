"""Incremental sync for partner keys: every change after a cursor, with tombstones.

A key covers its org's public, published (or postponed, or cancelled) events, its own and those
it co-hosts. An event that stops being visible to the key — made members-only or private, the
org removed as co-host, deleted — comes as a tombstone, so partners remove their copy. Which
events a key's org may have seen is kept in `partner_exposures` (see the 0007 migration); why the
cursor never skips a change is explained in db/queries/partner_sync.py.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from api.errors import BadRequest
from api.pagination import decode_cursor, encode_cursor
from api.services import counts
from api.services.api_keys import Partner, require_scope
from api.services.locations import location_for, place_of
from db.queries import partner_sync as q
from schemas.partners import PartnerChange, PartnerEvent, PartnerEventPage, StatusCounts
from schemas.problems import FieldError

START = (0, 0)


def visible_to_org(row: asyncpg.Record, org_id: Any) -> bool:
    """Whether partners of this org may see the event now."""
    hosted = row["org_id"] == org_id or org_id in (row["cohost_ids"] or [])
    return hosted and row["visibility"] == "public" and row["status"] != "draft"


def hidden_reason(row: asyncpg.Record, org_id: Any) -> str:
    if not (row["org_id"] == org_id or org_id in (row["cohost_ids"] or [])):
        return "org_removed"
    if row["visibility"] != "public":
        return "not_public"
    return "unpublished"


def status_counts(row: asyncpg.Record) -> StatusCounts | None:
    """Counts by status, unless the organizers hide counts from the public."""
    if row["hide_counts"]:
        return None
    return StatusCounts(
        going=row["places_taken"],
        waitlisted=row["places_waitlisted"],
        spots_left=counts.spots_left(row["capacity"], row["places_taken"], row["queue_waiting"]),
    )


def partner_event(row: asyncpg.Record, public_url: str, *, counts: bool) -> PartnerEvent:
    """The event as the public sees it: a protected location stays coarse."""
    return PartnerEvent(
        id=row["id"],
        org=row["org_slug"],
        cohosts=list(row["cohost_slugs"]),
        kind=row["kind"],
        title=row["title"],
        summary=row["summary"],
        description=row["description"],
        languages=list(row["languages"]),
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        timezone=row["timezone"],
        location=location_for(place_of(row, "venue"), exact_allowed=False),
        status=row["status"],
        cancel_reason=row["cancel_reason"],
        capacity=row["capacity"],
        tags=list(row["tags"]),
        accessibility_notes=row["accessibility_notes"],
        contact=row["contact"],
        imported=row["imported"],
        sequence=row["sequence"],
        change_seq=row["change_seq"],
        updated_at=row["updated_at"],
        url=f"{public_url}/v1/events/{row['id']}",
        counts=status_counts(row) if counts else None,
    )


def _position(row: asyncpg.Record) -> tuple[int, int]:
    return int(row["change_xid"]), int(row["change_seq"])


def _after(since: str | None) -> tuple[int, int]:
    if since is None:
        return START
    after: tuple[int, int] = decode_cursor(since, tuple[int, int])
    if after[0] < 0 or after[1] < 0:
        raise BadRequest(
            "The cursor is not one this API issued; start again without it.",
            errors=[FieldError(pointer="#/query/since", detail="not a valid cursor")],
        )
    return after


async def sync_events(
    conn: asyncpg.Connection, partner: Partner, public_url: str, since: str | None, limit: int
) -> PartnerEventPage:
    """Changes after `since` (absent: from the beginning), oldest first, at most `limit`."""
    require_scope(partner, "events:read")
    after = _after(since)
    horizon = await q.select_horizon(conn)
    events = await q.select_event_changes(conn, partner.org_id, after, horizon, limit + 1)
    tombstones = await q.select_tombstones(conn, partner.org_id, after, horizon, limit + 1)
    merged = sorted([*events, *tombstones], key=_position)
    page, has_more = merged[:limit], len(merged) > limit
    counts = "events:counts" in partner.scopes
    items: list[PartnerChange] = []
    for row in page:
        if "reason" in row.keys():
            reason = row["reason"]
        elif visible_to_org(row, partner.org_id):
            event = partner_event(row, public_url, counts=counts)
            items.append(
                PartnerChange(
                    id=row["id"], deleted=False, change_seq=row["change_seq"], event=event
                )
            )
            continue
        else:
            reason = hidden_reason(row, partner.org_id)
        items.append(
            PartnerChange(id=row["id"], deleted=True, change_seq=row["change_seq"], reason=reason)
        )
    position = _position(page[-1]) if page else after
    return PartnerEventPage(
        items=items, next_cursor=encode_cursor(list(position)), has_more=has_more
    )
