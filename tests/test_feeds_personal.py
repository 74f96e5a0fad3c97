"""Personal and manage-link feeds: exactly my items, my standing, nobody else's data."""

from __future__ import annotations

from typing import Any

import httpx

from tests.events_helpers import published_event
from tests.people import Person, create_org, sign_up
from tests.problems import assert_problem
from tests.rides_helpers import CONTACT, PICKUP, act, booked, confirmed, offer_ride
from tests.test_feeds_helpers import add_shift, event_uid, feed, props, rsvp, subscribe, uids
from tests.trips_helpers import accepted, add_item, apply, open_trip_for

VENUE = {
    "name": "Salon Parroquial San Jose",
    "address": "Calle Sexta 1500, Zona Norte",
    "lat": 32.53811,
    "lon": -117.04456,
}
SHELTER = {"name": "Albergue Esperanza", "address": "Callejon 9, Colonia Libertad"}


def _not_in(body: bytes, *secrets: str) -> None:
    text = body.replace(b"\r\n ", b"").decode()
    unescaped = text.replace("\\,", ",").replace("\\;", ";").replace("\\\\", "\\")
    for secret in secrets:
        assert secret not in unescaped, secret


async def _world(client: httpx.AsyncClient) -> dict[str, Any]:
    """An org with a protected event (a shift and a ride with a sealed pickup), a full event
    with a waitlist, and a trip with a participant-only itinerary step; people in every role."""
    w: dict[str, Any] = {}
    people = (
        "Rosalind Organizer",
        "Anastasia Attendee",
        "Beatriz Waitlisted",
        "Carlota Placeholder",
        "Dantesco Driver",
        "Evangelina Rider",
        "Fernanda Requester",
        "Gilberto Participant",
        "Hortensia Applicant",
    )
    for name in people:
        w[name.split()[1].lower()] = await sign_up(client, name)
    organizer: Person = w["organizer"]
    w["org"] = org = await create_org(client, organizer)
    w["protected"] = protected = await published_event(
        client,
        org,
        organizer,
        title={"en": "Vigil", "es": "Vigilia"},
        venue=VENUE,
        area="Zona Norte",
        location_policy="attendees",
        capacity=20,
    )
    w["full"] = full = await published_event(client, org, organizer, capacity=1)
    w["shift"] = shift = await add_shift(client, protected, organizer)
    w["ana_rsvp"] = await rsvp(
        client, protected, w["attendee"], "alias-ana-x1", contact="ana-x1@example.org"
    )
    w["ana_shift"] = await rsvp(
        client, protected, w["attendee"], "alias-ana-x1", shift_id=shift["id"]
    )
    w["carl_rsvp"] = await rsvp(
        client, full, w["placeholder"], "alias-carl-x3", contact="+52 664 000 0003"
    )
    w["bea_rsvp"] = await rsvp(client, full, w["waitlisted"], "alias-bea-x2")
    assert w["bea_rsvp"]["status"] == "waitlisted"
    for who in ("driver", "rider", "requester"):
        await rsvp(client, protected, w[who], f"alias-{who}-x4", contact=f"{who}@example.org")
    w["offer"] = offer = await offer_ride(client, protected, w["driver"])
    w["eva_booking"] = await confirmed(client, offer, w["rider"], w["driver"])
    w["fer_booking"] = await booked(client, offer, w["requester"])
    w["trip"] = trip = await open_trip_for(client, org, organizer)
    w["step_public"] = await add_item(client, trip, organizer, title={"en": "Court watch"})
    w["step_private"] = await add_item(
        client,
        trip,
        organizer,
        kind="lodging",
        title={"en": "Shelter night"},
        place=SHELTER,
        area="Colonia Libertad",
        visibility="participants",
    )
    await accepted(client, trip, w["participant"], organizer)
    await apply(client, trip, w["applicant"])
    return w


def _ride(w: dict[str, Any], booking: dict[str, Any] | None = None) -> str:
    if booking is None:
        return f"ride-{w['offer']['id']}-out@caravan"
    return f"ride-{w['offer']['id']}-out-{booking['id']}@caravan"


async def test_each_personal_feed_holds_exactly_that_persons_items(client):
    w = await _world(client)
    trip_uid = f"trip-{w['trip']['id']}@caravan"
    step_public = f"itinerary-{w['step_public']['id']}@caravan"
    step_private = f"itinerary-{w['step_private']['id']}@caravan"
    expected = {
        "attendee": {event_uid(w["protected"]), f"shift-{w['shift']['id']}@caravan"},
        "waitlisted": {event_uid(w["full"])},
        "driver": {event_uid(w["protected"]), _ride(w)},
        "rider": {event_uid(w["protected"]), _ride(w, w["eva_booking"])},
        "requester": {event_uid(w["protected"])},
        "participant": {trip_uid, step_public, step_private},
        "applicant": {trip_uid, step_public},
        "organizer": set(),
    }
    for who, items in expected.items():
        body = await feed(client, await subscribe(client, w[who]))
        assert uids(body) == items, who


