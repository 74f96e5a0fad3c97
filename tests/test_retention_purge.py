"""The retention purge: attendee lists gone past their window, counts intact, receipts written,
keys destroyed so that a copy of the ciphertext taken before the purge opens with nothing
the live system holds; rides, trips, audit rows; nothing personal in replay or outbox rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from api.config import Settings
from api.crypto import DecryptionError, Keyring
from api.services import encryption
from api.services.retention import describe, run_retention, totals
from api.worker import run_housekeeping
from tests.conftest import settings_for
from tests.events_helpers import published_event
from tests.people import Person, create_org, sign_up
from tests.rides_helpers import confirmed, offer_ride, ride_world
from tests.trips_helpers import accepted, open_trip_for

#: ended this many hours ago; the default window for RSVP contacts is 24 h
HOURS_AGO = (0, 6, 12, 23, 25, 36, 48, 72)


def keyring() -> Keyring:
    return Keyring(settings_for("postgresql://unused@127.0.0.1/x").secret_key)


async def rsvp_with_contact(client: httpx.AsyncClient, event: dict[str, Any], alias: str) -> None:
    response = await client.post(
        f"/v1/events/{event['id']}/rsvps",
        json={"alias": alias, "contact": f"{alias.lower()}.{event['id'][:8]}@example.org"},
    )
    assert response.status_code == 201, response.text


async def end_event(conn: asyncpg.Connection, event: dict[str, Any], hours_ago: float) -> None:
    """Move an event into the past."""
    ends = datetime.now(UTC) - timedelta(hours=hours_ago)
    await conn.execute(
        "UPDATE events SET starts_at = $2, ends_at = $3 WHERE id = $1",
        UUID(event["id"]),
        ends - timedelta(hours=2),
        ends,
    )


async def contact_key(conn: asyncpg.Connection, event: dict[str, Any]) -> asyncpg.Record:
    row = await conn.fetchrow(
        "SELECT wrapped_key, destroyed_at FROM data_keys "
        "WHERE scope = 'event' AND scope_id = $1 AND data_class = 'rsvp_contact'",
        UUID(event["id"]),
    )
    assert row is not None
    return row


async def event_world(client: httpx.AsyncClient) -> tuple[Person, dict[str, Any]]:
    organizer = await sign_up(client, "Organizer")
    return organizer, await create_org(client, organizer)


async def test_lists_of_events_ended_0_to_72_hours_ago_go_after_24_hours_and_counts_stay(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    organizer, org = await event_world(client)
    events: dict[int, dict[str, Any]] = {}
    for hours in HOURS_AGO:
        event = await published_event(client, org, organizer)
        for alias in ("Lupe", "Juan", "Mar"):
            await rsvp_with_contact(client, event, alias)
        await end_event(conn, event, hours)
        events[hours] = event
    counts_before = {
        h: (await client.get(f"/v1/events/{e['id']}")).json()["counts"] for h, e in events.items()
    }
    listed_before = {
        h: (await client.get(f"/v1/events/{e['id']}/rsvps", headers=organizer.headers)).json()[
            "counts"
        ]
        for h, e in events.items()
    }

    first = await run_retention(conn)
    second = await run_retention(conn)

    past = [h for h in HOURS_AGO if h > 24]
    assert sorted((r["event_id"], r["row_count"], r["keys_destroyed"]) for r in first) == sorted(
        (UUID(events[h]["id"]), 3, 1) for h in past
    )
    assert all(r["data_class"] == "rsvp_contact" and r["window_hours"] == 24 for r in first)
    assert second == []  # nothing left to purge: a second run changes nothing
    assert totals(first)["rsvp_contacts"] == 3 * len(past)
    assert "rsvp_contact: 3 row(s), 1 key(s) destroyed, event " in describe(first[0])

    # no RSVP row past the window; everything within it intact
    left_past = await conn.fetchval(
        """
        SELECT count(*) FROM rsvps r JOIN events e ON e.id = r.event_id
         WHERE e.ends_at + interval '24 hours' <= now()
        """
    )
    assert left_past == 0
    for hours, event in events.items():
        held = await conn.fetchval(
            "SELECT count(*) FROM rsvps WHERE event_id = $1 AND contact_ciphertext IS NOT NULL",
            UUID(event["id"]),
        )
        key = await contact_key(conn, event)
        if hours > 24:
            assert held == 0 and key["wrapped_key"] is None and key["destroyed_at"], hours
        else:
            assert held == 3 and key["wrapped_key"] is not None, hours
    # the organizer's list is empty past the window, whole within it
    listed = await client.get(f"/v1/events/{events[72]['id']}/rsvps", headers=organizer.headers)
    assert listed.json()["items"] == []
    listed = await client.get(f"/v1/events/{events[23]['id']}/rsvps", headers=organizer.headers)
    assert {a["alias"] for a in listed.json()["items"]} == {"Lupe", "Juan", "Mar"}
    # counts intact: every event's counters and the organizer's counts per status
    for hours, event in events.items():
        assert (await client.get(f"/v1/events/{event['id']}")).json()["counts"] == counts_before[
            hours
        ]
        listed = await client.get(f"/v1/events/{event['id']}/rsvps", headers=organizer.headers)
        assert listed.json()["counts"] == listed_before[hours]
    # receipts written, once
    stored = await conn.fetch(
        "SELECT org_id, data_class, event_id, row_count, keys_destroyed FROM purge_receipts"
    )
    assert len(stored) == len(past)
    assert {r["org_id"] for r in stored} == {UUID(org["id"])}


async def test_a_copy_of_the_ciphertext_taken_before_the_purge_opens_with_nothing_left(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    organizer, org = await event_world(client)
    event = await published_event(client, org, organizer)
    await rsvp_with_contact(client, event, "Lupe")
    other = await published_event(client, org, organizer)  # still within its window
    await rsvp_with_contact(client, other, "Juan")
    # the backup: the row's ciphertext and the key row as they were before the purge
    ciphertext = await conn.fetchval(
        "SELECT contact_ciphertext FROM rsvps WHERE event_id = $1", UUID(event["id"])
    )
    backed_up_key = (await contact_key(conn, event))["wrapped_key"]
    scope = ("event", UUID(event["id"]), "rsvp_contact")
    aad = encryption.key_aad(*scope)
    ring = keyring()
    assert Keyring.decrypt(ring.unwrap(backed_up_key, aad), ciphertext, aad).endswith(
        "@example.org"
    )

    await end_event(conn, event, hours_ago=30)
    await run_retention(conn)

    # the live key row is NULL, and the app's own path returns nothing
    assert (await contact_key(conn, event))["wrapped_key"] is None
    assert await encryption.open_sealed(conn, ring, *scope, ciphertext) is None
    # no live wrapped key, under any scope, unwraps to a key that opens the saved copy
    live = await conn.fetch(
        "SELECT scope, scope_id, data_class, wrapped_key FROM data_keys "
        "WHERE wrapped_key IS NOT NULL"
    )
    assert live  # the other event's key, at least
    for row in live:
        data_key = ring.unwrap(row["wrapped_key"], encryption.key_aad(*row[:3]))
        with pytest.raises(DecryptionError):
            Keyring.decrypt(data_key, ciphertext, aad)
    # nor does the row itself hold anything any more
    assert (
        await conn.fetchval(
            "SELECT contact_ciphertext FROM rsvps WHERE event_id = $1", UUID(event["id"])
        )
        is None
    )
    # what the README warns about: the backed-up wrapped key still opens it, with the secret
    assert Keyring.decrypt(ring.unwrap(backed_up_key, aad), ciphertext, aad).endswith(
        "@example.org"
    )


async def test_the_worker_round_runs_the_purge_and_names_what_it_erased(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    organizer, org = await event_world(client)
    event = await published_event(client, org, organizer)
    await rsvp_with_contact(client, event, "Lupe")
    await end_event(conn, event, hours_ago=30)
    counts = await run_housekeeping(conn)
    assert counts["rsvp_contacts"] == 1 and counts["keys_destroyed"] == 1
    assert await conn.fetchval("SELECT count(*) FROM purge_receipts") == 1


async def test_an_event_whose_contact_key_was_shredded_still_answers_rsvps_properly(
    client: httpx.AsyncClient, conn: asyncpg.Connection, settings: Settings
) -> None:
    organizer, org = await event_world(client)
    event = await published_event(client, org, organizer)
    await rsvp_with_contact(client, event, "Lupe")
    backup = await conn.fetchval(
        "SELECT contact_ciphertext FROM rsvps WHERE event_id = $1", UUID(event["id"])
    )
    await end_event(conn, event, hours_ago=30)
    await run_retention(conn)
    late = await client.post(
        f"/v1/events/{event['id']}/rsvps", json={"alias": "Late", "contact": "late@example.org"}
    )
    assert late.status_code == 409, late.text
    starts = datetime.now(UTC) + timedelta(days=30)
    moved = await client.patch(
        f"/v1/events/{event['id']}",
        json={
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=2)).isoformat(),
        },
        headers=organizer.headers,
    )
    assert moved.status_code == 200, moved.text
    again = await client.post(
        f"/v1/events/{event['id']}/rsvps", json={"alias": "New", "contact": "new@example.org"}
    )
    assert again.status_code == 201, again.text
    # the new contact got a brand-new key: the shredded contact stays unreadable
    keyring = Keyring(settings.secret_key)
    with pytest.raises(DecryptionError):
        await encryption.open_sealed(
            conn, keyring, "event", UUID(event["id"]), "rsvp_contact", backup
        )


# ---------------------------------------------------------------- rides and trips


async def test_ride_pickups_and_rider_lists_go_after_the_ride_and_seat_counts_stay(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    w = await ride_world(client)
    offer = await offer_ride(client, w["event"], w["driver"])
    await confirmed(client, offer, w["rider"], w["driver"])
    request = await client.post(
        f"/v1/events/{w['event']['id']}/ride-requests",
        json={
            "seats": 1,
            "area": "Zona Centro",
            "lat": 32.53,
            "lon": -117.04,
            "earliest_at": offer["departs_at"],
            "latest_at": offer["departs_at"],
        },
        headers=w["other"].headers,
    )
    assert request.status_code == 201, request.text
    departs = datetime.fromisoformat(offer["departs_at"])

    assert await run_retention(conn, now=departs + timedelta(hours=23)) == []
    receipts = await run_retention(conn, now=departs + timedelta(hours=25))

    kinds = {r["data_class"]: r for r in receipts}
    assert set(kinds) == {"ride_pickup", "ride_riders"}
    assert kinds["ride_pickup"]["event_id"] == UUID(w["event"]["id"])
    assert (kinds["ride_pickup"]["row_count"], kinds["ride_pickup"]["keys_destroyed"]) == (1, 1)
    assert kinds["ride_riders"]["row_count"] == 2  # one booking, one request
    row = await conn.fetchrow(
        "SELECT pickup_ciphertext, contact_ciphertext, seats_taken FROM ride_offers WHERE id = $1",
        UUID(offer["id"]),
    )
    assert row is not None
    assert row["pickup_ciphertext"] is None and row["contact_ciphertext"] is None
    assert row["seats_taken"] == 1
    assert await conn.fetchval("SELECT count(*) FROM ride_bookings") == 0
    assert await conn.fetchval("SELECT count(*) FROM ride_requests") == 0
    assert await run_retention(conn, now=departs + timedelta(hours=26)) == []


async def test_trip_emergency_data_is_purged_on_schedule_with_a_receipt(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    owner = await sign_up(client, "Owner")
    ana = await sign_up(client, "Ana")
    org = await create_org(client, owner)
    trip = await open_trip_for(client, org, owner)
    await accepted(client, trip, ana, owner, emergency_contact={"name": "Rosa", "phone": "+52 1"})
    ends = datetime.fromisoformat(trip["ends_at"])
    before = await client.get(f"/v1/trips/{trip['id']}/applications", headers=owner.headers)
    counts_before = before.json()["counts"]
    assert counts_before["accepted"] == 1

    assert await run_retention(conn, now=ends + timedelta(days=6)) == []
    receipts = await run_retention(conn, now=ends + timedelta(days=8))

    assert [
        (r["data_class"], r["trip_id"], r["row_count"], r["keys_destroyed"], r["window_hours"])
        for r in receipts
    ] == [("trip_emergency", UUID(trip["id"]), 1, 1, 7 * 24)]
    # the applications are gone; their counts per state and role stay
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM trip_applications WHERE trip_id = $1", UUID(trip["id"])
        )
        == 0
    )
    listed = await client.get(f"/v1/trips/{trip['id']}/applications", headers=owner.headers)
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == []
    assert counts_before == listed.json()["counts"]


# ---------------------------------------------------------------- audit rows


async def test_audit_rows_older_than_the_window_are_deleted_with_a_receipt(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    org_id = UUID(org["id"])
    for days in (120, 91, 89, 1):
        await conn.execute(
            "INSERT INTO audit_log (org_id, action, subject_type, created_at) "
            "VALUES ($1, 'rsvps.listed', 'event', now() - make_interval(days => $2))",
            org_id,
            days,
        )
    kept_before = await conn.fetchval(
        "SELECT count(*) FROM audit_log WHERE created_at > now() - interval '90 days'"
    )

    receipts = await run_retention(conn)

    assert [(r["data_class"], r["org_id"], r["row_count"]) for r in receipts] == [
        ("audit_log", org_id, 2)
    ]
    assert receipts[0]["window_hours"] == 90 * 24
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE created_at <= now() - interval '90 days'"
        )
        == 0
    )
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE created_at > now() - interval '90 days'"
        )
        == kept_before
    )


# ---------------------------------------------------------------- replay and outbox rows


async def test_idempotency_and_outbox_rows_hold_nothing_personal_and_expire(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    organizer, org = await event_world(client)
    event = await published_event(client, org, organizer)
    secrets = ("Lupita Quispe", "lupita.77@example.org", "+52 664 123 4567")
    response = await client.post(
        f"/v1/events/{event['id']}/rsvps",
        json={"alias": secrets[0], "contact": secrets[1]},
        headers={"Idempotency-Key": "5f0c3c1e-8a57-4d0e-9a57-2b4f1c0d9e11"},
    )
    assert response.status_code == 201, response.text
    w = await ride_world(client)
    await offer_ride(client, w["event"], w["driver"], contact=secrets[2])
    trip = await open_trip_for(client, org, organizer)
    ana = await sign_up(client, "Ana")
    await accepted(
        client, trip, ana, organizer, emergency_contact={"name": secrets[0], "phone": secrets[2]}
    )

    columns = {
        r["column_name"]
        for r in await conn.fetch(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'idempotency_keys'"
        )
    }
    # a hash of the key's scope, the id made, a keyed hash of the body, and times: no values
    assert columns == {"scope_hash", "resource_id", "request_hash", "created_at", "expires_at"}
    rows = [
        *await conn.fetch("SELECT * FROM idempotency_keys"),
        *await conn.fetch("SELECT * FROM outbox"),
    ]
    assert len(rows) > 1
    dump = repr([dict(r) for r in rows])
    for secret in (*secrets, ana.email, organizer.email, "Ana"):
        assert secret not in dump, secret

    # and they do not outlive their purpose
    await conn.execute("UPDATE idempotency_keys SET expires_at = now() - interval '1 second'")
    await conn.execute("UPDATE outbox SET dispatched_at = now() - interval '8 days'")
    await run_housekeeping(conn)
    assert await conn.fetchval("SELECT count(*) FROM idempotency_keys") == 0
    assert await conn.fetchval("SELECT count(*) FROM outbox") == 0
