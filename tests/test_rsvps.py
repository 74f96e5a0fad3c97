"""RSVPs: booking, the waitlist, manage links, idempotent retries and bad input."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx

from tests.events_helpers import create_event, published_event
from tests.people import Person, create_org, join, sign_up
from tests.problems import assert_problem

KEY = "9b1f0c3e-2a4d-4e6f-8a1b-3c5d7e9f0a2b"


async def organizer_and_event(
    client: httpx.AsyncClient, **overrides: Any
) -> tuple[Person, dict[str, Any], dict[str, Any]]:
    organizer = await sign_up(client, "Rosa")
    org = await create_org(client, organizer)
    event = await published_event(client, org, organizer, **overrides)
    return organizer, org, event


async def rsvp(
    client: httpx.AsyncClient,
    event: dict[str, Any],
    alias: str = "Lupe",
    *,
    headers: dict[str, str] | None = None,
    **body: Any,
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/events/{event['id']}/rsvps", json={"alias": alias, **body}, headers=headers or {}
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def manage(client: httpx.AsyncClient, created: dict[str, Any]) -> dict[str, Any]:
    response = await client.get(f"/v1/rsvps/manage/{created['manage_token']}")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def status_of(client: httpx.AsyncClient, created: dict[str, Any]) -> str:
    return (await manage(client, created))["rsvp"]["status"]  # type: ignore[no-any-return]


async def cancel(client: httpx.AsyncClient, created: dict[str, Any]) -> httpx.Response:
    return await client.delete(f"/v1/rsvps/manage/{created['manage_token']}")


async def event_counters(conn: asyncpg.Connection, event_id: str) -> tuple[int, int]:
    row = await conn.fetchrow(
        "SELECT places_taken, places_waitlisted FROM events WHERE id = $1", event_id
    )
    assert row is not None
    return row["places_taken"], row["places_waitlisted"]


# ---------------------------------------------------------------- booking


async def test_anonymous_rsvp_is_going_and_gets_a_manage_link(client: httpx.AsyncClient) -> None:
    _, _, event = await organizer_and_event(client, capacity=10)
    created = await rsvp(client, event, guests=2, language_needs=["es", "MAM", "es"])
    assert created["status"] == "going"
    assert created["places"] == 3
    assert created["language_needs"] == ["es", "mam"]
    assert created["waitlist_position"] is None
    assert created["event_id"] == event["id"]
    assert created["shift_id"] is None
    assert created["manage_token"].startswith("cvn_rsvp_")
    assert len(created["manage_token"]) >= len("cvn_rsvp_") + 43
    assert created["manage_url"] == (
        "http://127.0.0.1:8000/v1/rsvps/manage/" + created["manage_token"]
    )

    view = await manage(client, created)
    assert view["rsvp"]["id"] == created["id"]
    assert view["rsvp"]["status"] == "going"
    assert view["event"]["id"] == event["id"]
    assert view["event"]["title"] == {"en": "Rally", "es": "Marcha"}
    assert "manage_token" not in view["rsvp"]


async def test_the_manage_token_is_stored_only_as_its_hash(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    _, _, event = await organizer_and_event(client)
    created = await rsvp(client, event)
    stored = await conn.fetchval("SELECT manage_token_hash FROM rsvps WHERE id = $1", created["id"])
    assert len(stored) == 32
    assert created["manage_token"].encode() not in stored


async def test_full_event_waitlists_new_rsvps_in_order(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    _, _, event = await organizer_and_event(client, capacity=2)
    first = await rsvp(client, event, "A")
    second = await rsvp(client, event, "B")
    third = await rsvp(client, event, "C")
    fourth = await rsvp(client, event, "D")
    assert [first["status"], second["status"]] == ["going", "going"]
    assert third["status"] == fourth["status"] == "waitlisted"
    assert (third["waitlist_position"], fourth["waitlist_position"]) == (1, 2)
    assert await event_counters(conn, event["id"]) == (2, 2)


async def test_cancelling_promotes_the_first_in_line_and_tells_them(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    _, _, event = await organizer_and_event(client, capacity=1)
    going = await rsvp(client, event, "A")
    waiting = await rsvp(client, event, "B")
    behind = await rsvp(client, event, "C")

    response = await cancel(client, going)
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"

    promoted = await manage(client, waiting)
    assert promoted["rsvp"]["status"] == "going"
    assert [n["kind"] for n in promoted["notifications"]] == ["rsvp.promoted"]
    assert promoted["notifications"][0]["payload"]["event_id"] == event["id"]
    assert (await manage(client, behind))["rsvp"]["waitlist_position"] == 1
    assert await event_counters(conn, event["id"]) == (1, 1)

    # cancelling again changes nothing
    again = await cancel(client, going)
    assert again.status_code == 200
    assert again.json()["status"] == "cancelled"
    assert await event_counters(conn, event["id"]) == (1, 1)


async def test_cancelling_a_waitlisted_rsvp_frees_its_place_in_line(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    _, _, event = await organizer_and_event(client, capacity=3)
    await rsvp(client, event, "A", guests=2)
    waiting = await rsvp(client, event, "B", guests=1)
    behind = await rsvp(client, event, "C")
    assert await event_counters(conn, event["id"]) == (3, 3)
    assert (await cancel(client, waiting)).status_code == 200
    assert (await manage(client, behind))["rsvp"]["waitlist_position"] == 1
    assert await event_counters(conn, event["id"]) == (3, 1)


async def test_a_group_is_admitted_as_a_whole_and_nobody_skips_the_line(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    _, _, event = await organizer_and_event(client, capacity=5)
    family = await rsvp(client, event, "Family", guests=2)  # 3 places
    group = await rsvp(client, event, "Group", guests=2)  # 3 more: only 2 left
    single = await rsvp(client, event, "Single")  # would fit, but the group is first
    assert family["status"] == "going"
    assert group["status"] == "waitlisted"
    assert single["status"] == "waitlisted"
    assert (group["waitlist_position"], single["waitlist_position"]) == (1, 2)
    assert await event_counters(conn, event["id"]) == (3, 4)

    # the family comes alone after all: 2 places free up, 4 are free, the group (3) and
    # then the single (1) are admitted in order
    response = await client.patch(f"/v1/rsvps/manage/{family['manage_token']}", json={"guests": 0})
    assert response.status_code == 200, response.text
    assert response.json()["places"] == 1
    assert await status_of(client, group) == "going"
    assert await status_of(client, single) == "going"
    assert await event_counters(conn, event["id"]) == (5, 0)


async def test_no_spots_are_left_while_a_group_of_three_waits_for_one_free_place(
    client: httpx.AsyncClient,
) -> None:
    _, _, event = await organizer_and_event(client, capacity=4)
    await rsvp(client, event, "Trio", guests=2)  # 3 of 4 places
    group = await rsvp(client, event, "Group", guests=2)  # 3 more: only 1 free
    assert group["status"] == "waitlisted"

    counts = (await client.get(f"/v1/events/{event['id']}/counts")).json()
    # the free place is held for the group first in line: a newcomer cannot take it
    assert (counts["going"], counts["waitlisted"], counts["spots_left"]) == (3, 3, 0)
    single = await rsvp(client, event, "Single")
    assert (single["status"], single["waitlist_position"]) == ("waitlisted", 2)

    # the group leaves the line: the single is admitted and then the event is full
    assert (await cancel(client, group)).status_code == 200
    assert await status_of(client, single) == "going"
    counts = (await client.get(f"/v1/events/{event['id']}/counts")).json()
    assert (counts["going"], counts["waitlisted"], counts["spots_left"]) == (4, 0, 0)


async def test_spots_left_are_the_free_places_when_nobody_waits(
    client: httpx.AsyncClient,
) -> None:
    _, _, event = await organizer_and_event(client, capacity=4)
    await rsvp(client, event, "Trio", guests=2)
    counts = (await client.get(f"/v1/events/{event['id']}/counts")).json()
    assert counts["spots_left"] == 1
    assert (await rsvp(client, event, "Single"))["status"] == "going"


async def test_more_guests_need_free_places_or_nothing_changes(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    _, _, event = await organizer_and_event(client, capacity=4)
    created = await rsvp(client, event, guests=1)
    grown = await client.patch(f"/v1/rsvps/manage/{created['manage_token']}", json={"guests": 3})
    assert grown.status_code == 200, grown.text
    assert grown.json()["places"] == 4
    assert await event_counters(conn, event["id"]) == (4, 0)

    other = await rsvp(client, event, "Other")
    assert other["status"] == "waitlisted"
    shrunk = await client.patch(f"/v1/rsvps/manage/{created['manage_token']}", json={"guests": 2})
    assert shrunk.status_code == 200
    assert await status_of(client, other) == "going"

    refused = await client.patch(f"/v1/rsvps/manage/{created['manage_token']}", json={"guests": 3})
    assert_problem(refused, 409, "conflict", detail_contains="unchanged")
    assert (await manage(client, created))["rsvp"]["guests"] == 2
    assert await event_counters(conn, event["id"]) == (4, 0)


async def test_a_waitlisted_group_that_shrinks_may_be_admitted(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    _, _, event = await organizer_and_event(client, capacity=3)
    await rsvp(client, event, "A", guests=1)
    group = await rsvp(client, event, "B", guests=2)
    assert group["status"] == "waitlisted"
    response = await client.patch(f"/v1/rsvps/manage/{group['manage_token']}", json={"guests": 0})
    assert response.status_code == 200
    assert response.json()["status"] == "going"
    assert await event_counters(conn, event["id"]) == (3, 0)


async def test_manage_link_changes_alias_needs_and_erases_contact(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    _, _, event = await organizer_and_event(client)
    created = await rsvp(client, event, contact="lupe@example.org")
    response = await client.patch(
        f"/v1/rsvps/manage/{created['manage_token']}",
        json={"alias": "L.", "language_needs": ["ase"], "contact": None},
    )
    assert response.status_code == 200, response.text
    assert response.json()["alias"] == "L."
    assert response.json()["language_needs"] == ["ase"]
    assert (
        await conn.fetchval("SELECT contact_ciphertext FROM rsvps WHERE id = $1", created["id"])
        is None
    )


async def test_unlimited_events_take_everyone(client: httpx.AsyncClient) -> None:
    _, _, event = await organizer_and_event(client, capacity=None)
    for i in range(5):
        assert (await rsvp(client, event, f"p{i}", guests=3))["status"] == "going"


# ---------------------------------------------------------------- accounts


async def test_an_account_has_one_live_rsvp_per_event(client: httpx.AsyncClient) -> None:
    _, _, event = await organizer_and_event(client)
    ana = await sign_up(client, "Ana")
    first = await rsvp(client, event, headers=ana.headers)
    again = await client.post(
        f"/v1/events/{event['id']}/rsvps", json={"alias": "Ana"}, headers=ana.headers
    )
    assert_problem(again, 409, "duplicate")
    assert (await cancel(client, first)).status_code == 200
    assert (await rsvp(client, event, headers=ana.headers))["status"] == "going"


async def test_my_rsvps_lists_them_with_their_events(client: httpx.AsyncClient) -> None:
    organizer = await sign_up(client, "Rosa")
    org = await create_org(client, organizer)
    ana = await sign_up(client, "Ana")
    events = [await published_event(client, org, organizer) for _ in range(3)]
    made = [await rsvp(client, e, headers=ana.headers) for e in events]

    page = await client.get("/v1/me/rsvps?limit=2", headers=ana.headers)
    assert page.status_code == 200, page.text
    body = page.json()
    assert len(body["items"]) == 2
    assert body["next_cursor"]
    assert 'rel="next"' in page.headers["link"]
    rest = await client.get(
        f"/v1/me/rsvps?limit=2&cursor={body['next_cursor']}", headers=ana.headers
    )
    items = body["items"] + rest.json()["items"]
    assert rest.json()["next_cursor"] is None
    assert {i["rsvp"]["id"] for i in items} == {m["id"] for m in made}
    assert items[0]["event"]["display_title"] in ("Rally", "Marcha")
    assert items[0]["manage_url"].startswith("http://127.0.0.1:8000/v1/rsvps/manage/cvn_rsvp_")

    assert_problem(await client.get("/v1/me/rsvps"), 401)
    assert_problem(await client.get("/v1/me/rsvps?cursor=nonsense", headers=ana.headers), 400)


# ---------------------------------------------------------------- idempotency


async def test_a_retried_rsvp_returns_the_same_rsvp_and_token(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    _, _, event = await organizer_and_event(client, capacity=10)
    body = {"alias": "Lupe", "guests": 1, "contact": "+52 664 555 0101"}
    headers = {"Idempotency-Key": KEY}
    first = await client.post(f"/v1/events/{event['id']}/rsvps", json=body, headers=headers)
    retry = await client.post(f"/v1/events/{event['id']}/rsvps", json=body, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert "idempotent-replayed" not in first.headers
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()
    assert await conn.fetchval("SELECT count(*) FROM rsvps WHERE event_id = $1", event["id"]) == 1
    assert await event_counters(conn, event["id"]) == (2, 0)

    # the same key with another body is refused, not replayed
    changed = await client.post(
        f"/v1/events/{event['id']}/rsvps", json={**body, "guests": 2}, headers=headers
    )
    assert_problem(changed, 422, "rule-violation", pointer="#/header/idempotency-key")

    # keys are scoped to the caller: an account using the same key makes its own RSVP
    ana = await sign_up(client, "Ana")
    own = await client.post(
        f"/v1/events/{event['id']}/rsvps", json=body, headers={**headers, **ana.headers}
    )
    assert own.status_code == 201
    assert own.json()["id"] != first.json()["id"]
    assert "idempotent-replayed" not in own.headers


async def test_a_short_idempotency_key_is_refused(client: httpx.AsyncClient) -> None:
    _, _, event = await organizer_and_event(client)
    response = await client.post(
        f"/v1/events/{event['id']}/rsvps",
        json={"alias": "Lupe"},
        headers={"Idempotency-Key": "1"},
    )
    assert_problem(response, 400, "invalid-request", pointer="#/header/idempotency-key")


async def test_an_expired_idempotency_key_makes_a_new_rsvp(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    _, _, event = await organizer_and_event(client)
    headers = {"Idempotency-Key": KEY}
    url = f"/v1/events/{event['id']}/rsvps"
    first = await client.post(url, json={"alias": "Lupe"}, headers=headers)
    await conn.execute("UPDATE idempotency_keys SET expires_at = now() - interval '1 second'")
    later = await client.post(url, json={"alias": "Lupe"}, headers=headers)
    assert later.status_code == 201
    assert later.json()["id"] != first.json()["id"]


# ---------------------------------------------------------------- contact at rest


async def test_alias_and_contact_are_stored_sealed_and_shown_to_the_organizer(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    organizer, _, event = await organizer_and_event(client)
    contact = "lupe.contact@example.org"
    created = await rsvp(client, event, "Lupe Quintanilla", contact=contact)
    row = await conn.fetchrow(
        "SELECT alias, alias_ciphertext, contact_ciphertext FROM rsvps WHERE id = $1",
        created["id"],
    )
    assert row is not None
    assert row["alias"] is None  # no plaintext copy, not even in the WAL
    for blob in (bytes(row["contact_ciphertext"]), bytes(row["alias_ciphertext"])):
        assert b"lupe" not in blob.lower() and b"example" not in blob
        assert b"Quintanilla" not in blob

    listed = await client.get(f"/v1/events/{event['id']}/rsvps", headers=organizer.headers)
    assert listed.status_code == 200
    assert listed.json()["items"][0]["alias"] == "Lupe Quintanilla"
    assert listed.json()["items"][0]["contact"] == contact


# ---------------------------------------------------------------- manage links


async def test_unknown_or_malformed_manage_links_are_not_found(
    client: httpx.AsyncClient,
) -> None:
    unknown = "cvn_rsvp_" + "A" * 43
    for token in (unknown, "nonsense", "cvn_rsvp_" + "x" * 200):
        assert_problem(await client.get(f"/v1/rsvps/manage/{token}"), 404, "not-found")
        assert_problem(await client.patch(f"/v1/rsvps/manage/{token}", json={"guests": 1}), 404)
        assert_problem(await client.delete(f"/v1/rsvps/manage/{token}"), 404)


async def test_manage_link_reveals_a_protected_location_only_when_confirmed(
    client: httpx.AsyncClient,
) -> None:
    _, _, event = await organizer_and_event(client, capacity=1, location_policy="attendees")
    going = await rsvp(client, event, "A")
    waiting = await rsvp(client, event, "B")
    shown = (await manage(client, going))["location"]
    hidden = (await manage(client, waiting))["location"]
    assert shown["precision"] == "exact"
    assert shown["address"] == "Av. Revolución 1, Zona Centro"
    assert hidden["precision"] == "area"
    assert hidden["address"] is None
    assert hidden["area"] == "Downtown Tijuana"


async def test_a_manage_link_cannot_change_a_cancelled_rsvp(client: httpx.AsyncClient) -> None:
    _, _, event = await organizer_and_event(client)
    created = await rsvp(client, event)
    await cancel(client, created)
    response = await client.patch(f"/v1/rsvps/manage/{created['manage_token']}", json={"guests": 1})
    assert_problem(response, 409, "conflict")


# ---------------------------------------------------------------- bad input


async def test_rsvp_to_a_cancelled_event_is_refused(client: httpx.AsyncClient) -> None:
    organizer, _, event = await organizer_and_event(client)
    cancelled = await client.post(
        f"/v1/events/{event['id']}/cancel", json={"reason": "Weather"}, headers=organizer.headers
    )
    assert cancelled.status_code == 200, cancelled.text
    response = await client.post(f"/v1/events/{event['id']}/rsvps", json={"alias": "Lupe"})
    assert_problem(response, 409, "conflict", detail_contains="cancelled")


async def test_rsvp_to_a_past_event_is_refused(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    _, _, event = await organizer_and_event(client)
    await conn.execute(
        """
        UPDATE events SET starts_at = now() - interval '3 hours',
                          ends_at = now() - interval '1 hour'
         WHERE id = $1
        """,
        event["id"],
    )
    response = await client.post(f"/v1/events/{event['id']}/rsvps", json={"alias": "Lupe"})
    assert_problem(response, 409, "conflict", detail_contains="over")


async def test_rsvp_to_a_draft_is_not_found(client: httpx.AsyncClient) -> None:
    organizer = await sign_up(client, "Rosa")
    org = await create_org(client, organizer)
    draft = await create_event(client, org, organizer)
    response = await client.post(f"/v1/events/{draft['id']}/rsvps", json={"alias": "Lupe"})
    assert_problem(response, 404, "not-found")
    stranger = await sign_up(client, "Bea")
    response = await client.post(
        f"/v1/events/{draft['id']}/rsvps", json={"alias": "Bea"}, headers=stranger.headers
    )
    assert_problem(response, 404, "not-found")


async def test_rsvp_to_an_unknown_event_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/events/00000000-0000-4000-8000-000000000000/rsvps", json={"alias": "Lupe"}
    )
    assert_problem(response, 404, "not-found")


async def test_members_only_and_private_events_refuse_strangers(
    client: httpx.AsyncClient,
) -> None:
    organizer = await sign_up(client, "Rosa")
    org = await create_org(client, organizer)
    members = await published_event(client, org, organizer, visibility="members")
    private = await published_event(client, org, organizer, visibility="private")
    assert_problem(await client.post(f"/v1/events/{members['id']}/rsvps", json={"alias": "X"}), 404)
    assert_problem(await client.post(f"/v1/events/{private['id']}/rsvps", json={"alias": "X"}), 404)
    assert_problem(
        await client.post(
            f"/v1/events/{private['id']}/rsvps", json={"alias": "X", "share_token": "wrong"}
        ),
        404,
    )
    member = await sign_up(client, "Carla")
    await join(client, org, organizer, member, "member")
    assert (await rsvp(client, members, headers=member.headers))["status"] == "going"
    token = private["share_url"].rsplit("/", 1)[1]
    assert (await rsvp(client, private, share_token=token))["status"] == "going"


async def test_guests_above_the_maximum_break_a_rule(client: httpx.AsyncClient) -> None:
    _, _, event = await organizer_and_event(client)
    response = await client.post(
        f"/v1/events/{event['id']}/rsvps", json={"alias": "Lupe", "guests": 11}
    )
    body = assert_problem(response, 422, "rule-violation", pointer="#/guests")
    assert "10" in body["detail"]
    created = await rsvp(client, event)
    response = await client.patch(
        f"/v1/rsvps/manage/{created['manage_token']}", json={"guests": 11}
    )
    assert_problem(response, 422, "rule-violation", pointer="#/guests")


async def test_a_group_larger_than_the_event_is_refused(client: httpx.AsyncClient) -> None:
    _, _, event = await organizer_and_event(client, capacity=3)
    response = await client.post(
        f"/v1/events/{event['id']}/rsvps", json={"alias": "Lupe", "guests": 3}
    )
    assert_problem(response, 409, "conflict", detail_contains="3 places")


async def test_schema_violations_are_bad_requests(client: httpx.AsyncClient) -> None:
    _, _, event = await organizer_and_event(client)
    url = f"/v1/events/{event['id']}/rsvps"
    cases = [
        ({"alias": "Lupe", "guests": -1}, "#/guests"),
        ({"alias": "Lupe", "status": "going"}, "#/status"),
        ({"alias": "Lupe", "legal_name": "María López"}, "#/legal_name"),
        ({"alias": ""}, "#/alias"),
        ({"alias": "x" * 101}, "#/alias"),
        ({}, None),
        ({"alias": "Lupe", "contact": "not a contact"}, "#/contact"),
        ({"alias": "Lupe", "contact": "x@y.z" + "a" * 200}, "#/contact"),
        ({"alias": "Lupe", "language_needs": ["not a tag!"]}, "#/language_needs/0"),
        ({"alias": "Lupe", "shift_id": "nope"}, "#/shift_id"),
    ]
    for body, pointer in cases:
        response = await client.post(url, json=body)
        assert_problem(response, 400, "invalid-request", pointer=pointer)
    response = await client.post(
        url, content=b'{"alias": "nul\\u0000"}', headers={"content-type": "application/json"}
    )
    assert_problem(response, 400)


async def test_a_shift_of_another_event_breaks_a_rule(client: httpx.AsyncClient) -> None:
    organizer, org, event = await organizer_and_event(client)
    other = await published_event(client, org, organizer)
    shift = await client.post(
        f"/v1/events/{other['id']}/shifts",
        json={
            "name": {"en": "Medic"},
            "starts_at": other["starts_at"],
            "ends_at": other["ends_at"],
        },
        headers=organizer.headers,
    )
    assert shift.status_code == 201, shift.text
    response = await client.post(
        f"/v1/events/{event['id']}/rsvps", json={"alias": "Lupe", "shift_id": shift.json()["id"]}
    )
    assert_problem(response, 422, "rule-violation", pointer="#/shift_id")
