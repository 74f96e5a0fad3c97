"""The OSDI view of public events (HAL+JSON `osdi:events`), as Action Network and others read it.

OSDI has one start and end per event, so an event with shifts becomes one OSDI event per shift
(identified `caravan:<shift id>`); an event without shifts is one OSDI event (`caravan:<event
id>`). Locations follow the location policy: a protected one is only its area and a grid point
(`location.public: false`). Contact is the event's public contact only; counts need a key with
events:counts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from api.errors import NotFound
from api.pagination import decode_cursor, encode_cursor
from api.services.api_keys import Partner, require_scope
from api.services.locations import location_for, place_of
from api.texts import choose_language, pick
from db.queries import orgs
from db.queries import partner_sync as q
from schemas.partners import (
    OsdiContact,
    OsdiEmbedded,
    OsdiEvent,
    OsdiEventLinks,
    OsdiEventPage,
    OsdiGeo,
    OsdiLink,
    OsdiLocation,
    OsdiPageLinks,
)

MEDIA_TYPE = "application/hal+json"
_STATUS = {"published": "confirmed", "postponed": "tentative", "cancelled": "cancelled"}


def _local(moment: datetime, timezone: str) -> str:
    try:
        return moment.astimezone(ZoneInfo(timezone)).isoformat()
    except (KeyError, ValueError):
        return moment.astimezone(UTC).isoformat()


def _location(row: asyncpg.Record) -> OsdiLocation | None:
    where = location_for(place_of(row, "venue"), exact_allowed=False)
    geo = None
    exact = where.precision == "exact"
    if where.lat is not None and where.lon is not None:
        geo = OsdiGeo(
            latitude=where.lat,
            longitude=where.lon,
            accuracy="Rooftop" if exact else "Approximate",
        )
    if where.name is None and where.address is None and where.area is None and geo is None:
        return None
    return OsdiLocation(
        public=exact,
        venue=where.name,
        address_lines=[where.address] if where.address else [],
        locality=where.area,
        location=geo,
    )


def osdi_events_of(
    row: asyncpg.Record,
    shifts: Sequence[asyncpg.Record],
    public_url: str,
    languages: Sequence[str],
    *,
    counts: bool,
) -> list[OsdiEvent]:
    """The OSDI events of one event: one per shift, or one for the whole event."""
    lang = choose_language(list(row["languages"]) or list(row["title"]), languages)
    title = pick(row["title"], lang)
    common: dict[str, Any] = {
        "origin_system": "Caravan",
        "description": pick(row["description"], lang),
        "summary": pick(row["summary"], lang),
        "browser_url": f"{public_url}/v1/events/{row['id']}",
        "type": "open",
        "status": _STATUS.get(row["status"], "confirmed"),
        "visibility": "public",
        "all_day": False,
        "location": _location(row),
        "contact": OsdiContact(additional_info=row["contact"]) if row["contact"] else None,
    }
    show_counts = counts and not row["hide_counts"]
    if not shifts:
        return [
            OsdiEvent(
                identifiers=[f"caravan:{row['id']}"],
                created_date=row["created_at"],
                modified_date=row["updated_at"],
                title=title,
                name=title,
                start_date=_local(row["starts_at"], row["timezone"]),
                end_date=_local(row["ends_at"], row["timezone"]),
                capacity=row["capacity"],
                total_accepted=row["places_taken"] if show_counts else None,
                links=OsdiEventLinks(self=OsdiLink(f"{public_url}/v1/osdi/events/{row['id']}")),
                **common,
            )
        ]
    result = []
    for shift in shifts:
        name = f"{title} — {pick(shift['name'], lang)}"
        result.append(
            OsdiEvent(
                identifiers=[f"caravan:{shift['id']}"],
                created_date=shift["created_at"],
                modified_date=max(shift["updated_at"], row["updated_at"]),
                title=name,
                name=name,
                start_date=_local(shift["starts_at"], row["timezone"]),
                end_date=_local(shift["ends_at"], row["timezone"]),
                capacity=shift["capacity"],
                total_accepted=shift["places_taken"] if show_counts else None,
                links=OsdiEventLinks(self=OsdiLink(f"{public_url}/v1/osdi/events/{shift['id']}")),
                **common,
            )
        )
    return result


def _scope(partner: Partner | None) -> tuple[UUID | None, bool]:
    """The org a key is limited to, and whether it sees counts; anonymous: everything public."""
    if partner is None:
        return None, False
    require_scope(partner, "events:read")
    return partner.org_id, "events:counts" in partner.scopes


async def _shifts_by_event(
    conn: asyncpg.Connection, rows: Sequence[asyncpg.Record]
) -> dict[UUID, list[asyncpg.Record]]:
    grouped: dict[UUID, list[asyncpg.Record]] = defaultdict(list)
    for shift in await q.select_shifts_of(conn, [r["id"] for r in rows]):
        grouped[shift["event_id"]].append(shift)
    return grouped


async def list_osdi_events(
    conn: asyncpg.Connection,
    partner: Partner | None,
    public_url: str,
    languages: Sequence[str],
    *,
    org_slug: str | None,
    cursor: str | None,
    limit: int,
) -> OsdiEventPage:
    """Upcoming public events (cancelled ones too) as OSDI events; `limit` counts events."""
    org_id, counts = _scope(partner)
    query: dict[str, Any] = {"limit": limit}
    if org_slug is not None:
        query["org"] = org_slug
        org = await orgs.select_org(conn, org_slug)
        if org is None or (org_id is not None and org["id"] != org_id):
            raise NotFound(
                f"No organization has the slug {org_slug!r}, or this key may not read it."
            )
        org_id = org["id"]
    after = decode_cursor(cursor, tuple[datetime, UUID])
    rows = await q.select_public_events(
        conn, org_id=org_id, ends_after=datetime.now(UTC), after=after, limit=limit + 1
    )
    page = rows[:limit]
    shifts = await _shifts_by_event(conn, page)
    items = [
        item
        for row in page
        for item in osdi_events_of(row, shifts[row["id"]], public_url, languages, counts=counts)
    ]
    base = f"{public_url}/v1/osdi/events"
    next_link = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = encode_cursor([last["starts_at"], last["id"]])
        next_link = OsdiLink(f"{base}?{urlencode({**query, 'cursor': next_cursor})}")
    links = OsdiPageLinks(
        self=OsdiLink(f"{base}?{urlencode({**query, **({'cursor': cursor} if cursor else {})})}"),
        next=next_link,
    )
    return OsdiEventPage(per_page=limit, links=links, embedded=OsdiEmbedded(events=items))


async def get_osdi_event(
    conn: asyncpg.Connection,
    partner: Partner | None,
    public_url: str,
    languages: Sequence[str],
    osdi_id: UUID,
) -> OsdiEvent:
    """One OSDI event by the id in its identifier: a shift's id, or an event's without shifts."""
    org_id, counts = _scope(partner)
    not_found = "No public OSDI event has this id (an event with shifts has one per shift)."
    shift_event = await q.select_shift_event_id(conn, osdi_id)
    rows = await q.select_public_events(
        conn,
        org_id=org_id,
        event_id=shift_event or osdi_id,
        ends_after=None,
        after=None,
        limit=1,
    )
    if not rows:
        raise NotFound(not_found)
    shifts = (await _shifts_by_event(conn, rows))[rows[0]["id"]]
    if shift_event is None and shifts:
        raise NotFound(not_found)
    for item in osdi_events_of(rows[0], shifts, public_url, languages, counts=counts):
        if item.identifiers[0] == f"caravan:{osdi_id}":
            return item
    raise NotFound(not_found)
