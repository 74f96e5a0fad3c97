"""Shifts: organizers create and change them; each has its own places and counts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx

from tests.events_helpers import published_event
from tests.people import Person, create_org, join, sign_up
from tests.problems import assert_problem


async def hosted_event(
    client: httpx.AsyncClient, **overrides: Any
) -> tuple[Person, dict[str, Any], dict[str, Any]]:
    organizer = await sign_up(client, "Rosa")
    org = await create_org(client, organizer)
    event = await published_event(client, org, organizer, **overrides)
    return organizer, org, event


def shift_body(event: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    starts = datetime.fromisoformat(event["starts_at"])
    body: dict[str, Any] = {
        "name": {"en": "Legal observer", "es": "Observador legal"},
        "role": "legal_observer",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=1)).isoformat(),
        "capacity": 2,
        "staffing_target": 3,
    }
    body.update(overrides)
    return body


async def add_shift(
    client: httpx.AsyncClient, event: dict[str, Any], by: Person, **overrides: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/events/{event['id']}/shifts", json=shift_body(event, **overrides), headers=by.headers
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def sign_up_for(
    client: httpx.AsyncClient, event: dict[str, Any], shift: dict[str, Any], alias: str = "Lupe"
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/events/{event['id']}/rsvps", json={"alias": alias, "shift_id": shift["id"]}
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_organizers_create_multilingual_shifts_that_anyone_sees(
    client: httpx.AsyncClient,
) -> None:
    organizer, _, event = await hosted_event(client)
    created = await add_shift(client, event, organizer)
    assert created["event_id"] == event["id"]
    assert created["name"] == {"en": "Legal observer", "es": "Observador legal"}
    assert created["role"] == "legal_observer"
    assert created["counts"] == {
        "going": 0,
        "waitlisted": 0,
        "spots_left": 2,
        "staffing_target": 3,
        "still_needed": 3,
    }

    listed = await client.get(
        f"/v1/events/{event['id']}/shifts", headers={"Accept-Language": "es-MX,es;q=0.9"}
    )
    assert listed.status_code == 200
    [shift] = listed.json()["items"]
    assert shift["display_name"] == "Observador legal"
    assert shift["lang"] == "es"
    english = await client.get(f"/v1/events/{event['id']}/shifts?lang=en")
    assert english.json()["items"][0]["display_name"] == "Legal observer"


async def test_shifts_are_listed_by_start_time_a_page_at_a_time(
    client: httpx.AsyncClient,
) -> None:
    organizer, _, event = await hosted_event(client)
    starts = datetime.fromisoformat(event["starts_at"])
    for hours in (2, 0, 1):
        await add_shift(
            client,
            event,
            organizer,
            name={"en": f"Shift {hours}"},
            starts_at=(starts + timedelta(hours=hours)).isoformat(),
            ends_at=(starts + timedelta(hours=hours + 1)).isoformat(),
        )
    first = await client.get(f"/v1/events/{event['id']}/shifts?limit=2")
    assert [s["display_name"] for s in first.json()["items"]] == ["Shift 0", "Shift 1"]
    rest = await client.get(
        f"/v1/events/{event['id']}/shifts?limit=2&cursor={first.json()['next_cursor']}"
    )
    assert [s["display_name"] for s in rest.json()["items"]] == ["Shift 2"]


async def test_shift_rsvps_count_against_the_shift_only(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    organizer, _, event = await hosted_event(client, capacity=1)
    shift = await add_shift(client, event, organizer, capacity=2)
    event_rsvp = await client.post(f"/v1/events/{event['id']}/rsvps", json={"alias": "Ana"})
    assert event_rsvp.json()["status"] == "going"  # the event is now full

    first = await sign_up_for(client, event, shift, "Beto")
    second = await sign_up_for(client, event, shift, "Caro")
    third = await sign_up_for(client, event, shift, "Dani")
    assert (first["status"], second["status"], third["status"]) == (
        "going",
        "going",
        "waitlisted",
    )
    assert first["shift_id"] == shift["id"]
    assert third["waitlist_position"] == 1

    events_row = await conn.fetchrow(
        "SELECT places_taken, places_waitlisted FROM events WHERE id = $1", event["id"]
    )
    assert tuple(events_row) == (1, 0)
    counts = (await client.get(f"/v1/events/{event['id']}/counts")).json()
    assert (counts["going"], counts["waitlisted"], counts["spots_left"]) == (1, 0, 0)
    assert counts["shifts"] == [
        {
            "shift_id": shift["id"],
            "counts": {
                "going": 2,
                "waitlisted": 1,
                "spots_left": 0,
                "staffing_target": 3,
                "still_needed": 1,
            },
        }
    ]

    # a cancellation on the shift promotes the shift's waitlist, not the event's
    await client.delete(f"/v1/rsvps/manage/{first['manage_token']}")
    view = await client.get(f"/v1/rsvps/manage/{third['manage_token']}")
    assert view.json()["rsvp"]["status"] == "going"
    assert view.json()["shift"]["display_name"] in ("Legal observer", "Observador legal")


async def test_a_shift_shows_no_spots_left_while_a_group_waits_for_its_free_place(
    client: httpx.AsyncClient,
) -> None:
    organizer, _, event = await hosted_event(client)
    shift = await add_shift(client, event, organizer, capacity=4)
    url = f"/v1/events/{event['id']}/rsvps"
    trio = {"alias": "Trio", "guests": 2, "shift_id": shift["id"]}
    assert (await client.post(url, json=trio)).json()["status"] == "going"
    group = {"alias": "Group", "guests": 2, "shift_id": shift["id"]}
    assert (await client.post(url, json=group)).json()["status"] == "waitlisted"

    counts = (await client.get(f"/v1/events/{event['id']}/counts")).json()
    listed = (await client.get(f"/v1/events/{event['id']}/shifts")).json()["items"]
    for shift_counts in (counts["shifts"][0]["counts"], listed[0]["counts"]):
        assert (shift_counts["going"], shift_counts["waitlisted"]) == (3, 3)
        assert shift_counts["spots_left"] == 0
    single = await sign_up_for(client, event, shift, "Single")
    assert single["status"] == "waitlisted"


async def test_an_account_may_sign_up_for_the_event_and_a_shift_once_each(
    client: httpx.AsyncClient,
) -> None:
    organizer, _, event = await hosted_event(client)
    shift = await add_shift(client, event, organizer)
    ana = await sign_up(client, "Ana")
    url = f"/v1/events/{event['id']}/rsvps"
    assert (await client.post(url, json={"alias": "Ana"}, headers=ana.headers)).status_code == 201
    body = {"alias": "Ana", "shift_id": shift["id"]}
    assert (await client.post(url, json=body, headers=ana.headers)).status_code == 201
    assert_problem(await client.post(url, json=body, headers=ana.headers), 409, "duplicate")


async def test_raising_a_shift_capacity_admits_its_waitlist(client: httpx.AsyncClient) -> None:
    organizer, _, event = await hosted_event(client)
    shift = await add_shift(client, event, organizer, capacity=1)
    await sign_up_for(client, event, shift, "A")
    waiting = await sign_up_for(client, event, shift, "B")
    assert waiting["status"] == "waitlisted"

    response = await client.patch(
        f"/v1/shifts/{shift['id']}", json={"capacity": 2}, headers=organizer.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["counts"]["going"] == 2
    view = (await client.get(f"/v1/rsvps/manage/{waiting['manage_token']}")).json()
    assert view["rsvp"]["status"] == "going"
    assert [n["kind"] for n in view["notifications"]] == ["rsvp.promoted"]


async def test_a_shift_capacity_cannot_drop_below_the_places_taken(
    client: httpx.AsyncClient,
) -> None:
    organizer, _, event = await hosted_event(client)
    shift = await add_shift(client, event, organizer, capacity=3)
    await sign_up_for(client, event, shift, "A")
    await sign_up_for(client, event, shift, "B")
    response = await client.patch(
        f"/v1/shifts/{shift['id']}", json={"capacity": 1}, headers=organizer.headers
    )
    assert_problem(response, 409, "conflict", pointer="#/capacity", detail_contains="2 places")
    ok = await client.patch(
        f"/v1/shifts/{shift['id']}",
        json={"capacity": 2, "name": {"en": "Marshal"}, "staffing_target": None},
        headers=organizer.headers,
    )
    assert ok.status_code == 200
    assert ok.json()["name"] == {"en": "Marshal"}
    assert ok.json()["counts"]["still_needed"] is None


async def test_shift_times_must_be_in_order_and_carry_an_offset(
    client: httpx.AsyncClient,
) -> None:
    organizer, _, event = await hosted_event(client)
    url = f"/v1/events/{event['id']}/shifts"
    body = shift_body(event)
    backwards = {**body, "ends_at": body["starts_at"]}
    assert_problem(
        await client.post(url, json=backwards, headers=organizer.headers),
        422,
        "rule-violation",
        pointer="#/ends_at",
    )
    naive = {**body, "starts_at": "2030-01-01T10:00:00"}
    assert_problem(await client.post(url, json=naive, headers=organizer.headers), 400)
    shift = await add_shift(client, event, organizer)
    assert_problem(
        await client.patch(
            f"/v1/shifts/{shift['id']}",
            json={"ends_at": shift["starts_at"]},
            headers=organizer.headers,
        ),
        422,
        pointer="#/ends_at",
    )


async def test_shift_bad_input_is_refused(client: httpx.AsyncClient) -> None:
    organizer, _, event = await hosted_event(client)
    url = f"/v1/events/{event['id']}/shifts"
    cases = [
        ({**shift_body(event), "capacity": -1}, "#/capacity"),
        ({**shift_body(event), "name": {}}, "#/name"),
        ({**shift_body(event), "places_taken": 0}, "#/places_taken"),
        ({**shift_body(event), "language": "not a tag!"}, "#/language"),
        ({**shift_body(event), "language": ""}, "#/language"),
    ]
    for body, pointer in cases:
        assert_problem(
            await client.post(url, json=body, headers=organizer.headers), 400, pointer=pointer
        )


async def test_only_organizers_manage_shifts(client: httpx.AsyncClient) -> None:
    organizer, org, event = await hosted_event(client)
    member = await sign_up(client, "Carla")
    await join(client, org, organizer, member, "member")
    url = f"/v1/events/{event['id']}/shifts"
    assert_problem(await client.post(url, json=shift_body(event)), 401)
    assert_problem(await client.post(url, json=shift_body(event), headers=member.headers), 403)
    shift = await add_shift(client, event, organizer)
    assert_problem(await client.patch(f"/v1/shifts/{shift['id']}", json={"capacity": 5}), 401)
    assert_problem(
        await client.patch(
            f"/v1/shifts/{shift['id']}", json={"capacity": 5}, headers=member.headers
        ),
        403,
    )
    assert_problem(await client.delete(f"/v1/shifts/{shift['id']}", headers=member.headers), 403)
    assert_problem(
        await client.patch(
            "/v1/shifts/00000000-0000-4000-8000-000000000000",
            json={"capacity": 5},
            headers=organizer.headers,
        ),
        404,
    )


async def test_a_shift_with_people_signed_up_cannot_be_deleted(
    client: httpx.AsyncClient,
) -> None:
    organizer, _, event = await hosted_event(client)
    shift = await add_shift(client, event, organizer)
    signed = await sign_up_for(client, event, shift)
    assert_problem(
        await client.delete(f"/v1/shifts/{shift['id']}", headers=organizer.headers),
        409,
        "conflict",
    )
    await client.delete(f"/v1/rsvps/manage/{signed['manage_token']}")
    deleted = await client.delete(f"/v1/shifts/{shift['id']}", headers=organizer.headers)
    assert deleted.status_code == 204
    assert (await client.get(f"/v1/events/{event['id']}/shifts")).json()["items"] == []


async def test_hidden_counts_are_left_out_of_public_shift_lists(
    client: httpx.AsyncClient,
) -> None:
    organizer, _, event = await hosted_event(client, hide_counts=True)
    await add_shift(client, event, organizer)
    public = await client.get(f"/v1/events/{event['id']}/shifts")
    assert public.json()["items"][0]["counts"] is None
    own = await client.get(f"/v1/events/{event['id']}/shifts", headers=organizer.headers)
    assert own.json()["items"][0]["counts"]["spots_left"] == 2


async def test_shifts_of_invisible_events_are_not_found(client: httpx.AsyncClient) -> None:
    organizer, org, _ = await hosted_event(client)
    private = await published_event(client, org, organizer, visibility="private")
    await add_shift(client, private, organizer)
    assert_problem(await client.get(f"/v1/events/{private['id']}/shifts"), 404)
    token = private["share_url"].rsplit("/", 1)[1]
    shared = await client.get(f"/v1/events/{private['id']}/shifts?share_token={token}")
    assert shared.status_code == 200
    assert len(shared.json()["items"]) == 1


async def test_a_cancelled_event_takes_no_new_shifts(client: httpx.AsyncClient) -> None:
    organizer, _, event = await hosted_event(client)
    await client.post(
        f"/v1/events/{event['id']}/cancel", json={"reason": "Storm"}, headers=organizer.headers
    )
    response = await client.post(
        f"/v1/events/{event['id']}/shifts", json=shift_body(event), headers=organizer.headers
    )
    assert_problem(response, 409, "conflict")


# ---------------------------------------------------------------- interpreters


async def test_a_shift_can_interpret_a_language(client: httpx.AsyncClient) -> None:
    organizer, _, event = await hosted_event(client)
    shift = await add_shift(
        client, event, organizer, name={"en": "Mam interpreter"}, role="interpreter", language="MAM"
    )
    assert shift["language"] == "mam"
    listed = (await client.get(f"/v1/events/{event['id']}/shifts")).json()["items"]
    assert listed[0]["language"] == "mam"
    plain = await add_shift(client, event, organizer)
    assert plain["language"] is None

    changed = await client.patch(
        f"/v1/shifts/{shift['id']}", json={"language": "es"}, headers=organizer.headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["language"] == "es"
    cleared = await client.patch(
        f"/v1/shifts/{shift['id']}", json={"language": None}, headers=organizer.headers
    )
    assert cleared.json()["language"] is None
    assert_problem(
        await client.patch(f"/v1/shifts/{shift['id']}", json={"language": "es es"}),
        400,
        pointer="#/language",
    )


async def needs(
    client: httpx.AsyncClient, event: dict[str, Any], alias: str, languages: list[str], **body: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/events/{event['id']}/rsvps",
        json={"alias": alias, "language_needs": languages, **body},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_counts_set_language_needs_against_interpreters_signed_up(
    client: httpx.AsyncClient,
) -> None:
    organizer, _, event = await hosted_event(client)
    mam = await add_shift(client, event, organizer, role="interpreter", language="mam")
    await add_shift(client, event, organizer, role="interpreter", language="kjb")
    medics = await add_shift(client, event, organizer, name={"en": "Medic"}, capacity=None)
    await sign_up_for(client, event, mam, "Interpreter A")
    await sign_up_for(client, event, mam, "Interpreter B")
    await needs(client, event, "Family", ["mam", "es"], guests=3)  # 4 people
    # a shift RSVP's needs count too
    await needs(client, event, "Medic", ["mam"], shift_id=medics["id"])
    await needs(client, event, "Teen", ["es"])
    gone = await needs(client, event, "Gone", ["mam"])
    await client.delete(f"/v1/rsvps/manage/{gone['manage_token']}")

    url = f"/v1/events/{event['id']}/counts"
    exact = (await client.get(url, headers=organizer.headers)).json()
    assert exact["language_needs"] == {"es": 5, "mam": 5}
    assert exact["languages"] == [
        {"language": "es", "needed": 5, "interpreters": 0},
        {"language": "kjb", "needed": 0, "interpreters": 0},
        {"language": "mam", "needed": 5, "interpreters": 2},
    ]
    public = (await client.get(url)).json()
    # K'iche' is interpreted (public anyway) but nobody's need shows; 5 is enough to show
    assert public["languages"] == [
        {"language": "es", "needed": 5, "interpreters": 0},
        {"language": "kjb", "needed": None, "interpreters": 0},
        {"language": "mam", "needed": 5, "interpreters": 2},
    ]


async def test_small_language_needs_never_show_in_public_counts(
    client: httpx.AsyncClient,
) -> None:
    organizer, _, event = await hosted_event(client)
    shift = await add_shift(client, event, organizer, role="interpreter", language="mam")
    await sign_up_for(client, event, shift, "Interpreter")
    await needs(client, event, "Abuela", ["mam", "kjb"])

    url = f"/v1/events/{event['id']}/counts"
    public = (await client.get(url)).json()
    # one person needs Mam and K'iche': the public cannot tell, nor that anyone needs K'iche'
    assert public["language_needs"] == {}
    assert public["languages"] == [{"language": "mam", "needed": None, "interpreters": 1}]
    assert "kjb" not in (await client.get(f"/v1/events/{event['id']}")).text
    exact = (await client.get(url, headers=organizer.headers)).json()
    assert exact["languages"] == [
        {"language": "kjb", "needed": 1, "interpreters": 0},
        {"language": "mam", "needed": 1, "interpreters": 1},
    ]


async def test_hidden_counts_hide_language_coverage_from_everyone_but_organizers(
    client: httpx.AsyncClient,
) -> None:
    organizer, org, event = await hosted_event(client, hide_counts=True)
    shift = await add_shift(client, event, organizer, role="interpreter", language="mam")
    await sign_up_for(client, event, shift, "Interpreter")
    member = await sign_up(client, "Carla")
    await join(client, org, organizer, member, "member")
    url = f"/v1/events/{event['id']}/counts"
    assert_problem(await client.get(url), 403)
    assert_problem(await client.get(url, headers=member.headers), 403)
    shown = await client.get(url, headers=organizer.headers)
    assert shown.json()["languages"] == [{"language": "mam", "needed": 0, "interpreters": 1}]
