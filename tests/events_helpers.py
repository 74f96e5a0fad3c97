"""Helpers that read like prose: organizers create and publish events through the API."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from tests.people import Person


def in_days(days: float, hour: int = 17) -> datetime:
    """A moment `days` from now at a round hour (UTC), for readable event times."""
    return (datetime.now(UTC) + timedelta(days=days)).replace(
        hour=hour, minute=0, second=0, microsecond=0
    )


def event_body(**overrides: Any) -> dict[str, Any]:
    """A valid EventCreate: a public rally in Tijuana in 7 days, 2 hours long."""
    starts = in_days(7)
    body: dict[str, Any] = {
        "kind": "rally",
        "title": {"en": "Rally", "es": "Marcha"},
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=2)).isoformat(),
        "timezone": "America/Tijuana",
        "venue": {
            "name": "Plaza Santa Cecilia",
            "address": "Av. Revolución 1, Zona Centro",
            "lat": 32.5332,
            "lon": -117.0382,
        },
        "area": "Downtown Tijuana",
        "visibility": "public",
        "location_policy": "public",
        "capacity": None,
    }
    for key, value in overrides.items():
        body[key] = value.isoformat() if isinstance(value, datetime) else value
    return body


async def create_event(
    client: httpx.AsyncClient, org: dict[str, Any], by: Person, **overrides: Any
) -> dict[str, Any]:
    """Create a draft event under `org` as `by` (an organizer); returns the Event JSON."""
    response = await client.post(
        f"/v1/orgs/{org['slug']}/events", json=event_body(**overrides), headers=by.headers
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def publish_event(
    client: httpx.AsyncClient, event: dict[str, Any], by: Person
) -> dict[str, Any]:
    response = await client.post(f"/v1/events/{event['id']}/publish", headers=by.headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def published_event(
    client: httpx.AsyncClient, org: dict[str, Any], by: Person, **overrides: Any
) -> dict[str, Any]:
    """Create and publish an event; the published Event JSON (share_url kept if private)."""
    created = await create_event(client, org, by, **overrides)
    published = await publish_event(client, created, by)
    if created.get("share_url"):
        published["share_url"] = created["share_url"]
    return published


async def add_rsvp(
    conn: asyncpg.Connection,
    event: dict[str, Any],
    account: Person | None = None,
    *,
    status: str = "going",
    guests: int = 0,
    alias: str = "Guest",
    language_needs: list[str] | None = None,
) -> UUID:
    """Write an event RSVP straight to the database and move the event's counters with it."""
    rsvp_id: UUID = await conn.fetchval(
        """
        INSERT INTO rsvps (event_id, org_id, account_id, alias, status, guests, language_needs,
                           manage_token_hash)
        SELECT e.id, e.org_id, $2, $3, $4, $5, $6, $7 FROM events e WHERE e.id = $1
        RETURNING id
        """,
        UUID(event["id"]),
        UUID(account.id) if account else None,
        alias,
        status,
        guests,
        language_needs or [],
        os.urandom(32),
    )
    column = {"going": "places_taken", "waitlisted": "places_waitlisted"}.get(status)
    if column:
        await conn.execute(
            f"UPDATE events SET {column} = {column} + $2 WHERE id = $1",
            UUID(event["id"]),
            1 + guests,
        )
    return rsvp_id
