"""Housekeeping deletes what must not be kept, and nothing else."""

from __future__ import annotations

from api.worker import run_housekeeping
from tests.events_helpers import published_event
from tests.people import create_org, sign_up


async def test_housekeeping_deletes_expired_sessions_and_keeps_live_ones(client, conn):
    live = await sign_up(client, "Live")
    expired = await sign_up(client, "Expired")
    await conn.execute(
        "UPDATE sessions SET expires_at = now() - interval '1 minute' WHERE account_id = $1::uuid",
        expired.id,
    )
    counts = await run_housekeeping(conn)
    assert counts["sessions"] == 1
    remaining = await conn.fetch("SELECT account_id::text FROM sessions")
    assert [r["account_id"] for r in remaining] == [live.id]


async def test_housekeeping_erases_attendee_lists_past_their_retention_only(client, conn):
    organizer = await sign_up(client, "Organizer")
    org = await create_org(client, organizer)
    past = await published_event(client, org, organizer)
    current = await published_event(client, org, organizer)
    for event, alias in ((past, "Past"), (current, "Current")):
        response = await client.post(
            f"/v1/events/{event['id']}/rsvps",
            json={"alias": alias, "contact": f"{alias}@example.org"},
        )
        assert response.status_code == 201, response.text
    await conn.execute(
        "UPDATE events SET starts_at = now() - interval '28 hours', "
        "ends_at = now() - interval '26 hours' WHERE id = $1::uuid",
        past["id"],
    )
    counts = await run_housekeeping(conn)
    assert counts["rsvp_contacts"] == 1
    listed = await client.get(f"/v1/events/{past['id']}/rsvps", headers=organizer.headers)
    assert listed.json()["items"] == []
    listed = await client.get(f"/v1/events/{current['id']}/rsvps", headers=organizer.headers)
    assert [(a["alias"], a["contact"]) for a in listed.json()["items"]] == [
        ("Current", "Current@example.org")
    ]
    # the count of people going survives the purge
    event_now = await client.get(f"/v1/events/{past['id']}")
    assert event_now.json()["counts"]["going"] == 1
