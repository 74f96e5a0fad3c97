"""Helpers that read like prose for feed tests: fetch a feed, subscribe, RSVP, sign up."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from tests.calendar_parsers import unfolded_lines, vevents
from tests.people import Person


async def feed(client: httpx.AsyncClient, path: str, **headers: str) -> bytes:
    """GET a feed that must answer 200 as text/calendar; its bytes."""
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    return response.content


async def subscribe(client: httpx.AsyncClient, who: Person, label: str | None = None) -> str:
    """`who` creates a personal feed token; the feed's path."""
    body = {"label": label} if label else None
    response = await client.post("/v1/me/feed-tokens", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    return f"/v1/feeds/{response.json()['token']}/calendar.ics"


async def rsvp(
    client: httpx.AsyncClient,
    event: dict[str, Any],
    who: Person | None,
    alias: str,
    **body: Any,
) -> dict[str, Any]:
    """RSVP through the API (as `who`, or without an account); the RsvpCreated JSON."""
    response = await client.post(
        f"/v1/events/{event['id']}/rsvps",
        json={"alias": alias, **body},
        headers=who.headers if who else {},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def add_shift(
    client: httpx.AsyncClient, event: dict[str, Any], by: Person, **overrides: Any
) -> dict[str, Any]:
    starts = datetime.fromisoformat(event["starts_at"])
    body: dict[str, Any] = {
        "name": {"en": "Legal observer", "es": "Observador legal"},
        "role": "legal_observer",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=1)).isoformat(),
    }
    body.update(overrides)
    response = await client.post(f"/v1/events/{event['id']}/shifts", json=body, headers=by.headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def backdate(conn: asyncpg.Connection, table: str, row_id: str, hours: float = 1) -> None:
    """Move a row's updated_at into the past: every request of a test shares one transaction,
    so now() does not move between them."""
    assert table in ("orgs", "events", "trips", "itinerary_items", "shifts", "ride_offers", "rsvps")
    await conn.execute(
        f"UPDATE {table} SET updated_at = updated_at - $2::interval WHERE id = $1",
        UUID(row_id),
        timedelta(hours=hours),
    )


def props(body: bytes, uid: str) -> dict[str, str]:
    """The unfolded property lines of one VEVENT, by name (parameters dropped)."""
    lines = unfolded_lines(body)
    start = lines.index(f"UID:{uid}") - 1
    end = lines.index("END:VEVENT", start)
    found: dict[str, str] = {}
    for line in lines[start + 1 : end]:
        name, _, value = line.partition(":")
        found[name.split(";")[0]] = value
    return found


def uids(body: bytes) -> set[str]:
    return set(vevents(body))


def event_uid(event: dict[str, Any]) -> str:
    return f"event-{event['id']}@caravan"
