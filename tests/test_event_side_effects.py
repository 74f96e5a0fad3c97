"""What moving or postponing an event does to what hangs off it: rides and RSVP contacts."""

from __future__ import annotations

from datetime import datetime, timedelta

from api.services.retention import run_retention
from tests.events_helpers import published_event
from tests.people import create_org, join, sign_up
from tests.rides_helpers import offer_ride


async def test_postponing_an_event_flags_its_rides_for_confirmation(client):
    organizer = await sign_up(client, "Organizer")
    org = await create_org(client, organizer)
    driver = await sign_up(client, "Driver")
    await join(client, org, organizer, driver, "member")
    event = await published_event(client, org, organizer)
    offer = await offer_ride(client, event, driver)
    assert offer["event_changed"] is False
    postponed = await client.post(f"/v1/events/{event['id']}/postpone", headers=organizer.headers)
    assert postponed.status_code == 200, postponed.text
    seen = await client.get(f"/v1/ride-offers/{offer['id']}", headers=driver.headers)
    assert seen.json()["event_changed"] is True


async def test_moving_an_event_keeps_contacts_until_a_day_after_its_new_end(client, conn):
    organizer = await sign_up(client, "Organizer")
    org = await create_org(client, organizer)
    event = await published_event(client, org, organizer)
    rsvp = await client.post(
        f"/v1/events/{event['id']}/rsvps", json={"alias": "Luz", "contact": "luz@example.org"}
    )
    assert rsvp.status_code == 201
    new_start = datetime.fromisoformat(event["starts_at"]) + timedelta(days=10)
    new_end = new_start + timedelta(hours=2)
    moved = await client.patch(
        f"/v1/events/{event['id']}",
        json={"starts_at": new_start.isoformat(), "ends_at": new_end.isoformat()},
        headers=organizer.headers,
    )
    assert moved.status_code == 200, moved.text
    # the list is kept until a day after the new end, then goes
    assert await run_retention(conn, now=new_end + timedelta(hours=23)) == []
    listed = await client.get(f"/v1/events/{event['id']}/rsvps", headers=organizer.headers)
    assert [(a["alias"], a["contact"]) for a in listed.json()["items"]] == [
        ("Luz", "luz@example.org")
    ]
    assert [
        r["row_count"] for r in await run_retention(conn, now=new_end + timedelta(hours=25))
    ] == [1]
