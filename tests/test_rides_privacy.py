"""Carpool privacy: the pickup is ciphertext at rest, seen only by the driver and confirmed
riders, and purged (key destroyed) after the retention period; nobody's contact leaks."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from api.services.my_rides import rides_for_calendar
from api.services.ride_pickups import purge_ride_pickups
from tests.events_helpers import published_event
from tests.people import create_org, join, sign_up
from tests.problems import assert_problem
from tests.rides_helpers import (
    CONTACT,
    PICKUP,
    act,
    book,
    booked,
    confirmed,
    get_offer,
    offer_ride,
    ride_world,
)

SECRETS = (PICKUP["address"], CONTACT, str(PICKUP["lat"]), str(PICKUP["lon"]), "blue gate")


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, secret


async def test_the_pickup_and_contact_are_ciphertext_in_the_raw_row(client, conn):
    w = await ride_world(client)
    offer = await offer_ride(client, w["event"], w["driver"])
    row = await conn.fetchrow("SELECT * FROM ride_offers WHERE id = $1", UUID(offer["id"]))
    assert row["pickup_ciphertext"] and row["contact_ciphertext"]
    for value in row.values():
        raw = value if isinstance(value, bytes) else str(value).encode()
        for secret in SECRETS:
            assert secret.encode() not in raw, secret
    # what is stored in the clear is the area: a label and the ~2 km grid point
    assert (row["area"], row["area_lat"], row["area_lon"]) == ("Colonia Libertad", 32.54, -117.02)
    key = await conn.fetchrow(
        "SELECT wrapped_key FROM data_keys WHERE scope = 'ride_offer' AND scope_id = $1 "
        "AND data_class = 'ride_pickup'",
        UUID(offer["id"]),
    )
    assert key["wrapped_key"] is not None


async def test_only_the_driver_and_confirmed_riders_see_the_pickup(client):
    organizer = await sign_up(client, "Rosa")
    org = await create_org(client, organizer)
    event = await published_event(client, org, organizer, visibility="members")
    people = {}
    for name in ("driver", "confirmed", "requested", "declined", "member"):
        people[name] = await sign_up(client, name.title())
        await join(client, org, organizer, people[name], "member")
    outsider = await sign_up(client, "Outsider")
    await create_org(client, outsider)
    offer = await offer_ride(client, event, people["driver"])
    await confirmed(client, offer, people["confirmed"], people["driver"])
    await booked(client, offer, people["requested"])
    declined = await booked(client, offer, people["declined"])
    assert (await act(client, declined, "decline", people["driver"])).status_code == 200

    driver_view = await get_offer(client, offer, people["driver"])
    assert driver_view["pickup"]["address"] == PICKUP["address"]
    assert driver_view["pickup"]["contact"] == CONTACT
    assert [r["display_name"] for r in driver_view["riders"]] == ["Confirmed"]
    rider_view = await get_offer(client, offer, people["confirmed"])
    assert rider_view["pickup"] == {
        "address": PICKUP["address"],
        "lat": PICKUP["lat"],
        "lon": PICKUP["lon"],
        "details": PICKUP["details"],
        "contact": CONTACT,
    }
    assert rider_view["riders"] is None and rider_view["driver_name"] == "Driver"

    for name in ("requested", "declined", "member"):
        who = people[name]
        for url in (
            f"/v1/ride-offers/{offer['id']}",
            f"/v1/events/{event['id']}/ride-offers",
            f"/v1/ride-offers/{offer['id']}/bookings",
            "/v1/me/rides",
            "/v1/me/notifications",
        ):
            response = await client.get(url, headers=who.headers)
            assert response.status_code == 200, (name, url, response.text)
            assert_no_secret(response.text)
            assert "Confirmed" not in response.text, (name, url)
        assert (await get_offer(client, offer, who))["pickup"] is None
    assert_problem(
        await client.get(f"/v1/ride-offers/{offer['id']}", headers=outsider.headers),
        404,
        "not-found",
    )
    anonymous = await client.get(f"/v1/ride-offers/{offer['id']}")
    assert_problem(anonymous, 401, "unauthorized")
    assert_no_secret(anonymous.text)


async def test_the_driver_sees_riders_names_but_riders_see_only_their_own_bookings(client):
    w = await ride_world(client)
    offer = await offer_ride(client, w["event"], w["driver"])
    mine = await confirmed(client, offer, w["rider"], w["driver"], seats=2)
    theirs = await booked(client, offer, w["other"])
    driver_list = await client.get(
        f"/v1/ride-offers/{offer['id']}/bookings", headers=w["driver"].headers
    )
    names = {b["id"]: (b["rider_name"], b["seats"]) for b in driver_list.json()["items"]}
    assert names == {mine["id"]: ("Luis", 2), theirs["id"]: ("Marta", 1)}
    rider_list = await client.get(
        f"/v1/ride-offers/{offer['id']}/bookings", headers=w["rider"].headers
    )
    assert [b["id"] for b in rider_list.json()["items"]] == [mine["id"]]
    assert rider_list.json()["items"][0]["rider_name"] is None
    assert "Marta" not in rider_list.text


async def test_notifications_carry_no_pickup_or_contact(client):
    w = await ride_world(client)
    offer = await offer_ride(client, w["event"], w["driver"])
    booking = await confirmed(client, offer, w["rider"], w["driver"])
    await act(client, booking, "cancel", w["rider"])
    await client.post(f"/v1/ride-offers/{offer['id']}/cancel", headers=w["driver"].headers)
    for who in (w["driver"], w["rider"]):
        response = await client.get("/v1/me/notifications", headers=who.headers)
        assert response.json()["items"], response.text
        assert_no_secret(response.text)


async def test_pickups_are_purged_after_the_retention_period_and_the_key_destroyed(client, conn):
    w = await ride_world(client)
    offer = await offer_ride(client, w["event"], w["driver"])
    await confirmed(client, offer, w["rider"], w["driver"])
    departs = datetime.fromisoformat(offer["departs_at"])

    assert await purge_ride_pickups(conn, now=departs + timedelta(hours=23)) == []
    assert (await get_offer(client, offer, w["rider"]))["pickup"] is not None

    purged = await purge_ride_pickups(conn, now=departs + timedelta(hours=25))
    assert [p["offer_id"] for p in purged] == [UUID(offer["id"])]
    row = await conn.fetchrow(
        "SELECT pickup_ciphertext, contact_ciphertext, pickup_purged_at, status "
        "FROM ride_offers WHERE id = $1",
        UUID(offer["id"]),
    )
    assert row["pickup_ciphertext"] is None and row["contact_ciphertext"] is None
    assert row["pickup_purged_at"] is not None and row["status"] == "completed"
    key = await conn.fetchrow(
        "SELECT wrapped_key, destroyed_at FROM data_keys WHERE scope = 'ride_offer' "
        "AND scope_id = $1 AND data_class = 'ride_pickup'",
        UUID(offer["id"]),
    )
    assert key["wrapped_key"] is None and key["destroyed_at"] is not None
    audit = await conn.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'ride.pickup_purged' AND subject_id = $1",
        UUID(offer["id"]),
    )
    assert audit == 1
    assert (await get_offer(client, offer, w["driver"]))["pickup"] is None
    assert (await get_offer(client, offer, w["rider"]))["pickup"] is None
    # a second run finds nothing left
    assert await purge_ride_pickups(conn, now=departs + timedelta(hours=26)) == []


async def test_the_retention_counts_from_the_return_leg(client, conn):
    w = await ride_world(client)
    starts = datetime.fromisoformat(w["event"]["starts_at"])
    back = starts + timedelta(hours=4)
    offer = await offer_ride(
        client, w["event"], w["driver"], return_departs_at=back, return_seats=2
    )
    departs = datetime.fromisoformat(offer["departs_at"])
    assert await purge_ride_pickups(conn, now=departs + timedelta(hours=25)) == []
    purged = await purge_ride_pickups(conn, now=back + timedelta(hours=24, seconds=1))
    assert [p["offer_id"] for p in purged] == [UUID(offer["id"])]
    shorter = await offer_ride(client, w["event"], w["other"])
    purged = await purge_ride_pickups(
        conn, now=datetime.fromisoformat(shorter["departs_at"]) + timedelta(hours=2), hours=1
    )
    assert [p["offer_id"] for p in purged] == [UUID(shorter["id"])]


async def test_cancelling_a_ride_purges_its_pickup_at_once(client, conn):
    w = await ride_world(client)
    offer = await offer_ride(client, w["event"], w["driver"])
    await client.post(f"/v1/ride-offers/{offer['id']}/cancel", headers=w["driver"].headers)
    row = await conn.fetchrow(
        "SELECT pickup_ciphertext, pickup_purged_at FROM ride_offers WHERE id = $1",
        UUID(offer["id"]),
    )
    assert row["pickup_ciphertext"] is None and row["pickup_purged_at"] is not None
    destroyed = await conn.fetchval(
        "SELECT wrapped_key IS NULL FROM data_keys WHERE scope = 'ride_offer' AND scope_id = $1",
        UUID(offer["id"]),
    )
    assert destroyed is True
    assert (await get_offer(client, offer, w["driver"]))["pickup"] is None
    assert_problem(await book(client, offer, w["rider"]), 409, "conflict")


async def test_calendar_rides_show_the_pickup_only_when_asked_and_allowed(client, conn):
    w = await ride_world(client)
    starts = datetime.fromisoformat(w["event"]["starts_at"])
    offer = await offer_ride(
        client,
        w["event"],
        w["driver"],
        return_departs_at=starts + timedelta(hours=3),
        return_seats=2,
    )
    kept = await confirmed(client, offer, w["rider"], w["driver"])
    await booked(client, offer, w["other"])
    keyring = client._transport.app.state.keyring
    since = datetime.fromisoformat(offer["departs_at"]) - timedelta(days=1)

    driving = await rides_for_calendar(conn, keyring, UUID(w["driver"].id), since=since)
    assert [(r.role, r.leg) for r in driving] == [("driver", "outbound"), ("driver", "return")]
    assert all(r.pickup is None for r in driving)
    driving = await rides_for_calendar(
        conn, keyring, UUID(w["driver"].id), since=since, include_pickup=True
    )
    assert driving[0].pickup is not None and driving[0].pickup.contact == CONTACT

    riding = await rides_for_calendar(
        conn, keyring, UUID(w["rider"].id), since=since, include_pickup=True
    )
    assert [(r.role, r.leg, r.status) for r in riding] == [("rider", "outbound", "open")]
    assert riding[0].pickup is not None and riding[0].booking_id == UUID(kept["id"])
    assert riding[0].driver_name == "Ana"
    asking = await rides_for_calendar(
        conn, keyring, UUID(w["other"].id), since=since, include_pickup=True
    )
    assert asking == []

    await act(client, kept, "cancel", w["rider"])
    riding = await rides_for_calendar(
        conn, keyring, UUID(w["rider"].id), since=since, include_pickup=True
    )
    assert [(r.status, r.pickup) for r in riding] == [("cancelled", None)]
