"""The notifications inbox: what lands in it, unread and read, order and pages."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx

from tests.events_helpers import published_event
from tests.people import Person, create_org, sign_up
from tests.problems import assert_problem


async def hosted_event(
    client: httpx.AsyncClient, **overrides: Any
) -> tuple[Person, dict[str, Any]]:
    organizer = await sign_up(client, "Rosa")
    org = await create_org(client, organizer)
    return organizer, await published_event(client, org, organizer, **overrides)


async def announce(client: httpx.AsyncClient, event: dict[str, Any], by: Person, text: str) -> None:
    response = await client.post(
        f"/v1/events/{event['id']}/announcements", json={"body": {"en": text}}, headers=by.headers
    )
    assert response.status_code == 201, response.text


async def inbox(client: httpx.AsyncClient, who: Person, query: str = "") -> dict[str, Any]:
    response = await client.get(f"/v1/me/notifications{query}", headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def texts(page: dict[str, Any]) -> list[str]:
    return [n["payload"]["body"]["en"] for n in page["items"]]


async def test_promotion_from_the_waitlist_lands_in_the_account_inbox(
    client: httpx.AsyncClient,
) -> None:
    _, event = await hosted_event(client, capacity=1)
    first = await client.post(f"/v1/events/{event['id']}/rsvps", json={"alias": "A"})
    ana = await sign_up(client, "Ana")
    waiting = await client.post(
        f"/v1/events/{event['id']}/rsvps", json={"alias": "Ana"}, headers=ana.headers
    )
    assert waiting.json()["status"] == "waitlisted"
    await client.delete(f"/v1/rsvps/manage/{first.json()['manage_token']}")

    page = await inbox(client, ana)
    assert page["unread"] == 1
    [note] = page["items"]
    assert note["kind"] == "rsvp.promoted"
    assert note["event_id"] == event["id"]
    assert note["read_at"] is None
    assert note["payload"] == {"event_id": event["id"], "shift_id": None, "status": "going"}


async def test_event_changes_reach_the_people_coming(client: httpx.AsyncClient) -> None:
    organizer, event = await hosted_event(client)
    ana = await sign_up(client, "Ana")
    await client.post(f"/v1/events/{event['id']}/rsvps", json={"alias": "Ana"}, headers=ana.headers)
    cancelled = await client.post(
        f"/v1/events/{event['id']}/cancel", json={"reason": "Storm"}, headers=organizer.headers
    )
    assert cancelled.status_code == 200, cancelled.text
    kinds = [n["kind"] for n in (await inbox(client, ana))["items"]]
    assert "event.cancelled" in kinds


async def test_marking_read_one_and_all(client: httpx.AsyncClient) -> None:
    organizer, event = await hosted_event(client)
    ana = await sign_up(client, "Ana")
    await client.post(f"/v1/events/{event['id']}/rsvps", json={"alias": "Ana"}, headers=ana.headers)
    for text in ("one", "two", "three"):
        await announce(client, event, organizer, text)

    page = await inbox(client, ana)
    assert texts(page) == ["three", "two", "one"]
    assert page["unread"] == 3
    two = page["items"][1]

    marked = await client.post(f"/v1/me/notifications/{two['id']}/read", headers=ana.headers)
    assert marked.status_code == 200, marked.text
    assert marked.json()["read_at"] is not None
    again = await client.post(f"/v1/me/notifications/{two['id']}/read", headers=ana.headers)
    assert again.json()["read_at"] == marked.json()["read_at"]

    assert texts(await inbox(client, ana, "?unread=true")) == ["three", "one"]
    assert (await inbox(client, ana))["unread"] == 2

    everything = await client.post("/v1/me/notifications/read-all", headers=ana.headers)
    assert everything.status_code == 200
    assert everything.json() == {"marked": 2}
    assert (await inbox(client, ana))["unread"] == 0
    assert (await inbox(client, ana, "?unread=true"))["items"] == []


async def test_unread_first_then_newest_a_page_at_a_time(client: httpx.AsyncClient) -> None:
    organizer, event = await hosted_event(client)
    ana = await sign_up(client, "Ana")
    await client.post(f"/v1/events/{event['id']}/rsvps", json={"alias": "Ana"}, headers=ana.headers)
    for text in ("one", "two", "three", "four"):
        await announce(client, event, organizer, text)
    page = await inbox(client, ana)
    by_text = {n["payload"]["body"]["en"]: n["id"] for n in page["items"]}
    for text in ("four", "two"):
        await client.post(f"/v1/me/notifications/{by_text[text]}/read", headers=ana.headers)

    assert texts(await inbox(client, ana, "?order=unread_first")) == [
        "three",
        "one",
        "four",
        "two",
    ]
    seen: list[str] = []
    query = "?order=unread_first&limit=3"
    while True:
        response = await client.get(f"/v1/me/notifications{query}", headers=ana.headers)
        seen += texts(response.json())
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
        assert 'rel="next"' in response.headers["link"]
        query = f"?order=unread_first&limit=3&cursor={cursor}"
    assert seen == ["three", "one", "four", "two"]

    newest = await inbox(client, ana, "?limit=2")
    after = await inbox(client, ana, f"?limit=2&cursor={newest['next_cursor']}")
    assert texts(newest) + texts(after) == ["four", "three", "two", "one"]


async def test_nobody_reads_or_marks_someone_elses_notifications(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    organizer, event = await hosted_event(client)
    ana = await sign_up(client, "Ana")
    bea = await sign_up(client, "Bea")
    await client.post(f"/v1/events/{event['id']}/rsvps", json={"alias": "Ana"}, headers=ana.headers)
    await announce(client, event, organizer, "hello")
    [note] = (await inbox(client, ana))["items"]

    assert (await inbox(client, bea))["items"] == []
    assert_problem(
        await client.post(f"/v1/me/notifications/{note['id']}/read", headers=bea.headers),
        404,
        "not-found",
    )
    read_at = await conn.fetchval("SELECT read_at FROM notifications WHERE id = $1", note["id"])
    assert read_at is None


async def test_the_inbox_needs_an_account_and_valid_parameters(client: httpx.AsyncClient) -> None:
    ana = await sign_up(client, "Ana")
    assert_problem(await client.get("/v1/me/notifications"), 401)
    assert_problem(await client.post("/v1/me/notifications/read-all"), 401)
    assert_problem(
        await client.post("/v1/me/notifications/00000000-0000-4000-8000-000000000000/read"), 401
    )
    assert_problem(await client.get("/v1/me/notifications?order=oldest", headers=ana.headers), 400)
    assert_problem(
        await client.get("/v1/me/notifications?cursor=bogus", headers=ana.headers),
        400,
        pointer="#/query/cursor",
    )
    assert_problem(await client.get("/v1/me/notifications?limit=0", headers=ana.headers), 400)
