"""Per-org retention windows (owners may only shorten them), the purge applying them, purge
receipts for organizers, the settings behind them, and the README table generated from them."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from api.cli import main
from api.config import ConfigError, load_settings
from api.services.retention import (
    README_END,
    README_START,
    Retention,
    retention_table,
    run_retention,
    splice_readme,
)
from tests.events_helpers import published_event
from tests.people import Person, create_org, join, sign_up
from tests.problems import assert_problem
from tests.rides_helpers import offer_ride
from tests.test_retention_purge import end_event, rsvp_with_contact
from tests.trips_helpers import accepted, open_trip_for

README = Path(__file__).resolve().parent.parent / "README.md"


async def org_with_roles(client: httpx.AsyncClient) -> dict[str, Any]:
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    people: dict[str, Any] = {"owner": owner, "org": org}
    for role in ("organizer", "member"):
        people[role] = await sign_up(client, role.title())
        await join(client, org, owner, people[role], role)
    people["outsider"] = await sign_up(client, "Outsider")
    return people


def url(org: dict[str, Any], tail: str = "retention") -> str:
    return f"/v1/orgs/{org['slug']}/{tail}"


# ---------------------------------------------------------------- the settings


async def test_an_owner_reads_the_defaults_and_shortens_a_window(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    p = await org_with_roles(client)
    response = await client.get(url(p["org"]), headers=p["owner"].headers)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "rsvp_contact_hours": {"applied": 24, "org_setting": None, "default": 24, "minimum": 0},
        "ride_pickup_hours": {"applied": 24, "org_setting": None, "default": 24, "minimum": 0},
        "trip_emergency_days": {"applied": 7, "org_setting": None, "default": 7, "minimum": 0},
        "audit_days": {"applied": 90, "org_setting": None, "default": 90, "minimum": 7},
    }

    changed = await client.patch(
        url(p["org"]), json={"rsvp_contact_hours": 6, "audit_days": 30}, headers=p["owner"].headers
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["rsvp_contact_hours"] == {
        "applied": 6,
        "org_setting": 6,
        "default": 24,
        "minimum": 0,
    }
    assert body["audit_days"]["applied"] == 30
    assert body["ride_pickup_hours"]["org_setting"] is None  # omitted: unchanged
    assert (await client.get(url(p["org"]), headers=p["owner"].headers)).json() == body
    # null goes back to the default
    reset = await client.patch(
        url(p["org"]), json={"rsvp_contact_hours": None}, headers=p["owner"].headers
    )
    assert reset.json()["rsvp_contact_hours"]["applied"] == 24
    assert reset.json()["audit_days"]["applied"] == 30
    audit = await conn.fetch(
        "SELECT actor_id, detail FROM audit_log WHERE action = 'retention.changed' ORDER BY id"
    )
    assert [a["detail"] for a in audit] == [
        {"rsvp_contact_hours": 6, "audit_days": 30},
        {"rsvp_contact_hours": None},
    ]
    assert {a["actor_id"] for a in audit} == {UUID(p["owner"].id)}


async def test_a_window_can_only_be_shortened_never_lengthened(
    client: httpx.AsyncClient,
) -> None:
    p = await org_with_roles(client)
    longer = await client.patch(
        url(p["org"]),
        json={"rsvp_contact_hours": 48, "trip_emergency_days": 10},
        headers=p["owner"].headers,
    )
    body = assert_problem(longer, 422, "rule-violation", pointer="#/rsvp_contact_hours")
    assert "#/trip_emergency_days" in [e["pointer"] for e in body["errors"]]
    too_short_audit = await client.patch(
        url(p["org"]), json={"audit_days": 2}, headers=p["owner"].headers
    )
    assert_problem(too_short_audit, 422, "rule-violation", pointer="#/audit_days")
    # nothing was stored by a refused change
    current = (await client.get(url(p["org"]), headers=p["owner"].headers)).json()
    assert current["rsvp_contact_hours"]["org_setting"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"rsvp_contact_hours": -1},
        {"ride_pickup_hours": 100_000},
        {"audit_days": "thirty"},
        {"keep_forever": True},
    ],
)
async def test_a_malformed_change_is_a_400(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    p = await org_with_roles(client)
    assert_problem(
        await client.patch(url(p["org"]), json=body, headers=p["owner"].headers),
        400,
        "invalid-request",
    )


async def test_only_owners_read_or_change_the_windows(client: httpx.AsyncClient) -> None:
    p = await org_with_roles(client)
    for who in ("organizer", "member", "outsider"):
        headers = p[who].headers
        assert_problem(await client.get(url(p["org"]), headers=headers), 403, "forbidden")
        assert_problem(
            await client.patch(url(p["org"]), json={"audit_days": 30}, headers=headers),
            403,
            "forbidden",
        )
    assert_problem(await client.get(url(p["org"])), 401, "unauthorized")
    assert_problem(await client.patch(url(p["org"]), json={"audit_days": 30}), 401, "unauthorized")
    assert_problem(
        await client.get("/v1/orgs/no-such-org/retention", headers=p["owner"].headers),
        404,
        "not-found",
    )


# ---------------------------------------------------------------- the purge applies them


async def shorten(client: httpx.AsyncClient, owner: Person, org: dict[str, Any], **body: int):
    response = await client.patch(url(org), json=body, headers=owner.headers)
    assert response.status_code == 200, response.text


async def test_an_org_with_a_shorter_window_is_purged_sooner_and_others_keep_the_default(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    short_owner = await sign_up(client, "Short")
    short_org = await create_org(client, short_owner)
    await shorten(
        client,
        short_owner,
        short_org,
        rsvp_contact_hours=6,
        ride_pickup_hours=2,
        trip_emergency_days=1,
    )
    usual_owner = await sign_up(client, "Usual")
    usual_org = await create_org(client, usual_owner)
    worlds = {}
    for name, owner, org in (
        ("short", short_owner, short_org),
        ("usual", usual_owner, usual_org),
    ):
        event = await published_event(client, org, owner)
        await rsvp_with_contact(client, event, "Lupe")
        offer = await offer_ride(client, event, owner)
        trip = await open_trip_for(client, org, owner)
        ana = await sign_up(client, "Ana")
        await accepted(client, trip, ana, owner, emergency_contact={"name": "R", "phone": "+52 1"})
        await end_event(conn, event, hours_ago=10)
        await conn.execute(
            "UPDATE ride_offers SET departs_at = now() - interval '3 hours' WHERE id = $1",
            UUID(offer["id"]),
        )
        await conn.execute(
            "UPDATE trips SET starts_at = now() - interval '5 days', "
            "ends_at = now() - interval '2 days', application_deadline = NULL WHERE id = $1",
            UUID(trip["id"]),
        )
        worlds[name] = (org, event, offer, trip)

    receipts = await run_retention(conn)

    assert {(r["org_id"], r["data_class"], r["window_hours"]) for r in receipts} == {
        (UUID(short_org["id"]), "rsvp_contact", 6),
        (UUID(short_org["id"]), "ride_pickup", 2),
        (UUID(short_org["id"]), "trip_emergency", 24),
    }
    for name, (_, event, offer, trip) in worlds.items():
        gone = name == "short"
        assert gone == await conn.fetchval(
            "SELECT NOT EXISTS (SELECT 1 FROM rsvps WHERE event_id = $1)", UUID(event["id"])
        )
        assert gone == await conn.fetchval(
            "SELECT pickup_purged_at IS NOT NULL FROM ride_offers WHERE id = $1",
            UUID(offer["id"]),
        )
        assert gone == await conn.fetchval(
            "SELECT NOT EXISTS (SELECT 1 FROM trip_applications WHERE trip_id = $1)",
            UUID(trip["id"]),
        )


async def test_a_default_lowered_below_an_org_setting_wins(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    await shorten(client, owner, org, rsvp_contact_hours=20)
    event = await published_event(client, org, owner)
    await rsvp_with_contact(client, event, "Lupe")
    await end_event(conn, event, hours_ago=13)
    receipts = await run_retention(conn, retention=Retention(rsvp_contact_hours=12))
    assert [(r["event_id"], r["window_hours"]) for r in receipts] == [(UUID(event["id"]), 12)]


# ---------------------------------------------------------------- receipts


async def test_organizers_page_through_receipts_and_nobody_else_reads_them(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    p = await org_with_roles(client)
    events = []
    for _ in range(3):
        event = await published_event(client, p["org"], p["owner"])
        await rsvp_with_contact(client, event, "Lupe")
        await rsvp_with_contact(client, event, "Juan")
        await end_event(conn, event, hours_ago=30)
        events.append(event)
    await run_retention(conn)

    seen: list[dict[str, Any]] = []
    next_url = url(p["org"], "purge-receipts") + "?limit=2"
    while next_url:
        page = await client.get(next_url, headers=p["organizer"].headers)
        assert page.status_code == 200, page.text
        seen += page.json()["items"]
        link = page.headers.get("link")
        assert (link is None) == (page.json()["next_cursor"] is None)
        next_url = link[1 : link.index(">")] if link else ""
    assert sorted(r["event_id"] for r in seen) == sorted(e["id"] for e in events)
    for receipt in seen:
        assert set(receipt) == {
            "id",
            "data_class",
            "event_id",
            "trip_id",
            "row_count",
            "keys_destroyed",
            "window_hours",
            "purged_at",
        }
        assert (receipt["data_class"], receipt["row_count"], receipt["keys_destroyed"]) == (
            "rsvp_contact",
            2,
            1,
        )
        assert "Lupe" not in str(receipt)
    owners = await client.get(url(p["org"], "purge-receipts"), headers=p["owner"].headers)
    assert len(owners.json()["items"]) == 3

    for who in ("member", "outsider"):
        assert_problem(
            await client.get(url(p["org"], "purge-receipts"), headers=p[who].headers),
            403,
            "forbidden",
        )
    assert_problem(await client.get(url(p["org"], "purge-receipts")), 401, "unauthorized")
    assert_problem(
        await client.get(
            url(p["org"], "purge-receipts") + "?cursor=not-ours", headers=p["owner"].headers
        ),
        400,
        "invalid-request",
        pointer="#/query/cursor",
    )
    # another org's receipts stay its own
    other_owner = await sign_up(client, "Other")
    other = await create_org(client, other_owner)
    empty = await client.get(url(other, "purge-receipts"), headers=other_owner.headers)
    assert empty.json() == {"items": [], "next_cursor": None}


async def test_receipts_are_kept_as_long_as_audit_rows(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    event = await published_event(client, org, owner)
    await rsvp_with_contact(client, event, "Lupe")
    await end_event(conn, event, hours_ago=30)
    await run_retention(conn)
    assert await conn.fetchval("SELECT count(*) FROM purge_receipts") == 1
    later = datetime.now(UTC) + timedelta(days=91)
    await run_retention(conn, now=later)
    assert await conn.fetchval("SELECT count(*) FROM purge_receipts") == 0


# ---------------------------------------------------------------- configuration and README


def test_the_defaults_come_from_the_environment_within_bounds() -> None:
    settings = load_settings(
        {
            "CARAVAN_MODE": "test",
            "CARAVAN_RETAIN_RSVP_CONTACT_HOURS": "12",
            "CARAVAN_RETAIN_RIDE_PICKUP_HOURS": "6",
            "CARAVAN_RETAIN_TRIP_EMERGENCY_DAYS": "3",
            "CARAVAN_RETAIN_AUDIT_DAYS": "30",
        }
    )
    assert Retention.from_settings(settings) == Retention(
        rsvp_contact_hours=12, ride_pickup_hours=6, trip_emergency_days=3, audit_days=30
    )
    assert Retention.from_settings(load_settings({"CARAVAN_MODE": "test"})) == Retention()
    with pytest.raises(ConfigError) as refused:
        load_settings(
            {
                "CARAVAN_MODE": "test",
                "CARAVAN_RETAIN_RSVP_CONTACT_HOURS": "1000",
                "CARAVAN_RETAIN_TRIP_EMERGENCY_DAYS": "-1",
                "CARAVAN_RETAIN_AUDIT_DAYS": "0",
            }
        )
    message = str(refused.value)
    for name in (
        "CARAVAN_RETAIN_RSVP_CONTACT_HOURS",
        "CARAVAN_RETAIN_TRIP_EMERGENCY_DAYS",
        "CARAVAN_RETAIN_AUDIT_DAYS",
    ):
        assert name in message


def test_the_readme_retention_table_is_the_one_generated_from_the_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = README.read_text()
    assert README_START in readme and README_END in readme
    table = retention_table(load_settings({"CARAVAN_MODE": "test"}))
    assert splice_readme(readme, table) == readme, (
        "README's retention table differs from the settings; run `caravan retention-table --write`"
    )
    assert "What Caravan keeps, and for how long" in readme
    assert "24 h after the event ends" in table
    for name in [n for n in os.environ if n.startswith("CARAVAN_RETAIN_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CARAVAN_MODE", "test")
    assert main(["retention-table", "--check", "--readme", str(README)]) == 0
    assert main(["retention-table"]) == 0
    assert capsys.readouterr().out.endswith(table)
