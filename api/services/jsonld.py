"""schema.org `Event` JSON-LD for an event, as the caller may see it (`Accept: application/ld+json`).

Built from the same Event view the JSON answer uses, so the location is exactly as precise as
the caller may know it: a protected venue becomes a `Place` named by its area only. Times carry
the event's local offset; status follows the lifecycle (cancelled → EventCancelled, postponed →
EventPostponed, moved online → EventMovedOnline, new times → EventRescheduled).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from api.negotiation import accept_weights
from db.queries import partner_sync
from schemas.events import Event

MEDIA_TYPE = "application/ld+json"
_SCHEMA = "https://schema.org/"


def wants_jsonld(accept: str | None) -> bool:
    """Whether the Accept header prefers JSON-LD to plain JSON."""
    if not accept:
        return False
    best = accept_weights(accept)
    ld = best.get(MEDIA_TYPE, 0.0)
    return ld > 0 and ld >= best.get("application/json", 0.0)


def _local(moment: datetime, timezone: str) -> str:
    try:
        return moment.astimezone(ZoneInfo(timezone)).isoformat()
    except (KeyError, ValueError):
        return moment.astimezone(UTC).isoformat()


def _status(event: Event, facts: asyncpg.Record) -> str:
    if event.status == "cancelled":
        return "EventCancelled"
    if event.status == "postponed":
        return "EventPostponed"
    if facts["moved_online_at"] is not None:
        return "EventMovedOnline"
    if facts["previous_starts_at"] is not None:
        return "EventRescheduled"
    return "EventScheduled"


def _place(event: Event) -> dict[str, Any]:
    where = event.location
    if where.precision == "exact":
        address: dict[str, Any] = {"@type": "PostalAddress"}
        if where.address:
            address["streetAddress"] = where.address
        if where.area:
            address["addressLocality"] = where.area
        place: dict[str, Any] = {
            "@type": "Place",
            "name": where.name or where.area or where.address or "",
            "address": address,
        }
        if where.lat is not None and where.lon is not None:
            place["geo"] = {
                "@type": "GeoCoordinates",
                "latitude": where.lat,
                "longitude": where.lon,
            }
        return place
    # hidden by the location policy: the area only, never the venue or its coordinates
    return {
        "@type": "Place",
        "name": where.area or "",
        "address": {"@type": "PostalAddress", "addressLocality": where.area or ""},
    }


def event_jsonld(event: Event, facts: asyncpg.Record, public_url: str) -> dict[str, Any]:
    """The schema.org Event for this view of the event."""
    url = f"{public_url}/v1/events/{event.id}"
    locations: list[dict[str, Any]] = []
    if facts["has_place"]:
        locations.append(_place(event))
    if facts["has_virtual"]:
        # the join link only when this caller may see it; else the event's own page
        locations.append({"@type": "VirtualLocation", "url": event.location.virtual_url or url})
    mode = (
        "MixedEventAttendanceMode"
        if facts["has_place"] and facts["has_virtual"]
        else "OnlineEventAttendanceMode"
        if facts["has_virtual"]
        else "OfflineEventAttendanceMode"
    )
    hosts = [{"slug": facts["org_slug"], "name": facts["org_name"]}, *facts["cohosts"]]
    organizers = [
        {"@type": "Organization", "name": h["name"], "url": f"{public_url}/v1/orgs/{h['slug']}"}
        for h in hosts
    ]
    document: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Event",
        "@id": url,
        "identifier": str(event.id),
        "url": url,
        "name": event.display.title,
        "description": event.display.description or event.display.summary,
        "startDate": _local(event.starts_at, event.timezone),
        "endDate": _local(event.ends_at, event.timezone),
        "eventStatus": _SCHEMA + _status(event, facts),
        "eventAttendanceMode": _SCHEMA + mode,
        "organizer": organizers[0] if len(organizers) == 1 else organizers,
        "inLanguage": event.languages[0] if len(event.languages) == 1 else event.languages,
        "dateModified": event.updated_at.astimezone(UTC).isoformat(),
    }
    if locations:
        document["location"] = locations[0] if len(locations) == 1 else locations
    if facts["previous_starts_at"] is not None and event.status != "cancelled":
        document["previousStartDate"] = _local(facts["previous_starts_at"], event.timezone)
    if event.capacity is not None:
        document["maximumAttendeeCapacity"] = event.capacity
    if event.tags:
        document["keywords"] = ", ".join(event.tags)
    return document


async def event_jsonld_for(
    conn: asyncpg.Connection, event: Event, public_url: str
) -> dict[str, Any] | None:
    """JSON-LD for an Event view the caller was allowed to read; None if it vanished meanwhile."""
    facts = await partner_sync.select_jsonld_facts(conn, event.id)
    return None if facts is None else event_jsonld(event, facts, public_url)
