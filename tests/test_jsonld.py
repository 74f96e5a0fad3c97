"""schema.org Event JSON-LD for `GET /v1/events/{id}` with `Accept: application/ld+json`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.events_helpers import published_event
from tests.people import create_org, sign_up
from tests.problems import assert_problem
from tests.test_partner_helpers import assert_no_personal_data, rsvp_with_personal_data

LD = {"Accept": "application/ld+json"}
SCHEMA = "https://schema.org/"
STATUSES = {
    "EventScheduled",
    "EventCancelled",
    "EventPostponed",
    "EventRescheduled",
    "EventMovedOnline",
}
MODES = {"OfflineEventAttendanceMode", "OnlineEventAttendanceMode", "MixedEventAttendanceMode"}


def assert_event_shape(doc: dict[str, Any]) -> None:
    """What Google's and schema.org's Event guidance requires of each document."""
    assert doc["@context"] == "https://schema.org" and doc["@type"] == "Event"
    assert doc["name"] and doc["url"].endswith(doc["identifier"])
    start, end = datetime.fromisoformat(doc["startDate"]), datetime.fromisoformat(doc["endDate"])
    assert start.utcoffset() is not None and end.utcoffset() is not None and end > start
    assert doc["eventStatus"].removeprefix(SCHEMA) in STATUSES
    assert doc["eventAttendanceMode"].removeprefix(SCHEMA) in MODES
    locations = doc["location"] if isinstance(doc["location"], list) else [doc["location"]]
    for location in locations:
        assert location["@type"] in ("Place", "VirtualLocation")
        if location["@type"] == "Place":
            assert location["address"]["@type"] == "PostalAddress"
        else:
            assert location["url"].startswith("http")
    organizers = doc["organizer"] if isinstance(doc["organizer"], list) else [doc["organizer"]]
    assert all(o["@type"] == "Organization" and o["name"] and o["url"] for o in organizers)
    assert doc["inLanguage"]


async def jsonld(client, event_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = await client.get(f"/v1/events/{event_id}", headers={**LD, **(headers or {})})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/ld+json")
    assert "accept" in response.headers["vary"].lower()
    doc = response.json()
    assert_event_shape(doc)
    return doc  # type: ignore[no-any-return]


async def test_a_public_event_as_schema_org(client):
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    event = await published_event(client, org, owner, capacity=40, languages=["es", "en"])
    doc = await jsonld(client, event["id"])
    assert doc["eventStatus"] == SCHEMA + "EventScheduled"
    assert doc["eventAttendanceMode"] == SCHEMA + "OfflineEventAttendanceMode"
    assert doc["location"]["name"] == "Plaza Santa Cecilia"
    assert doc["location"]["address"]["streetAddress"] == "Av. Revolución 1, Zona Centro"
    assert doc["location"]["geo"]["latitude"] == 32.5332
    assert doc["organizer"]["name"] == org["name"]
    assert doc["inLanguage"] == ["es", "en"]
    assert doc["maximumAttendeeCapacity"] == 40
    start = datetime.fromisoformat(doc["startDate"])
    assert start == datetime.fromisoformat(event["starts_at"])
    assert start.utcoffset() in (timedelta(hours=-8), timedelta(hours=-7))  # Tijuana's offset
    plain = await client.get(f"/v1/events/{event['id']}")
    assert plain.headers["content-type"].startswith("application/json")
    assert plain.json()["id"] == event["id"] and "@context" not in plain.json()
    both = await client.get(
        f"/v1/events/{event['id']}",
        headers={"Accept": "application/json, application/ld+json;q=0.5"},
    )
    assert both.headers["content-type"].startswith("application/json")


async def test_a_protected_location_is_only_its_area(client):
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    event = await published_event(client, org, owner, location_policy="attendees")
    doc = await jsonld(client, event["id"])
    assert doc["location"] == {
        "@type": "Place",
        "name": "Downtown Tijuana",
        "address": {"@type": "PostalAddress", "addressLocality": "Downtown Tijuana"},
    }
    organizer = await jsonld(client, event["id"], owner.headers)
    assert organizer["location"]["address"]["streetAddress"] == "Av. Revolución 1, Zona Centro"


async def test_lifecycle_statuses(client):
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    cancelled = await published_event(client, org, owner)
    await client.post(
        f"/v1/events/{cancelled['id']}/cancel", json={"reason": "Storm"}, headers=owner.headers
    )
    doc = await jsonld(client, cancelled["id"])
    assert doc["eventStatus"] == SCHEMA + "EventCancelled"
    assert doc["startDate"]  # a cancelled event keeps its date

    postponed = await published_event(client, org, owner)
    await client.post(f"/v1/events/{postponed['id']}/postpone", headers=owner.headers)
    assert (await jsonld(client, postponed["id"]))["eventStatus"] == SCHEMA + "EventPostponed"

    moved = await published_event(client, org, owner)
    later = datetime.fromisoformat(moved["starts_at"]) + timedelta(days=1)
    await client.patch(
        f"/v1/events/{moved['id']}",
        json={"starts_at": later.isoformat(), "ends_at": (later + timedelta(hours=2)).isoformat()},
        headers=owner.headers,
    )
    doc = await jsonld(client, moved["id"])
    assert doc["eventStatus"] == SCHEMA + "EventRescheduled"
    assert datetime.fromisoformat(doc["previousStartDate"]) == datetime.fromisoformat(
        moved["starts_at"]
    )

    online = await published_event(client, org, owner)
    changed = await client.patch(
        f"/v1/events/{online['id']}",
        json={"venue": None, "area": None, "virtual_url": "https://meet.example/vigil"},
        headers=owner.headers,
    )
    assert changed.status_code == 200, changed.text
    doc = await jsonld(client, online["id"])
    assert doc["eventStatus"] == SCHEMA + "EventMovedOnline"
    assert doc["eventAttendanceMode"] == SCHEMA + "OnlineEventAttendanceMode"
    assert doc["location"] == {"@type": "VirtualLocation", "url": "https://meet.example/vigil"}


async def test_jsonld_follows_visibility_and_carries_no_personal_data(client):
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    event = await published_event(client, org, owner)
    await rsvp_with_personal_data(client, event)
    response = await client.get(f"/v1/events/{event['id']}", headers=LD)
    assert_no_personal_data(response.text)
    members = await published_event(client, org, owner, visibility="members")
    assert_problem(await client.get(f"/v1/events/{members['id']}", headers=LD), 404)
