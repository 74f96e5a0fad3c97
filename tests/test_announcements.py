"""Announcements reach exactly the people going, waitlisted or checked in, in their inbox or
manage link."""

from __future__ import annotations

from typing import Any

import httpx

from tests.events_helpers import published_event
from tests.people import Person, create_org, join, sign_up
from tests.problems import assert_problem

BODY = {"en": "Meet at the north entrance", "es": "Nos vemos en la entrada norte"}


async def hosted_event(
    client: httpx.AsyncClient, **overrides: Any
) -> tuple[Person, dict[str, Any], dict[str, Any]]:
    organizer = await sign_up(client, "Rosa")
    org = await create_org(client, organizer)
    event = await published_event(client, org, organizer, **overrides)
    return organizer, org, event


async def rsvp(
    client: httpx.AsyncClient, event: dict[str, Any], who: Person | None = None, **body: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/events/{event['id']}/rsvps",
        json={"alias": "Lupe", **body},
        headers=who.headers if who else {},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def announcement_kinds(client: httpx.AsyncClient, who: Person) -> list[str]:
    inbox = (await client.get("/v1/me/notifications", headers=who.headers)).json()
    return [n["kind"] for n in inbox["items"] if n["kind"] == "event.announcement"]


async def manage_announcements(client: httpx.AsyncClient, created: dict[str, Any]) -> list[str]:
    view = (await client.get(f"/v1/rsvps/manage/{created['manage_token']}")).json()
    return [n["kind"] for n in view["notifications"] if n["kind"] == "event.announcement"]


async def test_an_announcement_reaches_exactly_the_going_and_waitlisted(
    client: httpx.AsyncClient,
) -> None:
    organizer, _, event = await hosted_event(client, capacity=2)
    shift = await client.post(
        f"/v1/events/{event['id']}/shifts",
        json={
            "name": {"en": "Medic"},
            "starts_at": event["starts_at"],
            "ends_at": event["ends_at"],
        },
        headers=organizer.headers,
    )
    going_account, waiting_account, cancelled_account, bystander = [
        await sign_up(client, name) for name in ("Ana", "Beto", "Caro", "Dani")
    ]
    await rsvp(client, event, going_account)
    # an account with an event RSVP and a shift RSVP is told once
    await rsvp(client, event, going_account, shift_id=shift.json()["id"])
    going_anon = await rsvp(client, event)
    waiting_anon = await rsvp(client, event)
    await rsvp(client, event, waiting_account)
    cancelled_anon = await rsvp(client, event)
    gone = await rsvp(client, event, cancelled_account)
    await client.delete(f"/v1/rsvps/manage/{cancelled_anon['manage_token']}")
    await client.delete(f"/v1/rsvps/manage/{gone['manage_token']}")

    posted = await client.post(
        f"/v1/events/{event['id']}/announcements", json={"body": BODY}, headers=organizer.headers
    )
    assert posted.status_code == 201, posted.text
    assert posted.json()["body"] == BODY
    assert posted.json()["recipients"] == 4

    assert await announcement_kinds(client, going_account) == ["event.announcement"]
    assert await announcement_kinds(client, waiting_account) == ["event.announcement"]
    assert await announcement_kinds(client, cancelled_account) == []
    assert await announcement_kinds(client, bystander) == []
    assert await manage_announcements(client, going_anon) == ["event.announcement"]
    assert await manage_announcements(client, waiting_anon) == ["event.announcement"]
    assert await manage_announcements(client, cancelled_anon) == []

    inbox = (await client.get("/v1/me/notifications", headers=going_account.headers)).json()
    payload = inbox["items"][0]["payload"]
    assert payload["body"] == BODY
    assert payload["announcement_id"] == posted.json()["id"]

    # the manage link view also lists the announcements themselves
    view = (
        await client.get(
            f"/v1/rsvps/manage/{waiting_anon['manage_token']}", headers={"Accept-Language": "es"}
        )
    ).json()
    assert [a["display_body"] for a in view["announcements"]] == [BODY["es"]]
    cancelled_view = (await client.get(f"/v1/rsvps/manage/{cancelled_anon['manage_token']}")).json()
    assert cancelled_view["announcements"] == []


async def test_an_announcement_reaches_people_already_checked_in(
    client: httpx.AsyncClient,
) -> None:
    organizer, _, event = await hosted_event(client)
    at_the_door = await sign_up(client, "Ana")
    checked_in = await rsvp(client, event, at_the_door)
    anon_checked_in = await rsvp(client, event)
    still_coming = await rsvp(client, event)
    for created in (checked_in, anon_checked_in):
        response = await client.post(
            f"/v1/rsvps/{created['id']}/check-in", headers=organizer.headers
        )
        assert response.status_code == 200, response.text

    posted = await client.post(
        f"/v1/events/{event['id']}/announcements", json={"body": BODY}, headers=organizer.headers
    )
    assert posted.status_code == 201, posted.text
    assert posted.json()["recipients"] == 3
    assert await announcement_kinds(client, at_the_door) == ["event.announcement"]
    assert await manage_announcements(client, anon_checked_in) == ["event.announcement"]
    assert await manage_announcements(client, still_coming) == ["event.announcement"]


async def test_announcements_are_read_by_organizers_and_people_coming(
    client: httpx.AsyncClient,
) -> None:
    organizer, org, event = await hosted_event(client)
    coming = await sign_up(client, "Ana")
    await rsvp(client, event, coming)
    stranger = await sign_up(client, "Bea")
    member = await sign_up(client, "Carla")
    await join(client, org, organizer, member, "member")
    for text in ("First", "Second"):
        response = await client.post(
            f"/v1/events/{event['id']}/announcements",
            json={"body": {"en": text}},
            headers=organizer.headers,
        )
        assert response.status_code == 201

    url = f"/v1/events/{event['id']}/announcements"
    for who in (organizer, coming):
        listed = await client.get(url, headers=who.headers)
        assert listed.status_code == 200, listed.text
        assert [a["display_body"] for a in listed.json()["items"]] == ["Second", "First"]
    page = await client.get(url + "?limit=1", headers=coming.headers)
    rest = await client.get(
        url + f"?limit=1&cursor={page.json()['next_cursor']}", headers=coming.headers
    )
    assert [a["display_body"] for a in rest.json()["items"]] == ["First"]

    assert_problem(await client.get(url), 401)
    assert_problem(await client.get(url, headers=stranger.headers), 403)
    assert_problem(await client.get(url, headers=member.headers), 403)


async def test_only_organizers_post_announcements(client: httpx.AsyncClient) -> None:
    organizer, org, event = await hosted_event(client)
    member = await sign_up(client, "Carla")
    await join(client, org, organizer, member, "member")
    url = f"/v1/events/{event['id']}/announcements"
    assert_problem(await client.post(url, json={"body": BODY}), 401)
    assert_problem(await client.post(url, json={"body": BODY}, headers=member.headers), 403)
    assert_problem(
        await client.post(
            "/v1/events/00000000-0000-4000-8000-000000000000/announcements",
            json={"body": BODY},
            headers=organizer.headers,
        ),
        404,
    )


async def test_announcement_bad_input_is_refused(client: httpx.AsyncClient) -> None:
    organizer, _, event = await hosted_event(client)
    url = f"/v1/events/{event['id']}/announcements"
    cases = [
        ({"body": {}}, "#/body"),
        ({"body": {"en": ""}}, "#/body"),
        ({"body": {"en": "x" * 5001}}, "#/body"),
        ({"body": {"not a tag!": "x"}}, "#/body"),
        ({"body": {"en": "ok"}, "pinned": True}, "#/pinned"),
        ({}, None),
    ]
    for body, pointer in cases:
        assert_problem(
            await client.post(url, json=body, headers=organizer.headers), 400, pointer=pointer
        )
