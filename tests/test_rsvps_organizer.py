"""Organizer tools: the attendee list, check-in, CSV export, the audit log, and privacy."""

from __future__ import annotations

import csv
import io
from typing import Any

import asyncpg
import httpx

from tests.cohost_helpers import cohost
from tests.events_helpers import published_event
from tests.people import Person, create_org, join, sign_up
from tests.problems import assert_problem

SECRET_ALIAS = "Quetzal-Alias-7731"
SECRET_CONTACT = "quetzal.7731@example.org"


async def hosted_event(
    client: httpx.AsyncClient, **overrides: Any
) -> tuple[Person, dict[str, Any], dict[str, Any]]:
    organizer = await sign_up(client, "Rosa")
    org = await create_org(client, organizer)
    event = await published_event(client, org, organizer, **overrides)
    return organizer, org, event


async def rsvp(client: httpx.AsyncClient, event: dict[str, Any], **body: Any) -> dict[str, Any]:
    response = await client.post(f"/v1/events/{event['id']}/rsvps", json={"alias": "Lupe", **body})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def audit_actions(conn: asyncpg.Connection, event_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT action, actor_id, subject_type, detail
          FROM audit_log
         WHERE subject_id = $1
         ORDER BY id
        """,
        event_id,
    )


async def test_organizers_see_attendees_with_counts_and_each_read_is_audited(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    organizer, _, event = await hosted_event(client, capacity=3)
    going = await rsvp(client, event, alias="Ana", guests=1, language_needs=["es"])
    await rsvp(client, event, alias="Beto", contact="+52 664 555 0102")
    waiting = await rsvp(client, event, alias="Caro")
    cancelled = await rsvp(client, event, alias="Dani")
    await client.delete(f"/v1/rsvps/manage/{cancelled['manage_token']}")
    assert waiting["status"] == "waitlisted"

    response = await client.get(f"/v1/events/{event['id']}/rsvps", headers=organizer.headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert [a["alias"] for a in body["items"]] == ["Ana", "Beto", "Caro", "Dani"]
    first = body["items"][0]
    assert first["id"] == going["id"]
    assert (first["guests"], first["places"], first["status"]) == (1, 2, "going")
    assert first["language_needs"] == ["es"]
    assert first["contact"] is None
    assert first["has_account"] is False
    assert body["items"][1]["contact"] == "+52 664 555 0102"
    assert body["counts"] == {
        "going": {"rsvps": 2, "places": 3},
        "waitlisted": {"rsvps": 1, "places": 1},
        "cancelled": {"rsvps": 1, "places": 1},
        "attended": {"rsvps": 0, "places": 0},
    }

    only_waiting = await client.get(
        f"/v1/events/{event['id']}/rsvps?status=waitlisted", headers=organizer.headers
    )
    assert [a["alias"] for a in only_waiting.json()["items"]] == ["Caro"]

    page = await client.get(f"/v1/events/{event['id']}/rsvps?limit=3", headers=organizer.headers)
    assert len(page.json()["items"]) == 3
    rest = await client.get(
        f"/v1/events/{event['id']}/rsvps?limit=3&cursor={page.json()['next_cursor']}",
        headers=organizer.headers,
    )
    assert [a["alias"] for a in rest.json()["items"]] == ["Dani"]

    rows = await audit_actions(conn, event["id"])
    assert [r["action"] for r in rows] == ["rsvps.listed"] * 4
    assert all(str(r["actor_id"]) == organizer.id for r in rows)
    assert rows[0]["detail"]["rows"] == 4
    # the audit log records who read, never whom they read about
    assert "Ana" not in str([dict(r) for r in rows])


async def test_check_in_marks_attended_once(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    organizer, _, event = await hosted_event(client, capacity=1)
    going = await rsvp(client, event)
    waiting = await rsvp(client, event, alias="Beto")

    checked = await client.post(f"/v1/rsvps/{going['id']}/check-in", headers=organizer.headers)
    assert checked.status_code == 200, checked.text
    assert checked.json()["status"] == "attended"
    again = await client.post(f"/v1/rsvps/{going['id']}/check-in", headers=organizer.headers)
    assert again.status_code == 200
    assert again.json()["status"] == "attended"

    assert_problem(
        await client.post(f"/v1/rsvps/{waiting['id']}/check-in", headers=organizer.headers),
        409,
        "conflict",
    )
    # checked-in people keep their place; they cannot cancel any more
    assert_problem(await client.delete(f"/v1/rsvps/manage/{going['manage_token']}"), 409)
    taken = await conn.fetchval("SELECT places_taken FROM events WHERE id = $1", event["id"])
    assert taken == 1
    counts = (
        await client.get(f"/v1/events/{event['id']}/rsvps", headers=organizer.headers)
    ).json()["counts"]
    assert counts["attended"] == {"rsvps": 1, "places": 1}
    assert counts["going"] == {"rsvps": 0, "places": 0}
    actions = [
        r["action"]
        for r in await conn.fetch("SELECT action FROM audit_log WHERE subject_id = $1", going["id"])
    ]
    assert actions == ["rsvp.checked_in"]


async def test_check_in_is_refused_to_everyone_but_organizers(client: httpx.AsyncClient) -> None:
    organizer, org, event = await hosted_event(client)
    going = await rsvp(client, event)
    member = await sign_up(client, "Carla")
    await join(client, org, organizer, member, "member")
    url = f"/v1/rsvps/{going['id']}/check-in"
    assert_problem(await client.post(url), 401)
    assert_problem(await client.post(url, headers=member.headers), 403)
    assert_problem(
        await client.post(
            "/v1/rsvps/00000000-0000-4000-8000-000000000000/check-in", headers=organizer.headers
        ),
        404,
    )


async def test_csv_export_carries_the_list_and_is_audited(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    organizer, _, event = await hosted_event(client)
    await rsvp(client, event, alias='=HYPERLINK("http://x")', contact="+1 619 555 0100")
    await rsvp(client, event, alias="Beto", guests=2, language_needs=["es", "mam"])

    response = await client.get(f"/v1/events/{event['id']}/rsvps.csv", headers=organizer.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.headers["cache-control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["alias"] for r in rows] == ['\'=HYPERLINK("http://x")', "Beto"]
    assert rows[0]["contact"] == "'+1 619 555 0100"
    assert (rows[1]["guests"], rows[1]["places"], rows[1]["status"]) == ("2", "3", "going")
    assert rows[1]["language_needs"] == "es mam"

    actions = [r["action"] for r in await audit_actions(conn, event["id"])]
    assert actions == ["rsvps.exported"]


async def test_the_attendee_list_is_refused_to_everyone_else(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    organizer, org, event = await hosted_event(client)
    await rsvp(client, event)
    member = await sign_up(client, "Carla")
    await join(client, org, organizer, member, "member")
    other_organizer = await sign_up(client, "Otra")
    await create_org(client, other_organizer)
    attendee = await sign_up(client, "Lupe")
    await client.post(
        f"/v1/events/{event['id']}/rsvps", json={"alias": "Lupe"}, headers=attendee.headers
    )

    for path in (f"/v1/events/{event['id']}/rsvps", f"/v1/events/{event['id']}/rsvps.csv"):
        assert_problem(await client.get(path), 401)
        assert_problem(await client.get(path, headers=member.headers), 403)
        assert_problem(await client.get(path, headers=other_organizer.headers), 403)
        assert_problem(await client.get(path, headers=attendee.headers), 403)
    assert await audit_actions(conn, event["id"]) == []


async def test_co_hosts_see_attendees_only_when_granted(client: httpx.AsyncClient) -> None:
    organizer, _, event = await hosted_event(client)
    await rsvp(client, event)
    partner = await sign_up(client, "Pat")
    partner_org = await create_org(client, partner)
    await cohost(client, "event", event["id"], organizer, partner_org["slug"], partner)
    listed = await client.get(f"/v1/events/{event['id']}/rsvps", headers=partner.headers)
    assert_problem(listed, 403)
    # co-hosts always see counts
    counts = await client.get(f"/v1/events/{event['id']}/counts", headers=partner.headers)
    assert counts.status_code == 200
    assert counts.json()["going"] == 1


async def test_attendee_list_of_an_unknown_event_is_not_found(client: httpx.AsyncClient) -> None:
    organizer = await sign_up(client, "Rosa")
    response = await client.get(
        "/v1/events/00000000-0000-4000-8000-000000000000/rsvps", headers=organizer.headers
    )
    assert_problem(response, 404)


async def test_counts_carry_numbers_and_language_needs_but_no_names(
    client: httpx.AsyncClient,
) -> None:
    organizer, _, event = await hosted_event(client, capacity=10)
    await rsvp(
        client,
        event,
        alias=SECRET_ALIAS,
        contact=SECRET_CONTACT,
        guests=3,
        language_needs=["es", "mam"],
    )
    await rsvp(client, event, alias="Beto", language_needs=["es"])
    response = await client.get(f"/v1/events/{event['id']}/counts")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["going"] == 5
    assert body["waitlisted"] == 0
    assert body["capacity"] == 10
    assert body["spots_left"] == 5
    # the public sees a language only once 5 people need it: 4 for Mam could be one family
    assert body["language_needs"] == {"es": 5}
    assert body["languages"] == [{"language": "es", "needed": 5, "interpreters": 0}]
    assert body["shifts"] == []
    assert SECRET_ALIAS not in response.text and SECRET_CONTACT not in response.text

    exact = await client.get(f"/v1/events/{event['id']}/counts", headers=organizer.headers)
    assert exact.json()["language_needs"] == {"es": 5, "mam": 4}
    assert exact.json()["languages"] == [
        {"language": "es", "needed": 5, "interpreters": 0},
        {"language": "mam", "needed": 4, "interpreters": 0},
    ]


async def test_counts_can_be_hidden_from_the_public(client: httpx.AsyncClient) -> None:
    organizer, _, event = await hosted_event(client, hide_counts=True)
    await rsvp(client, event)
    assert_problem(await client.get(f"/v1/events/{event['id']}/counts"), 403)
    shown = await client.get(f"/v1/events/{event['id']}/counts", headers=organizer.headers)
    assert shown.status_code == 200
    assert shown.json()["going"] == 1


async def test_counts_of_invisible_events_are_not_found(client: httpx.AsyncClient) -> None:
    organizer, org, _ = await hosted_event(client)
    members_only = await published_event(client, org, organizer, visibility="members")
    assert_problem(await client.get(f"/v1/events/{members_only['id']}/counts"), 404)


async def test_attendee_data_appears_in_no_public_response(client: httpx.AsyncClient) -> None:
    organizer, org, event = await hosted_event(client, capacity=1)
    shift = await client.post(
        f"/v1/events/{event['id']}/shifts",
        json={
            "name": {"en": "Medic"},
            "starts_at": event["starts_at"],
            "ends_at": event["ends_at"],
            "capacity": 2,
        },
        headers=organizer.headers,
    )
    assert shift.status_code == 201
    await rsvp(client, event, alias=SECRET_ALIAS, contact=SECRET_CONTACT, guests=0)
    await rsvp(client, event, alias=SECRET_ALIAS + "-w", contact=SECRET_CONTACT)
    await rsvp(
        client,
        event,
        alias=SECRET_ALIAS + "-s",
        contact=SECRET_CONTACT,
        shift_id=shift.json()["id"],
    )
    stranger = await sign_up(client, "Bea")
    await client.post(
        f"/v1/events/{event['id']}/announcements",
        json={"body": {"en": "Bring water"}},
        headers=organizer.headers,
    )

    public = [
        f"/v1/events/{event['id']}",
        "/v1/events",
        f"/v1/orgs/{org['slug']}/events",
        f"/v1/events/{event['id']}/counts",
        f"/v1/events/{event['id']}/shifts",
    ]
    for path in public:
        for headers in ({}, stranger.headers, organizer.headers):
            response = await client.get(path, headers=headers)
            assert response.status_code == 200, (path, response.text)
            assert SECRET_ALIAS not in response.text, path
            assert SECRET_CONTACT not in response.text, path
            assert "quetzal" not in response.text.lower(), path
    inbox = await client.get("/v1/me/notifications", headers=stranger.headers)
    assert SECRET_ALIAS not in inbox.text
