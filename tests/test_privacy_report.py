"""The subpoena drill: for one person (a member, anyone else the org holds data about, or the
holder of an RSVP's manage link), every field the org's data holds about them, in what form,
and when the sensitive ones are purged; owners only (or the manage link's holder), by route
and by command, as JSON or on one page of text."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.events_helpers import published_event
from tests.people import create_org, join, sign_up
from tests.problems import assert_problem
from tests.rides_helpers import PICKUP, booked, offer_ride
from tests.test_two_factor_helpers import Phone, turn_on_two_factor
from tests.trips_helpers import apply, open_trip_for

CONTACT = "lupita.rq@example.org"
EMERGENCY = {"name": "Rocío Tlatelpa", "phone": "+52 664 555 0777"}
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def drill(client, monkeypatch):
    """Rosa owns an org; Lupe, a member, RSVPed with a contact, applied to a trip with an
    emergency contact, offers a ride and has two-factor on; Lupe is also active elsewhere."""
    rosa = await sign_up(client, "Rosa")
    organizer = await sign_up(client, "Tomás")
    lupe = await sign_up(client, "Lupe Reyes")
    org = await create_org(client, rosa, "drill-org")
    await join(client, org, rosa, organizer, "organizer")
    await join(client, org, rosa, lupe, "member")
    event = await published_event(client, org, rosa)
    rsvp = await client.post(
        f"/v1/events/{event['id']}/rsvps",
        json={"alias": "La Lupe", "contact": CONTACT},
        headers=lupe.headers,
    )
    assert rsvp.status_code == 201
    trip = await open_trip_for(client, org, rosa)
    application = await apply(client, trip, lupe, emergency_contact=EMERGENCY)
    offer = await offer_ride(client, event, lupe)
    await turn_on_two_factor(client, lupe, Phone(monkeypatch))
    # elsewhere: another org's event that Rosa's org must not learn about
    other_owner = await sign_up(client, "Other")
    other = await create_org(client, other_owner, "other-org")
    other_event = await published_event(client, other, other_owner)
    await client.post(
        f"/v1/events/{other_event['id']}/rsvps", json={"alias": "L"}, headers=lupe.headers
    )
    return {
        "rosa": rosa,
        "organizer": organizer,
        "lupe": lupe,
        "other_owner": other_owner,
        "org": org,
        "event": event,
        "rsvp": rsvp.json(),
        "trip": trip,
        "application": application,
        "offer": offer,
    }


def _url(world: dict[str, Any], member_id: str | None = None) -> str:
    member = member_id or world["lupe"].id
    return f"/v1/orgs/{world['org']['slug']}/members/{member}/privacy-report"


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_the_report_lists_every_table_and_field_and_their_form(client, conn, drill):
    response = await client.get(_url(drill), headers=drill["rosa"].headers)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    report = response.json()
    assert report["account_id"] == drill["lupe"].id and report["role"] == "member"
    tables = {(t["table"], t["linked_by"]): t for t in report["tables"]}
    fields = {(t["table"], f["name"]): f["storage"] for t in report["tables"] for f in t["fields"]}
    assert fields[("accounts", "email_ciphertext")] == "encrypted"
    assert fields[("accounts", "email_lookup")] == "hashed"
    assert fields[("accounts", "password_hash")] == "hashed"
    assert fields[("accounts", "display_name")] == "plaintext"
    assert fields[("rsvps", "contact_ciphertext")] == "encrypted"
    assert fields[("rsvps", "alias")] == "plaintext"
    assert fields[("rsvps", "manage_token_hash")] == "hashed"
    assert fields[("trip_applications", "emergency_contact_ciphertext")] == "encrypted"
    assert fields[("ride_offers", "pickup_ciphertext")] == "encrypted"
    assert fields[("sessions", "token_hash")] == "hashed"
    assert fields[("account_totp", "secret_ciphertext")] == "encrypted"
    assert fields[("recovery_codes", "code_hash")] == "hashed"
    # this org's rows only: the RSVP elsewhere is not counted
    assert tables[("rsvps", "account_id")]["rows"] == 1
    assert tables[("rsvps", "account_id")]["scope"] == "organization"
    assert tables[("sessions", "account_id")]["scope"] == "account"
    assert tables[("memberships", "account_id")]["rows"] == 1
    assert tables[("recovery_codes", "account_id")]["rows"] == 10
    assert "anonymized" in tables[("rsvps", "account_id")]["on_account_deletion"]
    # every column of every table listed, as the database has them
    for (table, _), entry in tables.items():
        columns = await conn.fetch(
            """
            SELECT attname::text AS name FROM pg_attribute
             WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum
            """,
            table,
        )
        assert [f["name"] for f in entry["fields"]] == [c["name"] for c in columns]
    assert any("IP addresses" in item for item in report["never_stored"])


async def test_the_report_misses_no_table_that_points_at_the_member(client, conn, drill):
    """Checked against the catalog independently: every foreign key to accounts whose table
    holds a row for the member in this org (or account-wide) is in the report."""
    report = (await client.get(_url(drill), headers=drill["rosa"].headers)).json()
    listed = {(t["table"], t["linked_by"]) for t in report["tables"]}
    refs = await conn.fetch(
        """
        SELECT cl.relname::text AS t, a.attname::text AS c
          FROM pg_constraint k
          JOIN pg_class cl ON cl.oid = k.conrelid
          JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
         WHERE k.contype = 'f' AND k.confrelid = 'accounts'::regclass
        """
    )
    checked = 0
    for ref in refs:
        if ref["t"] in ("rsvps", "notifications"):
            continue  # Lupe has rows elsewhere in these: scoped, checked above
        rows = await conn.fetchval(
            f'SELECT count(*) FROM "{ref["t"]}" WHERE "{ref["c"]}" = $1::uuid', drill["lupe"].id
        )
        if rows:
            checked += 1
            assert (ref["t"], ref["c"]) in listed, (ref["t"], ref["c"])
    assert checked >= 6


async def test_the_report_says_when_each_sealed_field_is_purged(client, conn, drill):
    report = (await client.get(_url(drill), headers=drill["rosa"].headers)).json()
    purges = {p["table"]: p for p in report["purges"]}
    rsvp = purges["rsvps"]
    assert rsvp["row_id"] == drill["rsvp"]["id"] and rsvp["state"] == "held"
    assert _when(rsvp["purge_after"]) == _when(drill["event"]["ends_at"]) + timedelta(hours=24)
    application = purges["trip_applications"]
    assert application["row_id"] == drill["application"]["id"]
    assert _when(application["purge_after"]) == _when(drill["trip"]["ends_at"]) + timedelta(days=7)
    ride = purges["ride_offers"]
    assert ride["row_id"] == drill["offer"]["id"]
    assert _when(ride["purge_after"]) == _when(drill["offer"]["departs_at"]) + timedelta(hours=24)
    # once purged, the report says so and when
    await conn.execute(
        """
        UPDATE rsvps SET contact_ciphertext = NULL, contact_purged_at = now()
         WHERE id = $1::uuid
        """,
        drill["rsvp"]["id"],
    )
    again = (await client.get(_url(drill), headers=drill["rosa"].headers)).json()
    purged = next(p for p in again["purges"] if p["table"] == "rsvps")
    assert purged["state"] == "purged" and purged["purged_at"] and purged["purge_after"] is None


async def test_the_report_follows_the_orgs_shorter_retention(client, drill):
    shortened = await client.patch(
        f"/v1/orgs/{drill['org']['slug']}/retention",
        json={"rsvp_contact_hours": 2, "ride_pickup_hours": 1, "trip_emergency_days": 3},
        headers=drill["rosa"].headers,
    )
    assert shortened.status_code == 200, shortened.text
    report = (await client.get(_url(drill), headers=drill["rosa"].headers)).json()
    purges = {p["table"]: p for p in report["purges"]}
    assert _when(purges["rsvps"]["purge_after"]) == _when(drill["event"]["ends_at"]) + timedelta(
        hours=2
    )
    assert _when(purges["trip_applications"]["purge_after"]) == _when(
        drill["trip"]["ends_at"]
    ) + timedelta(days=3)
    assert _when(purges["ride_offers"]["purge_after"]) == _when(
        drill["offer"]["departs_at"]
    ) + timedelta(hours=1)
    texts = {t["table"]: t["retention"] for t in report["tables"]}
    assert "2 h after the event ends" in texts["rsvps"]
    assert "3 days after the trip" in texts["trip_applications"]


async def test_the_report_shows_no_values(client, drill):
    response = await client.get(_url(drill), headers=drill["rosa"].headers)
    for value in (
        drill["lupe"].email,
        "La Lupe",
        CONTACT,
        EMERGENCY["name"],
        EMERGENCY["phone"],
        PICKUP["address"],
        "Lupe Reyes",
    ):
        assert value not in response.text, value


async def test_only_owners_run_the_drill(client, conn, drill):
    url = _url(drill)
    assert_problem(await client.get(url), 401, "unauthorized")
    for who in ("organizer", "lupe"):
        response = await client.get(url, headers=drill[who].headers)
        assert_problem(response, 403, "forbidden", detail_contains="owner")
    assert_problem(await client.get(url, headers=drill["other_owner"].headers), 403, "forbidden")
    stranger = drill["other_owner"]
    not_member = await client.get(_url(drill, stranger.id), headers=drill["rosa"].headers)
    assert_problem(not_member, 404, "not-found")
    assert (await client.get(url, headers=drill["rosa"].headers)).status_code == 200
    row = await conn.fetchrow(
        """
        SELECT actor_id, subject_id FROM audit_log
         WHERE org_id = $1::uuid AND action = 'privacy_report.viewed'
        """,
        drill["org"]["id"],
    )
    assert (str(row["actor_id"]), str(row["subject_id"])) == (drill["rosa"].id, drill["lupe"].id)


async def test_the_report_covers_someone_who_is_not_a_member(client, conn, drill):
    """Nico never joined the org: he RSVPed, applied to its trip and booked a seat on a ride."""
    nico = await sign_up(client, "Nico Paz")
    rsvp = await client.post(
        f"/v1/events/{drill['event']['id']}/rsvps",
        json={"alias": "Nico", "contact": "nico@example.org"},
        headers=nico.headers,
    )
    assert rsvp.status_code == 201
    await apply(client, drill["trip"], nico, emergency_contact=EMERGENCY)
    await booked(client, drill["offer"], nico)
    url = _url(drill, nico.id)
    response = await client.get(url, headers=drill["rosa"].headers)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["subject"] == "non_member" and report["role"] is None
    assert report["account_id"] == nico.id
    tables = {(t["table"], t["linked_by"]): t for t in report["tables"]}
    assert tables[("rsvps", "account_id")]["rows"] == 1
    assert tables[("trip_applications", "account_id")]["rows"] == 1
    assert tables[("ride_bookings", "rider_id")]["rows"] == 1
    assert ("memberships", "account_id") not in tables
    assert {p["table"] for p in report["purges"]} == {"rsvps", "trip_applications"}
    for value in ("Nico", "nico@example.org", nico.email, EMERGENCY["phone"]):
        assert value not in response.text
    # still owners only, and written to the audit log
    for who in ("organizer", "lupe", "other_owner"):
        assert_problem(await client.get(url, headers=drill[who].headers), 403, "forbidden")
    assert_problem(await client.get(url), 401, "unauthorized")
    assert_problem(await client.get(url, headers=nico.headers), 403, "forbidden")
    subjects = await conn.fetch(
        """
        SELECT subject_id FROM audit_log
         WHERE org_id = $1::uuid AND action = 'privacy_report.viewed'
        """,
        drill["org"]["id"],
    )
    assert [str(r["subject_id"]) for r in subjects] == [nico.id]


async def test_feed_tokens_are_said_to_be_the_members_to_revoke(client, drill):
    created = await client.post("/v1/me/feed-tokens", headers=drill["lupe"].headers)
    assert created.status_code == 201
    report = (await client.get(_url(drill), headers=drill["rosa"].headers)).json()
    [feed] = [t for t in report["tables"] if t["table"] == "feed_tokens"]
    assert feed["scope"] == "account"
    assert "revokes" in feed["retention"]
    assert "organization" not in feed["retention"]


async def test_the_holder_of_a_manage_link_sees_what_is_held_about_their_rsvp(client, conn, drill):
    made = await client.post(
        f"/v1/events/{drill['event']['id']}/rsvps",
        json={"alias": "Sin Cuenta", "contact": "+52 664 000 1234", "language_needs": ["mam"]},
    )
    assert made.status_code == 201
    token = made.json()["manage_token"]
    audit_before = await conn.fetchval("SELECT count(*) FROM audit_log")
    url = f"/v1/rsvps/manage/{token}/privacy-report"
    response = await client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    report = response.json()
    assert report["subject"] == "rsvp" and report["account_id"] is None
    assert report["rsvp_id"] == made.json()["id"] and report["role"] is None
    assert report["org_slug"] == drill["org"]["slug"]
    tables = {t["table"]: t for t in report["tables"]}
    fields = {f["name"]: f["storage"] for f in tables["rsvps"]["fields"]}
    assert fields["contact_ciphertext"] == "encrypted"
    assert fields["manage_token_hash"] == "hashed"
    assert fields["alias"] == "plaintext"
    assert "no account" in tables["rsvps"]["on_account_deletion"]
    [purge] = report["purges"]
    assert purge["row_id"] == made.json()["id"] and purge["state"] == "held"
    assert _when(purge["purge_after"]) == _when(drill["event"]["ends_at"]) + timedelta(hours=24)
    for value in ("Sin Cuenta", "+52 664 000 1234", token):
        assert value not in response.text
    # a GET that changes nothing: no audit row, nothing about anyone else
    assert await conn.fetchval("SELECT count(*) FROM audit_log") == audit_before
    assert drill["lupe"].id not in response.text and drill["rsvp"]["id"] not in response.text
    as_text = await client.get(url, headers={"Accept": "text/plain"})
    assert as_text.headers["content-type"].startswith("text/plain")
    assert "one RSVP" in as_text.text and "Sin Cuenta" not in as_text.text
    for bad in ("cvn_rsvp_nothing-like-this", "not-a-token"):
        assert_problem(await client.get(f"/v1/rsvps/manage/{bad}/privacy-report"), 404, "not-found")


async def test_text_plain_gives_the_report_on_one_page(client, drill):
    headers = drill["rosa"].headers
    response = await client.get(_url(drill), headers={**headers, "Accept": "text/plain"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert "accept" in response.headers["vary"].lower()
    lines = response.text.splitlines()
    assert len(lines) <= 60
    assert all(len(line) <= 100 for line in lines)
    assert lines[0].startswith(f"Privacy report: what {drill['org']['slug']} holds about")
    text = response.text
    for table in ("accounts", "rsvps", "trip_applications", "ride_offers", "recovery_codes"):
        assert f"- {table} (" in text, table
    assert "encrypted: contact_ciphertext" in text
    assert f"rsvps row {drill['rsvp']['id']}" in text and "purged after" in text
    assert "IP addresses" in text
    for value in (drill["lupe"].email, "La Lupe", CONTACT, EMERGENCY["phone"], "Lupe Reyes"):
        assert value not in text, value
    # JSON stays the default, and wins when preferred
    for accept in (None, "application/json", "application/json, text/plain;q=0.5", "*/*"):
        sent = {**headers, "Accept": accept} if accept else headers
        answer = await client.get(_url(drill), headers=sent)
        assert answer.headers["content-type"].startswith("application/json"), accept
        assert answer.json()["account_id"] == drill["lupe"].id


# ---------------------------------------------------------------- the command


async def _caravan(database_url: str, *args: str) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CARAVAN_MODE": "test",
        # the key settings_for gives the app under test, so the same keyed hashes match
        "CARAVAN_SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_caravan_privacy_report_prints_the_drill(live_client, live_database_url):
    rosa = await sign_up(live_client, "Rosa")
    lupe = await sign_up(live_client, "Lupe")
    org = await create_org(live_client, rosa, "cli-drill")
    await join(live_client, org, rosa, lupe, "member")
    event = await published_event(live_client, org, rosa)
    await live_client.post(
        f"/v1/events/{event['id']}/rsvps",
        json={"alias": "La Lupe", "contact": CONTACT},
        headers=lupe.headers,
    )
    for member in (lupe.email.upper(), lupe.id):
        code, out, err = await _caravan(
            live_database_url, "privacy", "report", "--org", "cli-drill", "--member", member
        )
        assert code == 0, err
        report = json.loads(out)
        assert report["account_id"] == lupe.id and report["org_slug"] == "cli-drill"
        assert {"accounts", "rsvps", "memberships", "sessions"} <= {
            t["table"] for t in report["tables"]
        }
        assert [p["table"] for p in report["purges"]] == ["rsvps"]
        assert CONTACT not in out and lupe.email not in out and "La Lupe" not in out
    code, _, err = await _caravan(
        live_database_url, "privacy", "report", "--org", "cli-drill", "--member", "no@one.org"
    )
    assert code == 1 and "No member" in err
    code, _, err = await _caravan(
        live_database_url, "privacy", "report", "--org", "nope", "--member", lupe.id
    )
    assert code == 1 and "No organization" in err


async def test_caravan_privacy_report_on_one_page_for_anyone_the_org_holds_data_about(
    live_client, live_database_url
):
    rosa = await sign_up(live_client, "Rosa")
    nico = await sign_up(live_client, "Nico")
    org = await create_org(live_client, rosa, "cli-text")
    event = await published_event(live_client, org, rosa)
    await live_client.post(
        f"/v1/events/{event['id']}/rsvps",
        json={"alias": "Nico", "contact": CONTACT},
        headers=nico.headers,
    )
    anonymous = await live_client.post(
        f"/v1/events/{event['id']}/rsvps", json={"alias": "Anon", "contact": CONTACT}
    )
    code, out, err = await _caravan(
        live_database_url,
        "privacy",
        "report",
        "--org",
        "cli-text",
        "--member",
        nico.email,
        "--format",
        "text",
    )
    assert code == 0, err
    assert len(out.splitlines()) <= 60 and "not a member" in out and "- rsvps (" in out
    assert CONTACT not in out and "Nico" not in out.replace(nico.id, "")
    code, out, err = await _caravan(
        live_database_url, "privacy", "report", "--manage-link", anonymous.json()["manage_url"]
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["subject"] == "rsvp" and report["rsvp_id"] == anonymous.json()["id"]
    assert CONTACT not in out and "Anon" not in out
    code, _, err = await _caravan(live_database_url, "privacy", "report", "--org", "cli-text")
    assert code == 2 and "--manage-link" in err
