"""Helpers that read like prose: organizers create and open trips, people apply."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from tests.events_helpers import in_days
from tests.people import Person

MEETING_POINT = {
    "name": "Casa del Migrante",
    "address": "Calle Galileo 239, Tijuana",
    "lat": 32.5149,
    "lon": -117.0382,
}


def trip_body(**overrides: Any) -> dict[str, Any]:
    """A valid TripCreate: a 3-day delegation in 14 days, 12 places, meeting point protected."""
    starts = in_days(14, hour=15)
    body: dict[str, Any] = {
        "title": {"en": "Border delegation", "es": "Delegación fronteriza"},
        "summary": {"en": "Accompaniment in Tijuana"},
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(days=3)).isoformat(),
        "timezone": "America/Tijuana",
        "meeting_point": MEETING_POINT,
        "area": "Tijuana",
        "location_policy": "attendees",
        "capacity": 12,
        "cost": {"amount": "350", "currency": "USD", "scholarships_available": True},
        "requirements": [{"en": "Passport needed", "es": "Se necesita pasaporte"}],
    }
    for key, value in overrides.items():
        body[key] = value.isoformat() if isinstance(value, datetime) else value
    return body


async def create_trip(
    client: httpx.AsyncClient, org: dict[str, Any], by: Person, **overrides: Any
) -> dict[str, Any]:
    """Create a draft trip under `org` as `by` (an organizer); the Trip JSON."""
    response = await client.post(
        f"/v1/orgs/{org['slug']}/trips", json=trip_body(**overrides), headers=by.headers
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def open_trip(client: httpx.AsyncClient, trip: dict[str, Any], by: Person) -> dict[str, Any]:
    response = await client.post(f"/v1/trips/{trip['id']}/open", headers=by.headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def open_trip_for(
    client: httpx.AsyncClient, org: dict[str, Any], by: Person, **overrides: Any
) -> dict[str, Any]:
    """Create a trip and open it for applications."""
    return await open_trip(client, await create_trip(client, org, by, **overrides), by)


async def apply(
    client: httpx.AsyncClient, trip: dict[str, Any], who: Person, **body: Any
) -> dict[str, Any]:
    """`who` applies (as a participant unless told); the Application JSON."""
    body.setdefault("roles", ["participant"])
    response = await client.post(
        f"/v1/trips/{trip['id']}/applications", json=body, headers=who.headers
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def decide(
    client: httpx.AsyncClient, application: dict[str, Any], action: str, by: Person
) -> httpx.Response:
    """POST /v1/trip-applications/{id}/{action} as `by`."""
    return await client.post(
        f"/v1/trip-applications/{application['id']}/{action}", headers=by.headers
    )


async def accepted(
    client: httpx.AsyncClient, trip: dict[str, Any], who: Person, by: Person, **body: Any
) -> dict[str, Any]:
    """`who` applies and `by` accepts them; the accepted Application JSON."""
    application = await apply(client, trip, who, **body)
    response = await decide(client, application, "accept", by)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def add_item(
    client: httpx.AsyncClient, trip: dict[str, Any], by: Person, **overrides: Any
) -> dict[str, Any]:
    """Append an itinerary item (a briefing on the first afternoon unless told)."""
    starts = datetime.fromisoformat(trip["starts_at"])
    body: dict[str, Any] = {
        "kind": "briefing",
        "title": {"en": "Briefing", "es": "Reunión informativa"},
        "starts_at": (starts + timedelta(hours=1)).isoformat(),
        "ends_at": (starts + timedelta(hours=2)).isoformat(),
        "visibility": "everyone",
    }
    for key, value in overrides.items():
        body[key] = value.isoformat() if isinstance(value, datetime) else value
    response = await client.post(f"/v1/trips/{trip['id']}/itinerary", json=body, headers=by.headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]
