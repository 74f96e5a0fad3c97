"""The OSDI view: HAL+JSON `osdi:events`, one per shift, locations and contact as the public sees."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.events_helpers import published_event
from tests.people import create_org, sign_up
from tests.problems import assert_problem
from tests.test_partner_helpers import (
    as_key,
    assert_no_personal_data,
    issue_key,
    rsvp_with_personal_data,
)

OSDI_STATUSES = {"confirmed", "tentative", "cancelled"}


def assert_osdi_event(item: dict[str, Any]) -> None:
    """The shape an OSDI consumer relies on."""
    assert isinstance(item["identifiers"], list) and item["identifiers"]
    assert all(i.startswith("caravan:") for i in item["identifiers"])
    assert item["origin_system"] == "Caravan"
    assert item["type"] == "open" and item["visibility"] == "public"
    assert item["status"] in OSDI_STATUSES
    for field in ("title", "name", "browser_url", "created_date", "modified_date"):
        assert isinstance(item[field], str) and item[field]
    start = datetime.fromisoformat(item["start_date"])
    end = datetime.fromisoformat(item["end_date"])
    assert start.utcoffset() is not None and end > start
    assert item["_links"]["self"]["href"].endswith(item["identifiers"][0].split(":", 1)[1])
    if "location" in item:
        assert isinstance(item["location"]["public"], bool)
    if "contact" in item:
        assert item["contact"]["public"] is True


def assert_hal_page(body: dict[str, Any]) -> list[dict[str, Any]]:
    assert set(body) == {"per_page", "_links", "_embedded"}
    assert body["_links"]["self"]["href"]
    items = body["_embedded"]["osdi:events"]
    for item in items:
        assert_osdi_event(item)
    return items  # type: ignore[no-any-return]


async def add_shift(client, event, by, name: str, hours: int) -> dict[str, Any]:
    starts = datetime.fromisoformat(event["starts_at"]) + timedelta(hours=hours)
    response = await client.post(
        f"/v1/events/{event['id']}/shifts",
        json={
            "name": {"en": name},
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=1)).isoformat(),
            "capacity": 5,
        },
        headers=by.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_one_osdi_event_per_shift_and_one_for_an_event_without_shifts(client):
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    single = await published_event(client, org, owner, contact="info@frontera.example")
    shifted = await published_event(client, org, owner, title={"en": "Vigil"})
    marshal = await add_shift(client, shifted, owner, "Marshal", 0)
    medic = await add_shift(client, shifted, owner, "Medic", 1)
    await published_event(client, org, owner, visibility="members")

    response = await client.get("/v1/osdi/events", params={"org": org["slug"]})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/hal+json")
    items = assert_hal_page(response.json())
    identifiers = [i["identifiers"][0] for i in items]
    assert sorted(identifiers) == sorted(
        [f"caravan:{single['id']}", f"caravan:{marshal['id']}", f"caravan:{medic['id']}"]
    )
    by_id = {i["identifiers"][0]: i for i in items}
    assert by_id[f"caravan:{marshal['id']}"]["title"] == "Vigil — Marshal"
    assert by_id[f"caravan:{marshal['id']}"]["capacity"] == 5
    assert "total_accepted" not in by_id[f"caravan:{marshal['id']}"]
    assert by_id[f"caravan:{single['id']}"]["contact"] == {
        "additional_info": "info@frontera.example",
        "public": True,
    }
    location = by_id[f"caravan:{single['id']}"]["location"]
    assert location["public"] is True and location["venue"] == "Plaza Santa Cecilia"
    assert location["location"]["accuracy"] == "Rooftop"

    one = await client.get(f"/v1/osdi/events/{medic['id']}")
    assert one.status_code == 200 and one.json()["identifiers"] == [f"caravan:{medic['id']}"]
    assert_osdi_event(one.json())
    whole = await client.get(f"/v1/osdi/events/{single['id']}")
    assert whole.json()["identifiers"] == [f"caravan:{single['id']}"]
    assert_problem(await client.get(f"/v1/osdi/events/{shifted['id']}"), 404, "not-found")


async def test_status_and_protected_locations_follow_the_rules(client):
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    hidden = await published_event(client, org, owner, location_policy="attendees")
    cancelled = await published_event(client, org, owner)
    await client.post(
        f"/v1/events/{cancelled['id']}/cancel", json={"reason": "Storm"}, headers=owner.headers
    )
    postponed = await published_event(client, org, owner)
    await client.post(f"/v1/events/{postponed['id']}/postpone", headers=owner.headers)
    response = await client.get("/v1/osdi/events", params={"org": org["slug"]})
    by_id = {i["identifiers"][0]: i for i in assert_hal_page(response.json())}
    assert by_id[f"caravan:{cancelled['id']}"]["status"] == "cancelled"
    assert by_id[f"caravan:{postponed['id']}"]["status"] == "tentative"
    protected = by_id[f"caravan:{hidden['id']}"]["location"]
    assert protected["public"] is False
    assert protected["locality"] == "Downtown Tijuana"
    assert "venue" not in protected and "address_lines" not in protected
    assert protected["location"]["accuracy"] == "Approximate"
    text = str(by_id[f"caravan:{hidden['id']}"])
    assert "Santa Cecilia" not in text and "Revolución" not in text


async def test_keys_see_their_org_and_counts_only_with_the_counts_scope(client):
    owner = await sign_up(client, "Owner")
    org, other = await create_org(client, owner), await create_org(client, owner)
    mine = await published_event(client, org, owner, capacity=10)
    await published_event(client, other, owner)
    await rsvp_with_personal_data(client, mine)
    counter = await issue_key(client, org, owner, "events:read", "events:counts")
    reader = await issue_key(client, org, owner, "events:read")

    counted = await client.get("/v1/osdi/events", headers=as_key(counter))
    items = assert_hal_page(counted.json())
    assert [i["identifiers"][0] for i in items] == [f"caravan:{mine['id']}"]
    assert items[0]["total_accepted"] == 2
    assert counted.headers["ratelimit-remaining"]
    plain = assert_hal_page((await client.get("/v1/osdi/events", headers=as_key(reader))).json())
    assert "total_accepted" not in plain[0]
    for response in (counted, await client.get("/v1/osdi/events")):
        assert_no_personal_data(response.text)
    refused = await client.get(
        "/v1/osdi/events", params={"org": other["slug"]}, headers=as_key(reader)
    )
    assert_problem(refused, 404, "not-found")


async def test_pages_link_to_the_next_one(client):
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    for _ in range(3):
        await published_event(client, org, owner)
    first = (await client.get("/v1/osdi/events", params={"org": org["slug"], "limit": 2})).json()
    assert len(first["_embedded"]["osdi:events"]) == 2 and first["per_page"] == 2
    href = first["_links"]["next"]["href"]
    path = href[href.index("/v1/") :]
    second = (await client.get(path)).json()
    assert len(second["_embedded"]["osdi:events"]) == 1 and "next" not in second["_links"]