async def test_the_attendee_sees_the_venue_and_a_shift_and_no_one_elses_data(client):
    w = await _world(client)
    body = await feed(client, await subscribe(client, w["attendee"]))
    event = props(body, event_uid(w["protected"]))
    assert event["STATUS"] == "CONFIRMED" and event["SUMMARY"] == "Vigil"
    assert event["LOCATION"] == "Salon Parroquial San Jose\\, Calle Sexta 1500\\, Zona Norte"
    assert event["GEO"] == "32.538110;-117.044560"
    shift = props(body, f"shift-{w['shift']['id']}@caravan")
    assert shift["SUMMARY"] == "Legal observer · Vigil"
    assert shift["LOCATION"] == event["LOCATION"]
    spanish = await feed(client, await subscribe(client, w["attendee"]) + "?lang=es")
    assert props(spanish, f"shift-{w['shift']['id']}@caravan")["SUMMARY"] == (
        "Observador legal · Vigilia"
    )
    _not_in(
        body,
        "alias-ana-x1",  # not even one's own alias or contact: a feed is not a profile
        "ana-x1@example.org",
        "Anastasia",
        "alias-bea-x2",
        "alias-carl-x3",
        "+52 664 000 0003",
        "driver@example.org",
        "Dantesco",
        "Evangelina",
        str(PICKUP["address"]),
        CONTACT,
    )


async def test_a_waitlisted_person_sees_a_tentative_event_that_firms_up_when_promoted(client):
    w = await _world(client)
    path = await subscribe(client, w["waitlisted"])
    uid = event_uid(w["full"])
    waiting = props(await feed(client, path), uid)
    assert waiting["STATUS"] == "TENTATIVE"
    assert waiting["SUMMARY"] == "WAITLIST: Rally"
    assert props(await feed(client, path + "?lang=es"), uid)["SUMMARY"] == (
        "LISTA DE ESPERA: Marcha"
    )
    cancelled = await client.delete(f"/v1/rsvps/manage/{w['carl_rsvp']['manage_token']}")
    assert cancelled.status_code == 200, cancelled.text
    going = props(await feed(client, path), uid)
    assert going["STATUS"] == "CONFIRMED" and going["SUMMARY"] == "Rally"
    assert int(going["SEQUENCE"]) > int(waiting["SEQUENCE"])
    # Carl's own feed no longer lists it
    assert uids(await feed(client, await subscribe(client, w["placeholder"]))) == set()


async def test_drivers_and_confirmed_riders_see_the_pickup_and_nobody_elses_data(client):
    w = await _world(client)
    driver = await feed(client, await subscribe(client, w["driver"]))
    rider = await feed(client, await subscribe(client, w["rider"]))
    requester = await feed(client, await subscribe(client, w["requester"]))
    drive = props(driver, _ride(w))
    seat = props(rider, _ride(w, w["eva_booking"]))
    pickup = "Calle Ocampo 1234\\, Colonia Libertad\\, blue gate"
    assert drive["LOCATION"] == seat["LOCATION"] == pickup
    assert drive["SUMMARY"] == "Ride to Vigil (you drive)" and seat["SUMMARY"] == "Ride to Vigil"
    assert "GEO" not in drive and "GEO" not in seat  # a pickup may be someone's home
    assert drive["URL"].endswith(f"/v1/ride-offers/{w['offer']['id']}")
    _not_in(driver, "Evangelina", "Fernanda", "alias-rider-x4", "rider@example.org", CONTACT)
    _not_in(rider, "Dantesco", "Fernanda", "alias-driver-x4", CONTACT, "32.54713")
    _not_in(requester, str(PICKUP["address"]), "blue gate", "Grey van", "Dantesco", CONTACT)


async def test_a_cancelled_ride_stays_cancelled_in_the_riders_feed_without_its_pickup(client):
    w = await _world(client)
    path = await subscribe(client, w["rider"])
    uid = _ride(w, w["eva_booking"])
    before = props(await feed(client, path), uid)
    response = await client.post(
        f"/v1/ride-offers/{w['offer']['id']}/cancel", headers=w["driver"].headers
    )
    assert response.status_code == 200, response.text
    body = await feed(client, path)
    after = props(body, uid)
    assert after["STATUS"] == "CANCELLED" and after["SUMMARY"] == "CANCELLED: Ride to Vigil"
    assert int(after["SEQUENCE"]) > int(before["SEQUENCE"])
    assert after["LOCATION"] == w["offer"]["area"]
    _not_in(body, str(PICKUP["address"]), "blue gate")


