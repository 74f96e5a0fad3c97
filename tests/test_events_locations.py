"""Protected locations: who sees the exact venue, who only the area, in an event and in lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.events_helpers import add_rsvp, published_event
from tests.people import create_org, join, sign_up

VENUE = {
    "name": "Casa del Migrante",
    "address": "Calle Secreta 12",
    "lat": 32.5332,
    "lon": -117.0382,
}
AREA_POINT = {"lat": 32.55, "lon": -117.05}


def _exact(location):
    return location["precision"] == "exact" and location["address"] == "Calle Secreta 12"


def _area_only(location):
    return location == {
        "precision": "area",
        "area": "Downtown Tijuana",
        "name": None,
        "address": None,
        "virtual_url": None,
        **AREA_POINT,
    }


async def _protected_event(client, **overrides):
    ana = await sign_up(client, "Ana")
    org = await create_org(client, ana)
    fields = {
        "venue": VENUE,
        "location_policy": "attendees",
        "virtual_url": "https://meet.example.org/secret-room",
        **overrides,
    }
    event = await published_event(client, org, ana, **fields)
    return ana, org, event


async def _seen_by(client, event, person):
    headers = person.headers if person else {}
    one = (await client.get(f"/v1/events/{event['id']}", headers=headers)).json()["location"]
    listed = (await client.get("/v1/events", headers=headers)).json()["items"]
    assert [e["id"] for e in listed] == [event["id"]]
    return one, listed[0]["location"]


async def test_anonymous_callers_see_only_the_area_on_a_5_km_grid(client):
    _, _, event = await _protected_event(client)
    one, in_list = await _seen_by(client, event, None)
    assert _area_only(one) and _area_only(in_list)
    response = await client.get(f"/v1/events/{event['id']}")
    assert "Calle Secreta" not in response.text and "32.5332" not in response.text
    assert "secret-room" not in response.text


async def test_members_of_other_orgs_see_only_the_area(client):
    _, _, event = await _protected_event(client)
    bea = await sign_up(client, "Bea")
    await create_org(client, bea)
    one, in_list = await _seen_by(client, event, bea)
    assert _area_only(one) and _area_only(in_list)


async def test_members_of_the_hosting_org_who_are_not_coming_see_only_the_area(client):
    ana, org, event = await _protected_event(client)
    carla = await sign_up(client, "Carla")
    await join(client, org, ana, carla, "member")
    one, in_list = await _seen_by(client, event, carla)
    assert _area_only(one) and _area_only(in_list)


async def test_waitlisted_people_see_only_the_area(client, conn):
    _, _, event = await _protected_event(client, capacity=1)
    dora = await sign_up(client, "Dora")
    await add_rsvp(conn, event, dora, status="waitlisted")
    one, in_list = await _seen_by(client, event, dora)
    assert _area_only(one) and _area_only(in_list)


async def test_people_who_cancelled_see_only_the_area(client, conn):
    _, _, event = await _protected_event(client)
    dora = await sign_up(client, "Dora")
    await add_rsvp(conn, event, dora, status="cancelled")
    one, in_list = await _seen_by(client, event, dora)
    assert _area_only(one) and _area_only(in_list)


async def test_confirmed_attendees_see_the_exact_place(client, conn):
    _, _, event = await _protected_event(client)
    dora = await sign_up(client, "Dora")
    await add_rsvp(conn, event, dora)
    one, in_list = await _seen_by(client, event, dora)
    assert _exact(one) and _exact(in_list)
    assert one["lat"] == VENUE["lat"] and one["lon"] == VENUE["lon"]
    assert one["virtual_url"] == "https://meet.example.org/secret-room"


async def test_organizers_see_the_exact_place(client):
    ana, _, event = await _protected_event(client)
    one, in_list = await _seen_by(client, event, ana)
    assert _exact(one) and _exact(in_list)


async def test_before_reveal_at_even_confirmed_attendees_see_only_the_area(client, conn):
    reveal_at = datetime.now(UTC) + timedelta(days=6)
    _, _, event = await _protected_event(client, location_policy="reveal_at", reveal_at=reveal_at)
    dora = await sign_up(client, "Dora")
    await add_rsvp(conn, event, dora)
    one, in_list = await _seen_by(client, event, dora)
    assert _area_only(one) and _area_only(in_list)


async def test_after_reveal_at_confirmed_attendees_see_the_exact_place(client, conn):
    reveal_at = datetime.now(UTC) - timedelta(minutes=1)
    _, _, event = await _protected_event(client, location_policy="reveal_at", reveal_at=reveal_at)
    dora, eli = await sign_up(client, "Dora"), await sign_up(client, "Eli")
    await add_rsvp(conn, event, dora)
    await add_rsvp(conn, event, eli, status="waitlisted")
    one, in_list = await _seen_by(client, event, dora)
    assert _exact(one) and _exact(in_list)
    # the time alone reveals nothing: anonymous and waitlisted callers still see the area
    for person in (None, eli):
        one, in_list = await _seen_by(client, event, person)
        assert _area_only(one) and _area_only(in_list)


async def test_people_who_attended_still_see_the_exact_place(client, conn):
    _, _, event = await _protected_event(client)
    dora = await sign_up(client, "Dora")
    await add_rsvp(conn, event, dora, status="attended")
    one, _ = await _seen_by(client, event, dora)
    assert _exact(one)


async def test_public_locations_are_exact_for_everyone(client):
    ana = await sign_up(client, "Ana")
    org = await create_org(client, ana)
    event = await published_event(client, org, ana, venue=VENUE)
    one, in_list = await _seen_by(client, event, None)
    assert _exact(one) and _exact(in_list)
    assert one["lat"] == VENUE["lat"]


async def test_distances_to_protected_events_are_measured_from_the_grid_point(client):
    await _protected_event(client)
    # standing exactly at the hidden venue must not reveal it (distance would be 0)
    response = await client.get(
        "/v1/events", params={"near": f"{VENUE['lat']},{VENUE['lon']}", "radius_km": 10}
    )
    [item] = response.json()["items"]
    assert 1.5 < item["distance_km"] < 2.5
    at_grid = await client.get("/v1/events", params={"near": "32.55,-117.05", "radius_km": 10})
    assert at_grid.json()["items"][0]["distance_km"] == 0


async def test_changing_the_policy_to_public_reveals_the_venue_to_everyone(client):
    ana, _, event = await _protected_event(client)
    response = await client.patch(
        f"/v1/events/{event['id']}", json={"location_policy": "public"}, headers=ana.headers
    )
    assert response.status_code == 200
    one, _ = await _seen_by(client, event, None)
    assert _exact(one)
    listed = await client.get("/v1/events", params={"near": "32.5332,-117.0382", "radius_km": 1})
    assert listed.json()["items"][0]["distance_km"] == 0


async def test_share_link_holders_of_a_private_protected_event_see_only_the_area(client):
    _, _, event = await _protected_event(client, visibility="private")
    shared = await client.get(event["share_url"].split("http://127.0.0.1:8000")[1])
    assert shared.status_code == 200
    assert _area_only(shared.json()["location"])


async def test_going_people_are_told_once_when_the_place_is_revealed(client, conn):
    from uuid import UUID

    from api.services.events import notify_revealed_locations

    soon = datetime.now(UTC) + timedelta(hours=1)
    ana, _, due = await _protected_event(
        client, location_policy="reveal_at", reveal_at=datetime.now(UTC) - timedelta(minutes=5)
    )
    later = await published_event(
        client,
        {"slug": due["org"]},
        ana,
        venue=VENUE,
        location_policy="reveal_at",
        reveal_at=soon,
        area="Downtown Tijuana",
    )
    dora, eli = await sign_up(client, "Dora"), await sign_up(client, "Eli")
    for event in (due, later):
        await add_rsvp(conn, event, dora)
        await add_rsvp(conn, event, eli, status="waitlisted")
    no_account = await add_rsvp(conn, due, None, alias="Tía")

    assert await notify_revealed_locations(conn) == 1
    assert await notify_revealed_locations(conn) == 0
    rows = await conn.fetch(
        "SELECT account_id::text AS account_id, rsvp_id, event_id::text AS event_id, payload "
        "FROM notifications WHERE kind = 'event.location_revealed'"
    )
    assert {(r["account_id"] or r["rsvp_id"], r["event_id"]) for r in rows} == {
        (dora.id, due["id"]),
        (no_account, due["id"]),
    }
    assert "Calle Secreta" not in str([r["payload"] for r in rows])

    # a new reveal time, once it comes, is a new notice
    await client.patch(
        f"/v1/events/{due['id']}",
        json={"reveal_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()},
        headers=ana.headers,
    )
    assert await notify_revealed_locations(conn) == 1
    assert UUID(due["id"]) in {
        r["event_id"]
        for r in await conn.fetch(
            "SELECT event_id FROM notifications WHERE kind = 'event.location_revealed'"
        )
    }
