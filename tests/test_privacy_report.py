"""The subpoena drill: for one member, every field the org's data holds about them, in what
form, and when the sensitive ones are purged; owners only, by route and by command."""

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
from tests.rides_helpers import PICKUP, offer_ride
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