async def test_a_rider_who_cancels_sees_the_seat_cancelled(client):
    w = await _world(client)
    path = await subscribe(client, w["rider"])
    uid = _ride(w, w["eva_booking"])
    before = props(await feed(client, path), uid)
    cancelled = await act(client, w["eva_booking"], "cancel", w["rider"])
    assert cancelled.status_code == 200, cancelled.text
    after = props(await feed(client, path), uid)
    assert after["STATUS"] == "CANCELLED"
    assert int(after["SEQUENCE"]) > int(before["SEQUENCE"])


async def test_trip_participants_see_every_step_at_exact_places_and_applicants_only_public_ones(
    client,
):
    w = await _world(client)
    trip_uid = f"trip-{w['trip']['id']}@caravan"
    private_uid = f"itinerary-{w['step_private']['id']}@caravan"
    participant = await feed(client, await subscribe(client, w["participant"]))
    applicant = await feed(client, await subscribe(client, w["applicant"]))
    mine = props(participant, trip_uid)
    assert mine["STATUS"] == "CONFIRMED" and mine["SUMMARY"] == "Border delegation"
    assert mine["LOCATION"] == "Casa del Migrante\\, Calle Galileo 239\\, Tijuana"
    assert props(participant, private_uid)["LOCATION"] == (
        "Albergue Esperanza\\, Callejon 9\\, Colonia Libertad"
    )
    assert props(participant, private_uid)["SUMMARY"] == "Shelter night · Border delegation"
    theirs = props(applicant, trip_uid)
    assert theirs["STATUS"] == "TENTATIVE" and theirs["SUMMARY"] == "APPLIED: Border delegation"
    assert theirs["LOCATION"] == "Tijuana" and "GEO" not in theirs
    _not_in(applicant, "Albergue", "Shelter night", "Casa del Migrante", "Galileo", "Gilberto")
    _not_in(participant, "Hortensia", "Rosalind")
    # the public trip feed: public steps only, the meeting point as an area
    public = await feed(client, f"/v1/trips/{w['trip']['id']}/calendar.ics")
    assert uids(public) == {trip_uid, f"itinerary-{w['step_public']['id']}@caravan"}
    _not_in(public, "Albergue", "Casa del Migrante", "Galileo")


async def test_a_cancelled_rsvp_leaves_the_personal_feed(client):
    w = await _world(client)
    path = await subscribe(client, w["attendee"])
    cancelled = await client.delete(f"/v1/rsvps/manage/{w['ana_rsvp']['manage_token']}")
    assert cancelled.status_code == 200
    assert uids(await feed(client, path)) == {f"shift-{w['shift']['id']}@caravan"}


# ---------------------------------------------------------------- manage links


async def test_the_manage_link_feed_shows_the_event_the_shift_and_the_place_as_revealed(client):
    organizer = await sign_up(client, "Rosa")
    org = await create_org(client, organizer)
    event = await published_event(
        client, org, organizer, venue=VENUE, area="Zona Norte", location_policy="attendees"
    )
    shift = await add_shift(client, event, organizer)
    guest = await rsvp(client, event, None, "alias-guest-z9", shift_id=shift["id"])
    other = await rsvp(client, event, None, "alias-other-z8", contact="other-z8@example.org")
    path = f"/v1/rsvps/manage/{guest['manage_token']}/calendar.ics"
    response = await client.get(path)
    assert response.headers["cache-control"] == "private, max-age=900"
    assert response.headers["x-robots-tag"] == "noindex"
    body = response.content
    assert uids(body) == {event_uid(event), f"shift-{shift['id']}@caravan"}
    assert props(body, event_uid(event))["LOCATION"].startswith("Salon Parroquial")
    _not_in(body, "alias-other-z8", "other-z8@example.org", "alias-guest-z9")
    # the holder cancels: the calendar marks it, in a way that does not claim the event is off
    before = props(body, event_uid(event))
    assert (await client.delete(f"/v1/rsvps/manage/{guest['manage_token']}")).status_code == 200
    after_body = await feed(client, path)
    after = props(after_body, event_uid(event))
    assert after["STATUS"] == "CANCELLED" and after["SUMMARY"] == "NOT GOING: Rally"
    assert int(after["SEQUENCE"]) > int(before["SEQUENCE"])
    assert after["LOCATION"] == "Zona Norte"
    # the organizer cancels the event: every manage feed says so
    await client.post(
        f"/v1/events/{event['id']}/cancel", json={"reason": "Rain"}, headers=organizer.headers
    )
    theirs = props(
        await feed(client, f"/v1/rsvps/manage/{other['manage_token']}/calendar.ics"),
        event_uid(event),
    )
    assert theirs["STATUS"] == "CANCELLED" and theirs["SUMMARY"] == "CANCELLED: Rally"


async def test_a_forged_manage_token_is_a_404(client):
    assert_problem(await client.get("/v1/rsvps/manage/cvn_rsvp_AAAA/calendar.ics"), 404)
