""" "What do you hold about me?": the account export, and deleting an account for good."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.events_helpers import published_event
from tests.people import PASSWORD, Person, create_org, join, sign_up
from tests.problems import assert_problem
from tests.rides_helpers import confirmed, inbox_kinds, offer_ride
from tests.test_two_factor_helpers import Phone, turn_on_two_factor
from tests.trips_helpers import accepted, apply, decide, open_trip_for

CONTACT = "+52 664 555 0123"
EMERGENCY = {"name": "Rocío Tlatelpa", "phone": "+52 664 555 0777", "relation": "sister"}


async def delete_me(client: httpx.AsyncClient, who: Person, **body: Any) -> httpx.Response:
    body.setdefault("password", PASSWORD)
    return await client.request("DELETE", "/v1/me", json=body, headers=who.headers)


async def rsvp(
    client: httpx.AsyncClient, event: dict[str, Any], who: Person, **body: Any
) -> dict[str, Any]:
    body.setdefault("alias", who.account["display_name"])
    response = await client.post(f"/v1/events/{event['id']}/rsvps", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture
async def world(client):
    """An org run by Rosa with a public event (capacity 10) and a trip (2 places); Ana is a
    member; Beto is someone else with data of his own."""
    rosa = await sign_up(client, "Rosa")
    ana = await sign_up(client, "Ana Quintero")
    beto = await sign_up(client, "Beto Xocoyotzin")
    org = await create_org(client, rosa, "solidaridad")
    await join(client, org, rosa, ana, "member")
    event = await published_event(client, org, rosa, capacity=10)
    trip = await open_trip_for(client, org, rosa, capacity=2)
    return {"rosa": rosa, "ana": ana, "beto": beto, "org": org, "event": event, "trip": trip}


# ---------------------------------------------------------------- the export


async def test_the_export_holds_my_data_opened_and_nothing_of_anyone_else(client, conn, world):
    ana, beto, rosa = world["ana"], world["beto"], world["rosa"]
    mine = await rsvp(client, world["event"], ana, contact=CONTACT, guests=1)
    await rsvp(client, world["event"], beto, contact="beto@example.org", alias="Beto X")
    application = await apply(
        client, world["trip"], ana, emergency_contact=EMERGENCY, notes={"dietary": "Vegan"}
    )
    await apply(
        client,
        world["trip"],
        beto,
        emergency_contact={"name": "Someone Else", "phone": "+1 619 555 0199"},
    )
    offer = await offer_ride(client, world["event"], ana)
    await confirmed(client, offer, beto, ana)
    token_id = await conn.fetchval(
        "INSERT INTO feed_tokens (account_id, token_hash) VALUES ($1::uuid, $2) RETURNING id",
        ana.id,
        os.urandom(32),
    )

    response = await client.get("/v1/me/export", headers=ana.headers)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    export = response.json()
    assert export["account"]["email"] == ana.email
    assert export["two_factor"] == {"enabled": False, "recovery_codes_left": 0}
    assert [m["org_slug"] for m in export["memberships"]] == ["solidaridad"]
    assert [r["id"] for r in export["rsvps"]] == [mine["id"]]
    assert export["rsvps"][0]["contact"] == CONTACT
    assert export["rsvps"][0]["places"] == 2
    # the sealed alias opened, and when the list it is on goes (the event's end plus 24 h)
    assert export["rsvps"][0]["alias"] == mine["alias"]
    ends = datetime.fromisoformat(world["event"]["ends_at"])
    assert datetime.fromisoformat(export["rsvps"][0]["contact_purge_after"]) == ends + timedelta(
        hours=24
    )
    assert export["rsvps"][0]["event_title"] == world["event"]["title"]
    [app] = export["trip_applications"]
    assert app["id"] == application["id"]
    assert app["emergency_contact"] == EMERGENCY
    assert app["notes"]["dietary"] == "Vegan"
    assert [o["id"] for o in export["rides"]["offers"]] == [offer["id"]]
    assert export["rides"]["offers"][0]["pickup"]["address"]  # the driver's own pickup, opened
    # Ana's inbox: Beto asked for a seat on her ride
    assert [n["kind"] for n in export["notifications"]] == ["ride.booking_requested"]
    assert len(export["sessions"]) == 1
    assert set(export["sessions"][0]) == {"label", "expires_at"}
    assert export["feed_tokens"] == [str(token_id)]
    assert any(
        e["action"] == "member.added" and e["named_as"] == "subject" for e in export["audit_log"]
    )
    # nobody else's data: Beto's and Rosa's names, contacts and ids appear nowhere
    text = response.text
    for foreign in (
        "beto@example.org",
        "Beto X",
        "Someone Else",
        beto.email,
        beto.id,
        rosa.email,
    ):
        assert foreign not in text, foreign
    # tokens and hashes are never part of it
    assert ana.token not in text and "token_hash" not in text


async def test_the_export_names_no_one_else_in_its_audit_rows(client, world):
    rosa, ana = world["rosa"], world["ana"]
    changed = await client.patch(
        f"/v1/orgs/solidaridad/members/{ana.id}", json={"role": "organizer"}, headers=rosa.headers
    )
    assert changed.status_code == 200
    export = (await client.get("/v1/me/export", headers=rosa.headers)).json()
    acted = [e for e in export["audit_log"] if e["named_as"] == "actor"]
    assert {"member.added", "member.role_changed"} <= {e["action"] for e in acted}
    assert all(e["subject_id"] is None for e in acted if e["subject_type"] == "account")
    text = (await client.get("/v1/me/export", headers=rosa.headers)).text
    assert ana.id not in text and ana.email not in text and "Ana Quintero" not in text
    # Ana's own export shows the change made to her, with her id
    mine = (await client.get("/v1/me/export", headers=ana.headers)).json()
    about_me = [e for e in mine["audit_log"] if e["action"] == "member.role_changed"]
    assert about_me[0]["named_as"] == "subject" and about_me[0]["subject_id"] == ana.id


async def test_the_export_needs_a_session(client):
    assert_problem(await client.get("/v1/me/export"), 401, "unauthorized")


# ---------------------------------------------------------------- deleting an account


async def test_deleting_keeps_counts_and_leaves_anonymous_places(client, conn, world):
    ana, event = world["ana"], world["event"]
    mine = await rsvp(client, event, ana, contact=CONTACT, guests=2)
    await rsvp(client, event, world["beto"])
    before = (await client.get(f"/v1/events/{event['id']}/counts")).json()
    assert before["going"] == 4

    response = await delete_me(client, ana)
    assert response.status_code == 204

    after = (await client.get(f"/v1/events/{event['id']}/counts")).json()
    assert after == before
    row = await conn.fetchrow(
        """
        SELECT account_id, alias, contact_ciphertext, contact_purged_at, status, places
          FROM rsvps WHERE id = $1::uuid
        """,
        mine["id"],
    )
    assert row["account_id"] is None
    assert row["alias"] == "Former member"
    assert row["contact_ciphertext"] is None and row["contact_purged_at"] is not None
    assert (row["status"], row["places"]) == ("going", 3)
    # the old manage link no longer opens the RSVP
    gone = await client.get(f"/v1/rsvps/manage/{mine['manage_token']}")
    assert_problem(gone, 404, "not-found")
    # the organizer's list shows an anonymous place, nothing of Ana
    attendees = await client.get(f"/v1/events/{event['id']}/rsvps", headers=world["rosa"].headers)
    assert "Ana Quintero" not in attendees.text and CONTACT not in attendees.text


async def test_deleting_removes_the_account_its_sessions_and_keys(client, conn, world):
    ana = world["ana"]
    second = await client.post("/v1/sessions", json={"email": ana.email, "password": PASSWORD})
    await conn.execute(
        "INSERT INTO feed_tokens (account_id, token_hash) VALUES ($1::uuid, $2)",
        ana.id,
        os.urandom(32),
    )
    assert (await delete_me(client, ana)).status_code == 204

    for token in (ana.token, second.json()["token"]):
        me = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert_problem(me, 401, "unauthorized")
    login = await client.post("/v1/sessions", json={"email": ana.email, "password": PASSWORD})
    assert_problem(login, 401, "login-failed")
    left = await conn.fetchrow(
        """
        SELECT (SELECT count(*) FROM accounts WHERE id = $1::uuid) AS accounts,
               (SELECT count(*) FROM sessions WHERE account_id = $1::uuid) AS sessions,
               (SELECT count(*) FROM memberships WHERE account_id = $1::uuid) AS memberships,
               (SELECT count(*) FROM feed_tokens WHERE account_id = $1::uuid) AS feed_tokens,
               (SELECT count(*) FROM data_keys
                 WHERE scope = 'account' AND scope_id = $1::uuid) AS data_keys
        """,
        ana.id,
    )
    assert dict(left) == {
        "accounts": 0,
        "sessions": 0,
        "memberships": 0,
        "feed_tokens": 0,
        "data_keys": 0,
    }
    # the email is free again: a new sign-up with it is a new, unrelated account
    again = await client.post(
        "/v1/accounts", json={"email": ana.email, "display_name": "New", "password": PASSWORD}
    )
    assert again.status_code == 201 and again.json()["id"] != ana.id


async def test_deleting_removes_two_factor_data_and_needs_a_code(client, conn, world, monkeypatch):
    ana = world["ana"]
    phone = Phone(monkeypatch)
    await turn_on_two_factor(client, ana, phone)
    without = await delete_me(client, ana)
    assert_problem(without, 401, "two-factor-failed")
    assert (await delete_me(client, ana, totp_code=phone.code())).status_code == 204
    rows = await conn.fetchval(
        """
        SELECT (SELECT count(*) FROM account_totp WHERE account_id = $1::uuid)
             + (SELECT count(*) FROM recovery_codes WHERE account_id = $1::uuid)
        """,
        ana.id,
    )
    assert rows == 0


async def test_deleting_cancels_my_rides_with_notice(client, conn, world):
    ana, beto, rosa = world["ana"], world["beto"], world["rosa"]
    # Ana drives Beto; Ana also rides with Rosa
    offer = await offer_ride(client, world["event"], ana)
    await confirmed(client, offer, beto, ana)
    rosas = await offer_ride(client, world["event"], rosa, seats=3)
    await confirmed(client, rosas, ana, rosa, seats=2)
    assert (
        await conn.fetchval("SELECT seats_taken FROM ride_offers WHERE id = $1::uuid", rosas["id"])
        == 2
    )

    assert (await delete_me(client, ana)).status_code == 204

    assert "ride.cancelled" in await inbox_kinds(client, beto)
    notice = await conn.fetchrow(
        """
        SELECT payload FROM notifications
         WHERE account_id = $1::uuid AND kind = 'ride.cancelled'
        """,
        beto.id,
    )
    assert notice["payload"]["offer_id"] == offer["id"]
    assert "closed their" in notice["payload"]["message"]
    assert "ride.booking_cancelled" in await inbox_kinds(client, rosa)
    assert (
        await conn.fetchval("SELECT seats_taken FROM ride_offers WHERE id = $1::uuid", rosas["id"])
        == 0
    )
    # nothing of Ana's rides is left
    assert (
        await conn.fetchval(
            """
            SELECT (SELECT count(*) FROM ride_offers WHERE driver_id = $1::uuid)
                 + (SELECT count(*) FROM ride_bookings WHERE rider_id = $1::uuid)
            """,
            ana.id,
        )
        == 0
    )


async def test_deleting_withdraws_applications_and_the_waitlist_moves_up(client, conn, world):
    ana, beto, rosa, trip = world["ana"], world["beto"], world["rosa"], world["trip"]
    third = await sign_up(client, "Carmen")
    mine = await accepted(client, trip, ana, rosa, emergency_contact=EMERGENCY)
    await accepted(client, trip, beto, rosa)
    waiting = await apply(client, trip, third)
    assert (await decide(client, waiting, "waitlist", rosa)).status_code == 200

    assert (await delete_me(client, ana)).status_code == 204

    promoted = await client.get(f"/v1/trips/{trip['id']}/applications/mine", headers=third.headers)
    assert promoted.json()["status"] == "accepted", promoted.text
    row = await conn.fetchrow(
        """
        SELECT account_id, status, answers, emergency_contact_ciphertext, data_purged_at
          FROM trip_applications WHERE id = $1::uuid
        """,
        mine["id"],
    )
    assert row["account_id"] is None and row["status"] == "withdrawn"
    assert row["answers"] == {} and row["emergency_contact_ciphertext"] is None
    assert row["data_purged_at"] is not None
    places = await conn.fetchval("SELECT places_taken FROM trips WHERE id = $1::uuid", trip["id"])
    assert places == 2


async def test_the_last_owner_cannot_delete_their_account(client, conn, world):
    rosa = world["rosa"]
    second = await create_org(client, rosa, "another-org")
    response = await delete_me(client, rosa)
    body = assert_problem(response, 409, "last-owner")
    assert "solidaridad" in body["detail"] and second["slug"] in body["detail"]
    assert (await client.get("/v1/me", headers=rosa.headers)).status_code == 200
    # with a second owner in each, Rosa may go
    await join(client, second, rosa, world["beto"], "owner")
    promoted = await client.patch(
        f"/v1/orgs/solidaridad/members/{world['ana'].id}",
        json={"role": "owner"},
        headers=rosa.headers,
    )
    assert promoted.status_code == 200
    assert (await delete_me(client, rosa)).status_code == 204
    actions = await conn.fetch(
        "SELECT org_id, actor_id FROM audit_log WHERE action = 'member.account_deleted'"
    )
    assert {str(a["org_id"]) for a in actions} == {world["org"]["id"], second["id"]}
    assert all(a["actor_id"] is None for a in actions)


async def test_deleting_needs_the_password(client, world):
    ana = world["ana"]
    wrong = await delete_me(client, ana, password="not my password")
    assert_problem(wrong, 401, "password-wrong")
    assert (await client.get("/v1/me", headers=ana.headers)).status_code == 200
    missing = await client.request("DELETE", "/v1/me", json={}, headers=ana.headers)
    assert_problem(missing, 400, "invalid-request", detail_contains="password")
    anonymous = await client.request("DELETE", "/v1/me", json={"password": PASSWORD})
    assert_problem(anonymous, 401, "unauthorized")
