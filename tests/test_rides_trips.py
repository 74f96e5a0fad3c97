"""Carpools for solidarity trips: only accepted participants and organizers ride; trip changes
reach the rides."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.people import create_org, sign_up
from tests.problems import assert_problem
from tests.rides_helpers import book, confirmed, get_offer, inbox_kinds, offer_body, offer_ride
from tests.trips_helpers import accepted, apply, open_trip_for


async def trip_world(client):
    organizer = await sign_up(client, "Rosa")
    org = await create_org(client, organizer)
    trip = await open_trip_for(client, org, organizer)
    driver, rider = await sign_up(client, "Ana"), await sign_up(client, "Luis")
    await accepted(client, trip, driver, organizer, roles=["driver"])
    await accepted(client, trip, rider, organizer)
    applicant = await sign_up(client, "Marta")
    await apply(client, trip, applicant)
    return {
        "organizer": organizer,
        "trip": trip,
        "driver": driver,
        "rider": rider,
        "applicant": applicant,
    }


async def test_accepted_participants_offer_and_book_trip_rides(client):
    w = await trip_world(client)
    offer = await offer_ride(client, w["trip"], w["driver"], kind="trips")
    assert offer["trip_id"] == w["trip"]["id"] and offer["event_id"] is None
    assert offer["links"]["parent"] == f"/v1/trips/{w['trip']['id']}"
    booking = await confirmed(client, offer, w["rider"], w["driver"])
    assert booking["status"] == "confirmed"
    listed = await client.get(
        f"/v1/trips/{w['trip']['id']}/ride-offers", headers=w["rider"].headers
    )
    assert [o["id"] for o in listed.json()["items"]] == [offer["id"]]
    assert listed.json()["items"][0]["pickup"] is not None


async def test_applicants_not_yet_accepted_may_look_but_not_ride(client):
    w = await trip_world(client)
    offer = await offer_ride(client, w["trip"], w["driver"], kind="trips")
    looked = await client.get(
        f"/v1/trips/{w['trip']['id']}/ride-offers", headers=w["applicant"].headers
    )
    assert looked.status_code == 200 and looked.json()["items"][0]["pickup"] is None
    assert_problem(await book(client, offer, w["applicant"]), 403, "forbidden")
    response = await client.post(
        f"/v1/trips/{w['trip']['id']}/ride-offers",
        json=offer_body(w["trip"]),
        headers=w["applicant"].headers,
    )
    assert_problem(response, 403, "forbidden")


async def test_a_trip_departure_must_leave_before_the_trip_ends(client):
    w = await trip_world(client)
    ends = datetime.fromisoformat(w["trip"]["ends_at"])
    response = await client.post(
        f"/v1/trips/{w['trip']['id']}/ride-offers",
        json=offer_body(w["trip"], departs_at=ends + timedelta(hours=1)),
        headers=w["driver"].headers,
    )
    assert_problem(response, 422, "rule-violation", pointer="#/departs_at", detail_contains="trip")


async def test_moving_then_cancelling_the_trip_reaches_its_rides(client):
    w = await trip_world(client)
    offer = await offer_ride(client, w["trip"], w["driver"], kind="trips")
    await confirmed(client, offer, w["rider"], w["driver"])
    starts = datetime.fromisoformat(w["trip"]["starts_at"]) + timedelta(hours=2)
    moved = await client.patch(
        f"/v1/trips/{w['trip']['id']}",
        json={"starts_at": starts.isoformat(), "ends_at": (starts + timedelta(days=3)).isoformat()},
        headers=w["organizer"].headers,
    )
    assert moved.status_code == 200, moved.text
    assert (await get_offer(client, offer, w["rider"]))["event_changed"] is True
    assert "ride.event_changed" in await inbox_kinds(client, w["rider"])
    cancelled = await client.post(
        f"/v1/trips/{w['trip']['id']}/cancel",
        json={"reason": "Border closed"},
        headers=w["organizer"].headers,
    )
    assert cancelled.status_code == 200, cancelled.text
    view = await get_offer(client, offer, w["driver"])
    assert (view["status"], view["cancel_reason"]) == ("cancelled", "trip_cancelled")
    assert "ride.cancelled" in await inbox_kinds(client, w["rider"])
    assert "ride.cancelled" in await inbox_kinds(client, w["driver"])
