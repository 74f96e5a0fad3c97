"""Carpools: offers, the booking state machine, legs, requests, cascades, bad input, my rides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from tests.events_helpers import create_event, published_event
from tests.people import create_org, join, sign_up
from tests.problems import assert_problem
from tests.rides_helpers import (
    act,
    book,
    booked,
    confirmed,
    get_offer,
    inbox_kinds,
    offer_body,
    offer_ride,
    ride_world,
)

# ---------------------------------------------------------------- offers


async def test_a_driver_offers_seats_with_the_area_snapped_to_a_2_km_grid(client):
    w = await ride_world(client)
    offer = await offer_ride(client, w["event"], w["driver"], accessibility=["wheelchair"])
    assert offer["status"] == "open"
    assert offer["is_driver"] is True
    assert offer["seats"] == 4 and offer["seats_free"] == 4
    assert (offer["area_lat"], offer["area_lon"]) == (32.54, -117.02)
    assert offer["driver_name"] == "Ana"
    assert offer["accessibility"] == ["wheelchair"]
    assert offer["riders"] == []
    assert offer["pickup"]["address"].startswith("Calle Ocampo")
    assert offer["event_changed"] is False
    listed = await client.get(
        f"/v1/events/{w['event']['id']}/ride-offers", headers=w["rider"].headers
    )
    assert listed.status_code == 200, listed.text
    assert [o["id"] for o in listed.json()["items"]] == [offer["id"]]
    assert listed.json()["items"][0]["distance_km"] is None


async def test_the_driver_edits_the_offer_and_others_may_not(client):
    w = await ride_world(client)
    offer = await offer_ride(client, w["event"], w["driver"])
    changed = await client.patch(
        f"/v1/ride-offers/{offer['id']}",
        json={"seats": 2, "auto_confirm": True, "notes": "Luggage fits"},
        headers=w["driver"].headers,
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["seats"], body["seats_free"], body["auto_confirm"]) == (2, 2, True)
    assert body["notes"] == "Luggage fits"
    forbidden = await client.patch(
        f"/v1/ride-offers/{offer['id']}", json={"seats": 3}, headers=w["rider"].headers
    )
    assert_problem(forbidden, 403, "forbidden")


async def test_seats_never_go_below_those_taken(client):
    w = await ride_world(client)
    offer = await offer_ride(client, w["event"], w["driver"])
    await confirmed(client, offer, w["rider"], w["driver"], seats=2)
    response = await client.patch(
        f"/v1/ride-offers/{offer['id']}", json={"seats": 1}, headers=w["driver"].headers
    )
    assert_problem(response, 409, "conflict", pointer="#/seats")
    assert (await get_offer(client, offer, w["driver"]))["seats"] == 4


async def test_departure_after_the_event_ends_is_refused(client):
    w = await ride_world(client)
    ends = datetime.fromisoformat(w["event"]["ends_at"])
    response = await client.post(
        f"/v1/events/{w['event']['id']}/ride-offers",
        json=offer_body(w["event"], departs_at=ends + timedelta(minutes=1)),
        headers=w["driver"].headers,
    )
    assert_problem(
        response, 422, "rule-violation", pointer="#/departs_at", detail_contains="event ends"
    )


async def test_offer_rules_each_answer_422_with_the_field(client):
    w = await ride_world(client)
    starts = datetime.fromisoformat(w["event"]["starts_at"])
    url = f"/v1/events/{w['event']['id']}/ride-offers"
    past = await client.post(
        url,
        json=offer_body(w["event"], departs_at=datetime.now(UTC) - timedelta(hours=1)),
        headers=w["driver"].headers,
    )
    assert_problem(past, 422, "rule-violation", pointer="#/departs_at")
    backwards = await client.post(
        url,
        json=offer_body(w["event"], return_departs_at=starts - timedelta(hours=3), return_seats=2),
        headers=w["driver"].headers,
    )
    assert_problem(backwards, 422, "rule-violation", pointer="#/return_departs_at")
    half = await client.post(
        url,
        json=offer_body(w["event"], return_departs_at=starts + timedelta(hours=3)),
        headers=w["driver"].headers,
    )
    assert_problem(half, 422, "rule-violation", pointer="#/return_seats")
    late = await client.post(
        url,
        json=offer_body(w["event"], return_departs_at=starts + timedelta(days=3), return_seats=2),
        headers=w["driver"].headers,
    )
    assert_problem(late, 422, "rule-violation", pointer="#/return_departs_at")


async def test_coordinates_out_of_range_and_unknown_fields_are_400(client):
    w = await ride_world(client)
    url = f"/v1/events/{w['event']['id']}/ride-offers"
    pickup = {"address": "Somewhere", "lat": 91.0, "lon": -117.0}
    response = await client.post(
        url, json=offer_body(w["event"], pickup=pickup), headers=w["driver"].headers
    )
    assert_problem(response, 400, "invalid-request", pointer="#/pickup/lat")
    pickup = {"address": "Somewhere", "lat": 32.5, "lon": -181.0}
    response = await client.post(
        url, json=offer_body(w["event"], pickup=pickup), headers=w["driver"].headers
    )
    assert_problem(response, 400, "invalid-request", pointer="#/pickup/lon")
    response = await client.post(
        url, json=offer_body(w["event"], seats_taken=0), headers=w["driver"].headers
    )
    assert_problem(response, 400, "invalid-request", pointer="#/seats_taken")
    response = await client.post(
        url, json=offer_body(w["event"], seats=0), headers=w["driver"].headers
    )
    assert_problem(response, 400, "invalid-request", pointer="#/seats")
    near = await client.get(f"{url}?near=95,10&radius_km=5", headers=w["rider"].headers)
    assert_problem(near, 400, "invalid-request", pointer="#/query/near")
    garbled = await client.get(f"{url}?near=abc&radius_km=5", headers=w["rider"].headers)
    assert_problem(garbled, 400, "invalid-request", pointer="#/query/near")
    lonely = await client.get(f"{url}?near=32.5,-117", headers=w["rider"].headers)
    assert_problem(lonely, 422, "rule-violation", pointer="#/query/radius_km")
    request = await client.post(
        f"/v1/events/{w['event']['id']}/ride-requests",
        json={
            "area": "Otay",
            "lat": -90.5,
            "lon": 0,
            "earliest_at": w["event"]["starts_at"],
            "latest_at": w["event"]["starts_at"],
        },
        headers=w["rider"].headers,
    )
    assert_problem(request, 400, "invalid-request", pointer="#/lat")


async def test_no_rides_for_events_that_are_not_running(client):
    w = await ride_world(client)
    draft = await create_event(client, w["org"], w["organizer"])
    response = await client.post(
        f"/v1/events/{draft['id']}/ride-offers",
        json=offer_body(draft),
        headers=w["organizer"].headers,
    )
    assert_problem(response, 409, "conflict", detail_contains="not published")
    await client.post(f"/v1/events/{w['event']['id']}/postpone", headers=w["organizer"].headers)
    response = await client.post(
        f"/v1/events/{w['event']['id']}/ride-offers",
        json=offer_body(w["event"]),
        headers=w["driver"].headers,
    )
    assert_problem(response, 409, "conflict", detail_contains="postponed")


async def test_ride_routes_need_an_account_and_hide_unseen_events(client):
    w = await ride_world(client)
    offer = await offer_ride(client, w["event"], w["driver"])
    anonymous = await client.get(f"/v1/events/{w['event']['id']}/ride-offers")
    assert_problem(anonymous, 401, "unauthorized")
    anonymous = await client.get(f"/v1/ride-offers/{offer['id']}")
    assert_problem(anonymous, 401, "unauthorized")
    missing = await client.get(f"/v1/events/{UUID(int=1)}/ride-offers", headers=w["rider"].headers)
    assert_problem(missing, 404, "not-found")
    missing = await client.get(f"/v1/ride-offers/{UUID(int=1)}", headers=w["rider"].headers)
    assert_problem(missing, 404, "not-found")


# ---------------------------------------------------------------- bookings


async def test_requested_confirmed_cancelled_moves_seats_and_tells_each_side(client):
    w = await ride_world(client)
    driver, rider = w["driver"], w["rider"]
    offer = await offer_ride(client, w["event"], driver)
    booking = await booked(client, offer, rider, seats=2)
    assert (booking["status"], booking["seats"], booking["is_mine"]) == ("requested", 2, True)
    assert (await get_offer(client, offer, driver))["seats_free"] == 4
    assert "ride.booking_requested" in await inbox_kinds(client, driver)

    confirm = await act(client, booking, "confirm", driver)
    assert confirm.status_code == 200, confirm.text
    assert confirm.json()["status"] == "confirmed" and confirm.json()["decided_at"]
    assert (await get_offer(client, offer, driver))["seats_free"] == 2
    assert "ride.booking_confirmed" in await inbox_kinds(client, rider)

    cancel = await act(client, booking, "cancel", rider)
    assert cancel.status_code == 200, cancel.text
    assert (cancel.json()["status"], cancel.json()["ended_by"]) == ("cancelled", "rider")
    assert (await get_offer(client, offer, driver))["seats_free"] == 4
    assert "ride.booking_cancelled" in await inbox_kinds(client, driver)

    again = await act(client, booking, "cancel", rider)
    assert_problem(again, 409, "conflict", detail_contains="already cancelled")
    confirm_again = await act(client, booking, "confirm", driver)
    assert_problem(confirm_again, 409, "conflict", detail_contains="only a requested booking")


async def test_the_driver_declines_and_a_declined_booking_stays_declined(client):
    w = await ride_world(client)
    offer = await offer_ride(client, w["event"], w["driver"])
    booking = await booked(client, offer, w["rider"])
    decline = await act(client, booking, "decline", w["driver"])
    assert decline.status_code == 200, decline.text
    assert decline.json()["status"] == "declined"
    assert "ride.booking_declined" in await inbox_kinds(client, w["rider"])
    assert_problem(await act(client, booking, "confirm", w["driver"]), 409, "conflict")
    assert_problem(await act(client, booking, "decline", w["driver"]), 409, "conflict")
    assert_problem(await act(client, booking, "cancel", w["rider"]), 409, "conflict")
    # a declined rider may ask again
    again = await book(client, offer, w["rider"])
    assert again.status_code == 201, again.text


async def test_the_driver_removes_a_rider(client):
    w = await ride_world(client)
    offer = await offer_ride(client, w["event"], w["driver"])
    booking = await confirmed(client, offer, w["rider"], w["driver"])
    removed = await act(client, booking, "cancel", w["driver"])
    assert removed.status_code == 200, removed.text
    assert (removed.json()["status"], removed.json()["ended_by"]) == ("cancelled", "driver")
    assert (await get_offer(client, offer, w["driver"]))["seats_free"] == 4
    assert "ride.booking_cancelled" in await inbox_kinds(client, w["rider"])


async def test_only_the_driver_decides_and_strangers_do_not_see_bookings(client):
    w = await ride_world(client)
    offer = await offer_ride(client, w["event"], w["driver"])
    booking = await booked(client, offer, w["rider"])
    self_confirm = await act(client, booking, "confirm", w["rider"])
    assert_problem(self_confirm, 403, "forbidden")
    stranger = await act(client, booking, "confirm", w["other"])
    assert_problem(stranger, 404, "not-found")
    stranger = await act(client, booking, "cancel", w["other"])
    assert_problem(stranger, 404, "not-found")
    missing = await client.post(
        f"/v1/ride-bookings/{UUID(int=7)}/confirm", headers=w["driver"].headers
    )
    assert_problem(missing, 404, "not-found")


async def test_auto_confirm_takes_seats_at_once_and_the_offer_flips_full_and_open(client):
    w = await ride_world(client)
    offer = await offer_ride(client, w["event"], w["driver"], seats=2, auto_confirm=True)
    booking = await booked(client, offer, w["rider"], seats=2)
    assert booking["status"] == "confirmed"
    assert (await get_offer(client, offer, w["driver"]))["status"] == "full"
    assert "ride.booking_confirmed" in await inbox_kinds(client, w["driver"])
    refused = await book(client, offer, w["other"])
    assert_problem(refused, 409, "conflict", pointer="#/seats", detail_contains="0 free")
    await act(client, booking, "cancel", w["rider"])
    after = await get_offer(client, offer, w["driver"])
    assert (after["status"], after["seats_free"]) == ("open", 2)
    assert (await book(client, offer, w["other"])).status_code == 201


async def test_a_confirmation_without_free_seats_is_refused_and_stays_requested(client):
    w = await ride_world(client)
    offer = await offer_ride(client, w["event"], w["driver"], seats=1)
    first = await booked(client, offer, w["rider"])
    second = await booked(client, offer, w["other"])
    assert (await act(client, first, "confirm", w["driver"])).status_code == 200
    refused = await act(client, second, "confirm", w["driver"])
    assert_problem(refused, 409, "conflict", detail_contains="not enough free seats")
    listed = await client.get(
        f"/v1/ride-offers/{offer['id']}/bookings", headers=w["driver"].headers
    )
    statuses = {b["id"]: b["status"] for b in listed.json()["items"]}
    assert statuses == {first["id"]: "confirmed", second["id"]: "requested"}


async def test_booking_bad_input_each_gets_a_clear_problem(client):
    w = await ride_world(client)
    driver, rider = w["driver"], w["rider"]
    offer = await offer_ride(client, w["event"], driver)
    own = await book(client, offer, driver)
    assert_problem(own, 409, "conflict", detail_contains="your own ride")
    too_many = await book(client, offer, rider, seats=5)
    assert_problem(too_many, 409, "conflict", pointer="#/seats", detail_contains="offers 4 seats")
    huge = await book(client, offer, rider, seats=9)
    assert_problem(huge, 400, "invalid-request", pointer="#/seats")
    no_return = await book(client, offer, rider, leg="return")
    assert_problem(no_return, 409, "conflict", pointer="#/leg")
    smuggled = await client.post(
        f"/v1/ride-offers/{offer['id']}/bookings",
        json={"seats": 1, "status": "confirmed"},
        headers=rider.headers,
    )
    assert_problem(smuggled, 400, "invalid-request", pointer="#/status")
    await booked(client, offer, rider)
    duplicate = await book(client, offer, rider)
    assert_problem(duplicate, 409, "conflict", detail_contains="already hold a booking")


async def test_booking_a_cancelled_or_past_ride_is_409(client, conn):
    w = await ride_world(client)
    cancelled = await offer_ride(client, w["event"], w["driver"])
    response = await client.post(
        f"/v1/ride-offers/{cancelled['id']}/cancel", headers=w["driver"].headers
    )
    assert response.status_code == 200, response.text
    assert_problem(
        await book(client, cancelled, w["rider"]), 409, "conflict", detail_contains="cancelled"
    )
    past = await offer_ride(client, w["event"], w["driver"])
    await conn.execute(
        "UPDATE ride_offers SET departs_at = now() - interval '1 hour' WHERE id = $1",
        UUID(past["id"]),
    )
    assert_problem(
        await book(client, past, w["rider"]), 409, "conflict", detail_contains="already left"
    )


async def test_outbound_and_return_legs_are_booked_separately(client):
    w = await ride_world(client)
    starts = datetime.fromisoformat(w["event"]["starts_at"])
    offer = await offer_ride(
        client,
        w["event"],
        w["driver"],
        seats=1,
        return_seats=1,
        return_departs_at=starts + timedelta(hours=3),
        auto_confirm=True,
    )
    out = await booked(client, offer, w["rider"], leg="outbound")
    assert out["leg"] == "outbound" and out["status"] == "confirmed"
    view = await get_offer(client, offer, w["driver"])
    assert (view["seats_free"], view["return_seats_free"], view["status"]) == (0, 1, "open")
    back = await booked(client, offer, w["rider"], leg="return")
    assert back["leg"] == "return" and back["id"] != out["id"]
    view = await get_offer(client, offer, w["driver"])
    assert (view["seats_free"], view["return_seats_free"], view["status"]) == (0, 0, "full")
    assert sorted((r["leg"], r["display_name"]) for r in view["riders"]) == [
        ("outbound", "Luis"),
        ("return", "Luis"),
    ]
    refused = await book(client, offer, w["other"], leg="return")
    assert_problem(refused, 409, "conflict")
    dropped = await client.patch(
        f"/v1/ride-offers/{offer['id']}",
        json={"return_departs_at": None},
        headers=w["driver"].headers,
    )
    assert_problem(dropped, 409, "conflict", pointer="#/return_departs_at")


async def test_cancelling_an_offer_releases_every_booking_and_tells_everyone(client, conn):
    w = await ride_world(client)
    offer = await offer_ride(client, w["event"], w["driver"])
    kept = await confirmed(client, offer, w["rider"], w["driver"], seats=2)
    waiting = await booked(client, offer, w["other"])
    response = await client.post(
        f"/v1/ride-offers/{offer['id']}/cancel",
        json={"message": "The car broke down"},
        headers=w["driver"].headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["cancel_reason"], body["seats_free"]) == ("cancelled", "driver", 4)
    rows = await conn.fetch(
        "SELECT id, status, ended_by FROM ride_bookings WHERE offer_id = $1", UUID(offer["id"])
    )
    assert {(str(r["id"]), r["status"], r["ended_by"]) for r in rows} == {
        (kept["id"], "cancelled", "ride"),
        (waiting["id"], "cancelled", "ride"),
    }
    for rider in (w["rider"], w["other"]):
        notes = (await client.get("/v1/me/notifications", headers=rider.headers)).json()["items"]
        cancelled = [n for n in notes if n["kind"] == "ride.cancelled"]
        assert cancelled and cancelled[0]["payload"]["message"] == "The car broke down"
    again = await client.post(f"/v1/ride-offers/{offer['id']}/cancel", headers=w["driver"].headers)
    assert_problem(again, 409, "conflict", detail_contains="already cancelled")
    edit = await client.patch(
        f"/v1/ride-offers/{offer['id']}", json={"seats": 3}, headers=w["driver"].headers
    )
    assert_problem(edit, 409, "conflict", detail_contains="cancelled is final")


# ---------------------------------------------------------------- events change


async def test_cancelling_the_event_cancels_its_rides_and_requests(client, conn):
    w = await ride_world(client)
    offer = await offer_ride(client, w["event"], w["driver"])
    await confirmed(client, offer, w["rider"], w["driver"])
    request = await client.post(
        f"/v1/events/{w['event']['id']}/ride-requests",
        json={
            "area": "Otay",
            "lat": 32.55,
            "lon": -116.94,
            "earliest_at": offer["departs_at"],
            "latest_at": w["event"]["starts_at"],
        },
        headers=w["other"].headers,
    )
    assert request.status_code == 201, request.text
    response = await client.post(
        f"/v1/events/{w['event']['id']}/cancel",
        json={"reason": "Storm warning"},
        headers=w["organizer"].headers,
    )
    assert response.status_code == 200, response.text
    view = await get_offer(client, offer, w["driver"])
    assert (view["status"], view["cancel_reason"]) == ("cancelled", "event_cancelled")
    assert "ride.cancelled" in await inbox_kinds(client, w["rider"])
    assert "ride.cancelled" in await inbox_kinds(client, w["driver"])
    status = await conn.fetchval(
        "SELECT status FROM ride_requests WHERE id = $1", UUID(request.json()["id"])
    )
    assert status == "cancelled"


async def test_moving_the_event_flags_its_rides_until_the_driver_confirms(client):
    w = await ride_world(client)
    offer = await offer_ride(client, w["event"], w["driver"])
    await confirmed(client, offer, w["rider"], w["driver"])
    starts = datetime.fromisoformat(w["event"]["starts_at"]) + timedelta(hours=1)
    moved = await client.patch(
        f"/v1/events/{w['event']['id']}",
        json={
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=2)).isoformat(),
        },
        headers=w["organizer"].headers,
    )
    assert moved.status_code == 200, moved.text
    assert (await get_offer(client, offer, w["rider"]))["event_changed"] is True
    assert "ride.event_changed" in await inbox_kinds(client, w["rider"])
    assert "ride.event_changed" in await inbox_kinds(client, w["driver"])
    ok = await client.patch(
        f"/v1/ride-offers/{offer['id']}", json={"event_changed": False}, headers=w["driver"].headers
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["event_changed"] is False
    # a title change is no move
    await client.patch(
        f"/v1/events/{w['event']['id']}",
        json={"title": {"en": "Big rally"}},
        headers=w["organizer"].headers,
    )
    assert (await get_offer(client, offer, w["rider"]))["event_changed"] is False


# ---------------------------------------------------------------- requests


def _request_body(event: dict, **overrides) -> dict:
    starts = datetime.fromisoformat(event["starts_at"])
    body = {
        "seats": 1,
        "area": "Otay Centenario",
        "lat": 32.5301,
        "lon": -116.9412,
        "earliest_at": (starts - timedelta(hours=4)).isoformat(),
        "latest_at": (starts - timedelta(hours=1)).isoformat(),
    }
    body.update(overrides)
    return body


async def test_ride_requests_are_for_drivers_to_see_by_area_only(client):
    w = await ride_world(client)
    url = f"/v1/events/{w['event']['id']}/ride-requests"
    created = await client.post(url, json=_request_body(w["event"]), headers=w["rider"].headers)
    assert created.status_code == 201, created.text
    request = created.json()
    assert (request["area_lat"], request["area_lon"]) == (32.54, -116.94)
    assert request["status"] == "open" and request["is_mine"] is True
    duplicate = await client.post(url, json=_request_body(w["event"]), headers=w["rider"].headers)
    assert_problem(duplicate, 409, "conflict", detail_contains="already have a ride request")
    # not a driver yet: only one's own
    seen = await client.get(url, headers=w["other"].headers)
    assert seen.status_code == 200 and seen.json()["items"] == []
    await offer_ride(client, w["event"], w["driver"])
    seen = await client.get(url, headers=w["driver"].headers)
    items = seen.json()["items"]
    assert [i["id"] for i in items] == [request["id"]]
    assert items[0]["is_mine"] is False
    assert "rider" not in seen.text.lower().replace("rider_", "")
    assert "Luis" not in seen.text
    withdrawn = await client.post(
        f"/v1/ride-requests/{request['id']}/cancel", headers=w["rider"].headers
    )
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "cancelled"
    not_mine = await client.post(
        f"/v1/ride-requests/{request['id']}/cancel", headers=w["driver"].headers
    )
    assert_problem(not_mine, 404, "not-found")


async def test_ride_request_rules(client):
    w = await ride_world(client)
    url = f"/v1/events/{w['event']['id']}/ride-requests"
    ends = datetime.fromisoformat(w["event"]["ends_at"])
    backwards = await client.post(
        url,
        json=_request_body(
            w["event"],
            earliest_at=ends.isoformat(),
            latest_at=(ends - timedelta(hours=5)).isoformat(),
        ),
        headers=w["rider"].headers,
    )
    assert_problem(backwards, 422, "rule-violation", pointer="#/latest_at")
    after_end = await client.post(
        url,
        json=_request_body(
            w["event"],
            earliest_at=(ends + timedelta(hours=1)).isoformat(),
            latest_at=(ends + timedelta(hours=2)).isoformat(),
        ),
        headers=w["rider"].headers,
    )
    assert_problem(after_end, 422, "rule-violation", pointer="#/earliest_at")


async def test_a_confirmed_booking_matches_the_riders_request_and_a_cancel_reopens_it(client):
    w = await ride_world(client)
    offer = await offer_ride(client, w["event"], w["driver"])
    created = await client.post(
        f"/v1/events/{w['event']['id']}/ride-requests",
        json=_request_body(w["event"]),
        headers=w["rider"].headers,
    )
    request_id = created.json()["id"]
    booking = await confirmed(client, offer, w["rider"], w["driver"])
    mine = (await client.get("/v1/me/rides", headers=w["rider"].headers)).json()
    assert [(r["id"], r["status"]) for r in mine["requests"]] == [(request_id, "matched")]
    await act(client, booking, "cancel", w["rider"])
    mine = (await client.get("/v1/me/rides", headers=w["rider"].headers)).json()
    assert [(r["id"], r["status"]) for r in mine["requests"]] == [(request_id, "open")]


# ---------------------------------------------------------------- my rides


async def test_my_rides_shows_offers_requests_and_bookings_with_their_states(client):
    w = await ride_world(client)
    offer = await offer_ride(client, w["event"], w["driver"])
    second = await offer_ride(client, w["event"], w["other"], seats=2)
    kept = await confirmed(client, offer, w["rider"], w["driver"])
    asked = await booked(client, second, w["rider"])
    driver_view = (await client.get("/v1/me/rides", headers=w["driver"].headers)).json()
    assert [o["id"] for o in driver_view["offers"]] == [offer["id"]]
    assert driver_view["offers"][0]["riders"][0]["display_name"] == "Luis"
    assert driver_view["bookings"] == [] and driver_view["requests"] == []
    rider_view = (await client.get("/v1/me/rides", headers=w["rider"].headers)).json()
    states = {b["booking"]["id"]: b["booking"]["status"] for b in rider_view["bookings"]}
    assert states == {kept["id"]: "confirmed", asked["id"]: "requested"}
    by_offer = {b["offer"]["id"]: b["offer"] for b in rider_view["bookings"]}
    assert by_offer[offer["id"]]["pickup"] is not None
    assert by_offer[second["id"]]["pickup"] is None
    assert_problem(await client.get("/v1/me/rides"), 401, "unauthorized")


# ---------------------------------------------------------------- members-only events


async def test_members_only_event_rides_are_hidden_from_other_orgs(client):
    organizer = await sign_up(client, "Rosa")
    org = await create_org(client, organizer)
    member = await sign_up(client, "Ana")
    await join(client, org, organizer, member, "member")
    event = await published_event(client, org, organizer, visibility="members")
    offer = await offer_ride(client, event, member)
    outsider = await sign_up(client, "Eve")
    other_org = await create_org(client, outsider)
    assert other_org
    assert_problem(
        await client.get(f"/v1/ride-offers/{offer['id']}", headers=outsider.headers),
        404,
        "not-found",
    )
    assert_problem(
        await client.get(f"/v1/events/{event['id']}/ride-offers", headers=outsider.headers),
        404,
        "not-found",
    )
    assert_problem(await book(client, offer, outsider), 404, "not-found")
