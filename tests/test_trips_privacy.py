"""Participant data: sealed at rest, shown only to the participant and the trip's organizers,
every organizer read audited, purged after the trip; checklists, the roster export and
announcements, each only for the people who should see them."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from api.crypto import Keyring
from api.services import encryption
from api.services.trip_participant_data import EMERGENCY_CLASS, purge_trip_participant_data
from tests.cohost_helpers import cohost
from tests.conftest import settings_for
from tests.people import Person, create_org, join, sign_up
from tests.problems import assert_problem
from tests.trips_helpers import accepted, apply, create_trip, decide, open_trip_for

CONTACT = {"name": "Rosa Martínez", "phone": "+52 664 555 0199", "relation": "sister"}
NOTES = {"medical": "Insulin twice a day", "dietary": "Vegetarian", "accessibility": None}
SECRETS = ("Rosa", "Martínez", "555 0199", "Insulin", "Vegetarian", "sister")


def _data_url(application: dict[str, Any]) -> str:
    return f"/v1/trip-applications/{application['id']}/participant-data"


async def _setting(client: httpx.AsyncClient) -> dict[str, Any]:
    """An org with an owner, a member, a trip, and Ana accepted with her contact and notes."""
    owner = await sign_up(client, "Organizer")
    member = await sign_up(client, "Member")
    ana = await sign_up(client, "Ana")
    ben = await sign_up(client, "Ben")
    org = await create_org(client, owner)
    await join(client, org, owner, member, "member")
    trip = await open_trip_for(client, org, owner)
    application = await accepted(client, trip, ana, owner, emergency_contact=CONTACT, notes=NOTES)
    other = await accepted(client, trip, ben, owner)
    return {
        "owner": owner,
        "member": member,
        "ana": ana,
        "ben": ben,
        "org": org,
        "trip": trip,
        "application": application,
        "other": other,
    }


async def test_emergency_contacts_and_notes_hold_no_plaintext_in_the_database(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    s = await _setting(client)
    assert s["application"]["has_participant_data"] is True
    row = await conn.fetchrow(
        "SELECT * FROM trip_applications WHERE id = $1", UUID(s["application"]["id"])
    )
    assert row is not None
    contact, notes = row["emergency_contact_ciphertext"], row["notes_ciphertext"]
    assert isinstance(contact, bytes) and isinstance(notes, bytes)
    dump = repr(dict(row)).encode() + contact + notes
    for secret in SECRETS:
        assert secret.encode() not in dump
        assert secret.encode("utf-16-le") not in dump
    # one data key per (trip, data class), stored only wrapped
    key = await conn.fetchrow(
        "SELECT wrapped_key, destroyed_at FROM data_keys "
        "WHERE scope = 'trip' AND scope_id = $1 AND data_class = $2",
        UUID(s["trip"]["id"]),
        EMERGENCY_CLASS,
    )
    assert key is not None and key["wrapped_key"] and key["destroyed_at"] is None


async def test_the_participant_and_organizers_read_the_data_and_organizer_reads_are_audited(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    s = await _setting(client)
    url = _data_url(s["application"])
    own = await client.get(url, headers=s["ana"].headers)
    assert own.status_code == 200, own.text
    assert own.json() == {
        "application_id": s["application"]["id"],
        "emergency_contact": CONTACT,
        "notes": NOTES,
        "purged_at": None,
    }
    assert own.headers["cache-control"] == "no-store"
    for _ in range(2):
        by_organizer = await client.get(url, headers=s["owner"].headers)
        assert by_organizer.status_code == 200
        assert by_organizer.json()["emergency_contact"] == CONTACT
    audit = await conn.fetch(
        "SELECT actor_id, action, subject_type, subject_id, detail FROM audit_log "
        "WHERE action = 'trip_participant_data.read' ORDER BY id"
    )
    # two organizer reads; the participant's own read is not an access to someone else's data
    assert [(a["actor_id"], a["subject_id"]) for a in audit] == [
        (UUID(s["owner"].id), UUID(s["application"]["id"]))
    ] * 2
    assert audit[0]["subject_type"] == "trip_application"
    assert audit[0]["detail"] == {"trip_id": s["trip"]["id"]}
    assert not any(secret in str(audit) for secret in SECRETS)


async def test_everyone_else_is_refused_the_participant_data(client: httpx.AsyncClient) -> None:
    s = await _setting(client)
    elsewhere = await sign_up(client, "Elsewhere")
    await create_org(client, elsewhere)
    partner = await sign_up(client, "Partner")
    partner_org = await create_org(client, partner)
    await cohost(client, "trip", s["trip"]["id"], s["owner"], partner_org["slug"], partner)
    url = _data_url(s["application"])
    assert_problem(await client.get(url), 401, "unauthorized")
    for stranger in (s["ben"], s["member"], elsewhere):
        response = await client.get(url, headers=stranger.headers)
        body = assert_problem(response, 404, "not-found")
        assert not any(secret in response.text for secret in SECRETS), body
    # a co-host's organizer sees the trip, but not its people unless granted
    assert_problem(await client.get(url, headers=partner.headers), 403, "forbidden")
    # writing: only the participant
    put = {"emergency_contact": CONTACT}
    assert_problem(await client.put(url, json=put), 401, "unauthorized")
    assert_problem(await client.put(url, json=put, headers=s["owner"].headers), 403, "forbidden")
    assert_problem(await client.put(url, json=put, headers=s["ben"].headers), 404, "not-found")


async def test_the_participant_replaces_and_removes_their_data(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    s = await _setting(client)
    url = _data_url(s["other"])
    stored = await client.put(
        url,
        json={"emergency_contact": {"name": "Tío Beto", "phone": "+1 619 555 0100"}},
        headers=s["ben"].headers,
    )
    assert stored.status_code == 200, stored.text
    assert stored.json()["emergency_contact"] == {
        "name": "Tío Beto",
        "phone": "+1 619 555 0100",
        "relation": None,
    }
    assert stored.json()["notes"] is None
    raw = await conn.fetchval(
        "SELECT emergency_contact_ciphertext FROM trip_applications WHERE id = $1",
        UUID(s["other"]["id"]),
    )
    assert b"Beto" not in raw
    cleared = await client.put(url, json={}, headers=s["ben"].headers)
    assert cleared.json()["emergency_contact"] is None
    assert_problem(
        await client.put(
            url,
            json={"emergency_contact": {"name": "X", "phone": "call me"}},
            headers=s["ben"].headers,
        ),
        400,
        "invalid-request",
        pointer="#/emergency_contact/phone",
    )
    # a withdrawn application's data no longer changes
    await client.post(
        f"/v1/trip-applications/{s['other']['id']}/withdraw", headers=s["ben"].headers
    )
    assert_problem(
        await client.put(url, json={"emergency_contact": CONTACT}, headers=s["ben"].headers),
        409,
        "conflict",
    )


# ---------------------------------------------------------------- the purge


async def _end_trip(conn: asyncpg.Connection, trip: dict[str, Any], days_ago: float) -> None:
    ends = datetime.now(UTC) - timedelta(days=days_ago)
    await conn.execute(
        "UPDATE trips SET starts_at = $2, ends_at = $3, application_deadline = NULL WHERE id = $1",
        UUID(trip["id"]),
        ends - timedelta(days=3),
        ends,
    )


async def test_the_purge_deletes_the_applications_destroys_the_key_and_keeps_counts(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    s = await _setting(client)
    recent = await open_trip_for(client, s["org"], s["owner"])
    recent_app = await accepted(client, recent, s["ana"], s["owner"], emergency_contact=CONTACT)
    await _end_trip(conn, s["trip"], days_ago=8)
    await _end_trip(conn, recent, days_ago=3)
    before = await conn.fetchrow(
        "SELECT emergency_contact_ciphertext FROM trip_applications WHERE id = $1",
        UUID(s["application"]["id"]),
    )
    copy_of_ciphertext = before["emergency_contact_ciphertext"]
    listed = await client.get(
        f"/v1/trips/{s['trip']['id']}/applications", headers=s["owner"].headers
    )
    counts_before = listed.json()["counts"]
    assert counts_before["accepted"] == 2

    purged = await purge_trip_participant_data(conn, days=7)

    assert purged == [
        {
            "trip_id": UUID(s["trip"]["id"]),
            "org_id": UUID(s["org"]["id"]),
            "applications_purged": 1,
            "key_destroyed": True,
        }
    ]
    # who applied, their answers and roles, their sealed data: all gone; counts stay
    rows = await conn.fetch(
        "SELECT id FROM trip_applications WHERE trip_id = $1", UUID(s["trip"]["id"])
    )
    assert rows == []
    listed = await client.get(
        f"/v1/trips/{s['trip']['id']}/applications", headers=s["owner"].headers
    )
    assert listed.json()["items"] == [] and listed.json()["counts"] == counts_before
    trip_row = await conn.fetchrow(
        "SELECT places_taken FROM trips WHERE id = $1", UUID(s["trip"]["id"])
    )
    assert trip_row["places_taken"] == 2
    key = await conn.fetchrow(
        "SELECT wrapped_key, destroyed_at FROM data_keys WHERE scope = 'trip' AND scope_id = $1",
        UUID(s["trip"]["id"]),
    )
    assert key["wrapped_key"] is None and key["destroyed_at"] is not None
    # any copy of the ciphertext (a backup) is now unreadable
    keyring = Keyring(settings_for("postgresql://unused@127.0.0.1/x").secret_key)
    opened = await encryption.open_sealed(
        conn, keyring, "trip", UUID(s["trip"]["id"]), EMERGENCY_CLASS, copy_of_ciphertext
    )
    assert opened is None
    audit = await conn.fetchrow(
        "SELECT actor_id, detail FROM audit_log WHERE action = 'trip_participant_data.purged' "
        "AND subject_id = $1",
        UUID(s["trip"]["id"]),
    )
    assert audit["actor_id"] is None
    assert audit["detail"] == {"applications_purged": 1, "key_destroyed": True, "days": 7}

    # the application itself is gone, so nothing more can be stored on it
    seen = await client.get(_data_url(s["application"]), headers=s["ana"].headers)
    assert seen.status_code == 404
    put = await client.put(
        _data_url(s["application"]), json={"emergency_contact": CONTACT}, headers=s["ana"].headers
    )
    assert put.status_code == 404
    # the trip that ended 3 days ago keeps its data; running again purges nothing new
    kept = await client.get(_data_url(recent_app), headers=s["ana"].headers)
    assert kept.json()["emergency_contact"] == CONTACT
    assert await purge_trip_participant_data(conn, days=7) == []
    # a shorter retention reaches it
    assert [p["trip_id"] for p in await purge_trip_participant_data(conn, days=2)] == [
        UUID(recent["id"])
    ]


async def test_a_cancelled_trip_is_purged_counting_from_its_cancellation(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    owner = await sign_up(client)
    ana = await sign_up(client, "Ana")
    org = await create_org(client, owner)
    trip = await open_trip_for(client, org, owner)
    await apply(client, trip, ana, emergency_contact=CONTACT)
    await client.post(
        f"/v1/trips/{trip['id']}/cancel", json={"reason": "Storm"}, headers=owner.headers
    )
    now = datetime.now(UTC)
    assert await purge_trip_participant_data(conn, now=now + timedelta(days=6), days=7) == []
    purged = await purge_trip_participant_data(conn, now=now + timedelta(days=8), days=7)
    assert [p["trip_id"] for p in purged] == [UUID(trip["id"])]


# ---------------------------------------------------------------- roster export


async def test_the_roster_export_is_audited_and_leaves_contacts_out_unless_asked_with_a_reason(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    s = await _setting(client)
    sly = await sign_up(client, "=HYPERLINK(1)")
    await accepted(client, s["trip"], sly, s["owner"])
    await client.post(
        f"/v1/trips/{s['trip']['id']}/checklist",
        json={"title": {"en": "Waiver signed"}},
        headers=s["owner"].headers,
    )
    url = f"/v1/trips/{s['trip']['id']}/roster.csv"
    plain = await client.get(url, headers=s["owner"].headers)
    assert plain.status_code == 200, plain.text
    assert plain.headers["content-type"].startswith("text/csv")
    assert plain.headers["cache-control"] == "no-store"
    rows = list(csv.reader(io.StringIO(plain.text)))
    assert rows[0] == ["display_name", "roles", "accepted_at", "outstanding", "Waiver signed"]
    assert [r[0] for r in rows[1:]] == ["Ana", "Ben", "'=HYPERLINK(1)"]
    assert not any(secret in plain.text for secret in SECRETS)

    assert_problem(
        await client.get(f"{url}?include_emergency_contacts=true", headers=s["owner"].headers),
        422,
        "rule-violation",
        pointer="#/query/reason",
    )
    full = await client.get(
        f"{url}?include_emergency_contacts=true&reason=Bus%20manifest%20for%20the%20crossing",
        headers=s["owner"].headers,
    )
    assert full.status_code == 200
    rows = list(csv.reader(io.StringIO(full.text)))
    assert rows[0][-6:] == [
        "emergency_contact_name",
        "emergency_contact_phone",
        "emergency_contact_relation",
        "medical_notes",
        "dietary_notes",
        "accessibility_notes",
    ]
    assert rows[1][-6:] == [
        "Rosa Martínez",
        "'+52 664 555 0199",
        "sister",
        "Insulin twice a day",
        "Vegetarian",
        "",
    ]

    audit = await conn.fetch(
        "SELECT actor_id, detail FROM audit_log WHERE action = 'trip_roster.exported' ORDER BY id"
    )
    assert [a["detail"] for a in audit] == [
        {"rows": 3, "include_emergency_contacts": False, "reason": None},
        {"rows": 3, "include_emergency_contacts": True, "reason": "Bus manifest for the crossing"},
    ]
    assert all(a["actor_id"] == UUID(s["owner"].id) for a in audit)

    assert_problem(await client.get(url), 401, "unauthorized")
    for other in (s["member"], s["ana"]):
        assert_problem(await client.get(url, headers=other.headers), 403, "forbidden")


# ---------------------------------------------------------------- checklists


async def test_each_participant_has_a_checklist_and_organizers_see_what_is_outstanding(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    s = await _setting(client)
    trip_url = f"/v1/trips/{s['trip']['id']}"
    items = []
    for title in ("Waiver signed", "Training attended", "Paid"):
        created = await client.post(
            f"{trip_url}/checklist", json={"title": {"en": title}}, headers=s["owner"].headers
        )
        assert created.status_code == 201, created.text
        items.append(created.json())
    assert [i["position"] for i in items] == [1, 2, 3]
    mark = f"/v1/trip-applications/{s['application']['id']}/checklist"
    by_ana = await client.put(
        f"{mark}/{items[0]['id']}", json={"done": True}, headers=s["ana"].headers
    )
    assert by_ana.status_code == 200, by_ana.text
    assert by_ana.json()["outstanding"] == 2
    by_owner = await client.put(
        f"{mark}/{items[2]['id']}", json={"done": True}, headers=s["owner"].headers
    )
    assert by_owner.json()["outstanding"] == 1
    undone = await client.put(
        f"{mark}/{items[2]['id']}", json={"done": False}, headers=s["ana"].headers
    )
    assert [e["done"] for e in undone.json()["entries"]] == [True, False, False]

    overview = await client.get(f"{trip_url}/checklist", headers=s["owner"].headers)
    assert overview.status_code == 200
    people = {p["display_name"]: p for p in overview.json()["participants"]}
    assert people["Ana"]["outstanding"] == 2 and people["Ben"]["outstanding"] == 3
    assert people["Ana"]["entries"][0]["completed_at"] is not None

    own = await client.get(f"{trip_url}/checklist", headers=s["ben"].headers)
    assert [p["application_id"] for p in own.json()["participants"]] == [s["other"]["id"]]

    # the others
    assert_problem(await client.get(f"{trip_url}/checklist"), 401, "unauthorized")
    assert_problem(
        await client.get(f"{trip_url}/checklist", headers=s["member"].headers), 403, "forbidden"
    )
    assert_problem(
        await client.put(f"{mark}/{items[1]['id']}", json={"done": True}, headers=s["ben"].headers),
        404,
        "not-found",
    )
    assert_problem(
        await client.put(
            f"{mark}/00000000-0000-4000-8000-000000000000",
            json={"done": True},
            headers=s["ana"].headers,
        ),
        404,
        "not-found",
    )
    assert_problem(
        await client.post(
            f"{trip_url}/checklist", json={"title": {"en": "x"}}, headers=s["ana"].headers
        ),
        403,
        "forbidden",
    )
    cai = await sign_up(client, "Cai")
    pending = await apply(client, s["trip"], cai)
    assert_problem(
        await client.put(
            f"/v1/trip-applications/{pending['id']}/checklist/{items[0]['id']}",
            json={"done": True},
            headers=cai.headers,
        ),
        409,
        "conflict",
    )


# ---------------------------------------------------------------- announcements


async def _announce(client: httpx.AsyncClient, trip: dict[str, Any], by: Person, text: str) -> Any:
    return await client.post(
        f"/v1/trips/{trip['id']}/announcements", json={"body": {"en": text}}, headers=by.headers
    )


async def test_announcements_reach_accepted_participants_newest_first(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    s = await _setting(client)
    cai = await sign_up(client, "Cai")
    pending = await apply(client, s["trip"], cai)
    first = await _announce(client, s["trip"], s["owner"], "Bring your passport")
    assert first.status_code == 201, first.text
    assert first.json()["recipients"] == 2
    second = await _announce(client, s["trip"], s["owner"], "We leave at 6")
    url = f"/v1/trips/{s['trip']['id']}/announcements"
    read = await client.get(url, headers=s["ana"].headers)
    assert read.status_code == 200
    assert [a["id"] for a in read.json()["items"]] == [second.json()["id"], first.json()["id"]]
    assert read.json()["items"][0]["display_body"] == "We leave at 6"
    page = await client.get(f"{url}?limit=1", headers=s["owner"].headers)
    rest = await client.get(
        f"{url}?limit=1&cursor={page.json()['next_cursor']}", headers=s["owner"].headers
    )
    assert [a["id"] for a in rest.json()["items"]] == [first.json()["id"]]
    inbox = await conn.fetch(
        "SELECT account_id FROM notifications WHERE kind = 'trip.announcement' AND trip_id = $1",
        UUID(s["trip"]["id"]),
    )
    assert sorted(str(r["account_id"]) for r in inbox) == sorted([s["ana"].id, s["ben"].id] * 2)

    assert_problem(await client.get(url), 401, "unauthorized")
    for outsider in (cai, s["member"]):
        assert_problem(await client.get(url, headers=outsider.headers), 403, "forbidden")
    assert_problem(await _announce(client, s["trip"], s["ana"], "hi"), 403, "forbidden")
    assert (await decide(client, pending, "accept", s["owner"])).status_code == 200
    assert (await client.get(url, headers=cai.headers)).status_code == 200
    draft = await create_trip(client, s["org"], s["owner"])
    assert_problem(await _announce(client, draft, s["owner"], "hello"), 409, "conflict")
    assert_problem(
        await client.post(url, json={"body": {}}, headers=s["owner"].headers),
        400,
        "invalid-request",
    )
