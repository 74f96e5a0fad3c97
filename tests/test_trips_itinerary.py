"""Itineraries: order, per-item visibility, protected places, sequences and bad input."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from tests.people import Person, create_org, join, sign_up
from tests.problems import assert_problem
from tests.trips_helpers import accepted, add_item, apply, create_trip, open_trip_for

SHELTER = {
    "name": "Albergue Juventud 2000",
    "address": "Calle Secreta 12, Zona Norte",
    "lat": 32.5371,
    "lon": -117.0453,
}


async def _itinerary(client: httpx.AsyncClient, trip: dict[str, Any], who: Person | None) -> Any:
    response = await client.get(
        f"/v1/trips/{trip['id']}/itinerary", headers=who.headers if who else {}
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_items_keep_their_order_and_each_change_bumps_both_sequences(
    client: httpx.AsyncClient,
) -> None:
    owner = await sign_up(client)
    org = await create_org(client, owner)
    trip = await open_trip_for(client, org, owner)
    starts = datetime.fromisoformat(trip["starts_at"])
    first = await add_item(client, trip, owner, kind="travel", title={"en": "Drive south"})
    second = await add_item(
        client,
        trip,
        owner,
        kind="meal",
        title={"en": "Dinner"},
        starts_at=starts + timedelta(hours=5),
        ends_at=starts + timedelta(hours=6),
    )
    assert (first["position"], second["position"]) == (1, 2)
    assert first["sequence"] == 0
    after_adds = (await client.get(f"/v1/trips/{trip['id']}")).json()["sequence"]
    assert after_adds == trip["sequence"] + 2

    patched = await client.patch(
        f"/v1/trips/{trip['id']}/itinerary/{first['id']}",
        json={"notes": {"en": "Bring water"}},
        headers=owner.headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["sequence"] == 1
    assert patched.json()["display"]["notes"] == "Bring water"
    trip_seq = (await client.get(f"/v1/trips/{trip['id']}")).json()["sequence"]
    assert trip_seq == after_adds + 1

    reordered = await client.post(
        f"/v1/trips/{trip['id']}/itinerary/order",
        json={"item_ids": [second["id"], first["id"]]},
        headers=owner.headers,
    )
    assert reordered.status_code == 200, reordered.text
    items = reordered.json()["items"]
    assert [i["id"] for i in items] == [second["id"], first["id"]]
    assert [i["position"] for i in items] == [1, 2]
    assert [i["sequence"] for i in items] == [1, 2]
    assert reordered.json()["trip_sequence"] == trip_seq + 1

    # the same order again changes nothing
    again = await client.post(
        f"/v1/trips/{trip['id']}/itinerary/order",
        json={"item_ids": [second["id"], first["id"]]},
        headers=owner.headers,
    )
    assert again.json()["trip_sequence"] == trip_seq + 1

    deleted = await client.delete(
        f"/v1/trips/{trip['id']}/itinerary/{second['id']}", headers=owner.headers
    )
    assert deleted.status_code == 204
    left = await _itinerary(client, trip, None)
    assert [(i["id"], i["position"]) for i in left["items"]] == [(first["id"], 1)]
    assert left["trip_sequence"] == trip_seq + 2


async def test_participant_only_items_and_exact_places_are_for_accepted_participants(
    client: httpx.AsyncClient,
) -> None:
    owner = await sign_up(client, "Organizer")
    member = await sign_up(client, "Member")
    ana = await sign_up(client, "Ana")  # accepted
    ben = await sign_up(client, "Ben")  # applied, not accepted
    cai = await sign_up(client, "Cai")  # waitlisted
    org = await create_org(client, owner)
    await join(client, org, owner, member, "member")
    trip = await open_trip_for(client, org, owner)
    public_item = await add_item(
        client,
        trip,
        owner,
        kind="activity",
        title={"en": "Court watch"},
        place={
            "name": "Federal court",
            "address": "Av. Independencia 1",
            "lat": 32.52,
            "lon": -117.02,
        },
        area="Zona Río",
    )
    hidden_item = await add_item(
        client,
        trip,
        owner,
        kind="lodging",
        title={"en": "Shelter"},
        place=SHELTER,
        area="Zona Norte",
        visibility="participants",
    )
    await accepted(client, trip, ana, owner)
    await apply(client, trip, ben)
    waitlisted = await apply(client, trip, cai)
    assert (
        await client.post(
            f"/v1/trip-applications/{waitlisted['id']}/waitlist", headers=owner.headers
        )
    ).status_code == 200

    for outsider in (None, member, ben, cai):
        seen = await _itinerary(client, trip, outsider)
        assert [i["id"] for i in seen["items"]] == [public_item["id"]], outsider
        location = seen["items"][0]["location"]
        assert location["precision"] == "area"
        assert location["name"] is None and location["address"] is None
        assert location["area"] == "Zona Río"
        assert (location["lat"], location["lon"]) == (32.5, -117.0)
        text = (
            await client.get(
                f"/v1/trips/{trip['id']}/itinerary", headers=outsider.headers if outsider else {}
            )
        ).text
        assert "Secreta" not in text and "Albergue" not in text and "Independencia" not in text
        meeting = (
            await client.get(
                f"/v1/trips/{trip['id']}", headers=outsider.headers if outsider else {}
            )
        ).json()["location"]
        assert meeting["precision"] == "area" and meeting["address"] is None

    for insider in (ana, owner):
        seen = await _itinerary(client, trip, insider)
        assert [i["id"] for i in seen["items"]] == [public_item["id"], hidden_item["id"]]
        shelter = seen["items"][1]
        assert shelter["location"]["precision"] == "exact"
        assert shelter["location"]["address"] == SHELTER["address"]
        assert shelter["visibility"] == "participants"
        meeting = (await client.get(f"/v1/trips/{trip['id']}", headers=insider.headers)).json()
        assert meeting["location"]["precision"] == "exact"
        assert meeting["location"]["name"] == "Casa del Migrante"


async def test_public_policy_shows_every_place_but_still_hides_participant_only_items(
    client: httpx.AsyncClient,
) -> None:
    owner = await sign_up(client)
    org = await create_org(client, owner)
    trip = await open_trip_for(client, org, owner, location_policy="public")
    await add_item(client, trip, owner, place=SHELTER, visibility="everyone")
    await add_item(client, trip, owner, title={"en": "Hotel"}, visibility="participants")
    seen = await _itinerary(client, trip, None)
    assert len(seen["items"]) == 1
    assert seen["items"][0]["location"]["address"] == SHELTER["address"]
    assert (await client.get(f"/v1/trips/{trip['id']}")).json()["location"]["precision"] == "exact"


async def test_switching_a_public_trip_to_protected_hides_places_again(
    client: httpx.AsyncClient,
) -> None:
    owner = await sign_up(client)
    org = await create_org(client, owner)
    trip = await open_trip_for(client, org, owner, location_policy="public")
    await add_item(client, trip, owner, place=SHELTER, area="Zona Norte")
    await client.patch(
        f"/v1/trips/{trip['id']}", json={"location_policy": "attendees"}, headers=owner.headers
    )
    seen = await _itinerary(client, trip, None)
    location = seen["items"][0]["location"]
    assert location["precision"] == "area"
    assert (location["lat"], location["lon"]) == (32.55, -117.05)
    meeting = (await client.get(f"/v1/trips/{trip['id']}")).json()["location"]
    assert (meeting["lat"], meeting["lon"]) == (32.5, -117.05)


async def test_reveal_at_shows_exact_places_to_participants_only_from_that_time(
    client: httpx.AsyncClient,
) -> None:
    owner = await sign_up(client)
    ana = await sign_up(client, "Ana")
    org = await create_org(client, owner)
    trip = await open_trip_for(
        client,
        org,
        owner,
        location_policy="reveal_at",
        reveal_at=(datetime.now().astimezone() + timedelta(days=3)).isoformat(),
    )
    await add_item(client, trip, owner, place=SHELTER, area="Zona Norte")
    await accepted(client, trip, ana, owner)
    before = await _itinerary(client, trip, ana)
    assert before["items"][0]["location"]["precision"] == "area"
    past = (datetime.now().astimezone() - timedelta(minutes=1)).isoformat()
    await client.patch(f"/v1/trips/{trip['id']}", json={"reveal_at": past}, headers=owner.headers)
    after = await _itinerary(client, trip, ana)
    assert after["items"][0]["location"]["address"] == SHELTER["address"]


async def test_items_outside_the_trips_dates_are_422s(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    org = await create_org(client, owner)
    trip = await create_trip(client, org, owner)
    starts = datetime.fromisoformat(trip["starts_at"])
    ends = datetime.fromisoformat(trip["ends_at"])
    url = f"/v1/trips/{trip['id']}/itinerary"
    body: dict[str, Any] = {"kind": "travel", "title": {"en": "Early bus"}}
    too_early = {
        **body,
        "starts_at": (starts - timedelta(hours=2)).isoformat(),
        "ends_at": (starts + timedelta(hours=1)).isoformat(),
    }
    assert_problem(
        await client.post(url, json=too_early, headers=owner.headers),
        422,
        "rule-violation",
        pointer="#/starts_at",
    )
    too_late = {
        **body,
        "starts_at": (ends - timedelta(hours=1)).isoformat(),
        "ends_at": (ends + timedelta(hours=1)).isoformat(),
    }
    assert_problem(
        await client.post(url, json=too_late, headers=owner.headers),
        422,
        "rule-violation",
        pointer="#/ends_at",
    )
    backwards = {
        **body,
        "starts_at": (starts + timedelta(hours=3)).isoformat(),
        "ends_at": (starts + timedelta(hours=2)).isoformat(),
    }
    assert_problem(
        await client.post(url, json=backwards, headers=owner.headers),
        422,
        "rule-violation",
        pointer="#/ends_at",
    )
    item = await add_item(client, trip, owner)
    moved_out = await client.patch(
        f"{url}/{item['id']}",
        json={"ends_at": (ends + timedelta(days=1)).isoformat()},
        headers=owner.headers,
    )
    assert_problem(moved_out, 422, "rule-violation", pointer="#/ends_at")
    half_point = await client.patch(
        f"{url}/{item['id']}", json={"place": {"name": "x", "lon": 1.0}}, headers=owner.headers
    )
    assert_problem(half_point, 422, "rule-violation", pointer="#/place/lat")
    assert_problem(
        await client.post(url, json={**body, "kind": "party"}, headers=owner.headers),
        400,
        "invalid-request",
    )


async def test_reorder_must_list_every_item_once(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    org = await create_org(client, owner)
    trip = await create_trip(client, org, owner)
    a = await add_item(client, trip, owner)
    b = await add_item(client, trip, owner)
    url = f"/v1/trips/{trip['id']}/itinerary/order"
    for ids in ([a["id"]], [a["id"], a["id"]], [a["id"], b["id"], a["id"]]):
        assert_problem(
            await client.post(url, json={"item_ids": ids}, headers=owner.headers),
            422,
            "rule-violation",
            pointer="#/item_ids",
        )
    other = await add_item(client, await create_trip(client, org, owner), owner)
    assert_problem(
        await client.post(url, json={"item_ids": [a["id"], other["id"]]}, headers=owner.headers),
        422,
        "rule-violation",
    )


async def test_only_organizers_change_the_itinerary(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    ana = await sign_up(client, "Ana")
    org = await create_org(client, owner)
    trip = await open_trip_for(client, org, owner)
    item = await add_item(client, trip, owner)
    await accepted(client, trip, ana, owner)
    url = f"/v1/trips/{trip['id']}/itinerary"
    body = {
        "kind": "free",
        "title": {"en": "Rest"},
        "starts_at": item["starts_at"],
        "ends_at": item["ends_at"],
    }
    assert_problem(await client.post(url, json=body), 401, "unauthorized")
    assert_problem(await client.post(url, json=body, headers=ana.headers), 403, "forbidden")
    assert_problem(
        await client.patch(f"{url}/{item['id']}", json={"kind": "free"}, headers=ana.headers),
        403,
        "forbidden",
    )
    assert_problem(
        await client.delete(f"{url}/{item['id']}", headers=ana.headers), 403, "forbidden"
    )
    assert_problem(
        await client.delete(f"{url}/00000000-0000-4000-8000-000000000000", headers=owner.headers),
        404,
        "not-found",
    )
    other_trip = await create_trip(client, org, owner)
    assert_problem(
        await client.patch(
            f"/v1/trips/{other_trip['id']}/itinerary/{item['id']}",
            json={"kind": "free"},
            headers=owner.headers,
        ),
        404,
        "not-found",
    )
    cancelled = await client.post(
        f"/v1/trips/{trip['id']}/cancel", json={"reason": "Storm"}, headers=owner.headers
    )
    assert cancelled.status_code == 200
    assert_problem(await client.post(url, json=body, headers=owner.headers), 409, "conflict")
