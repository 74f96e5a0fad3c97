"""Applications: questions and answers, the state machine end to end, places, the waitlist,
notifications, counts per role, and "my trips"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from tests.events_helpers import in_days
from tests.people import Person, create_org, join, sign_up
from tests.problems import assert_problem
from tests.trips_helpers import accepted, apply, create_trip, decide, open_trip_for


async def _question(
    client: httpx.AsyncClient, trip: dict[str, Any], by: Person, **body: Any
) -> dict[str, Any]:
    response = await client.post(f"/v1/trips/{trip['id']}/questions", json=body, headers=by.headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def _inbox(conn: asyncpg.Connection, who: Person) -> list[str]:
    rows = await conn.fetch(
        "SELECT kind FROM notifications WHERE account_id = $1 AND trip_id IS NOT NULL "
        "ORDER BY created_at, id",
        UUID(who.id),
    )
    return [r["kind"] for r in rows]


# ---------------------------------------------------------------- questions and answers


async def test_answers_are_checked_against_the_questions(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    ana = await sign_up(client, "Ana")
    org = await create_org(client, owner)
    trip = await open_trip_for(client, org, owner)
    why = await _question(
        client, trip, owner, kind="text", prompt={"en": "Why do you want to come?"}, required=True
    )
    spanish = await _question(
        client,
        trip,
        owner,
        kind="single_choice",
        prompt={"en": "Do you speak Spanish?", "es": "¿Hablas español?"},
        options=[
            {"value": "yes", "label": {"en": "Yes"}},
            {"value": "some", "label": {"en": "Some"}},
            {"value": "no", "label": {"en": "No"}},
        ],
        required=True,
    )
    skills = await _question(
        client,
        trip,
        owner,
        kind="multiple_choice",
        prompt={"en": "Skills"},
        options=[
            {"value": "first_aid", "label": {"en": "First aid"}},
            {"value": "driving", "label": {"en": "Driving"}},
        ],
    )
    listed = await client.get(f"/v1/trips/{trip['id']}/questions?lang=es")
    assert [q["id"] for q in listed.json()["items"]] == [why["id"], spanish["id"], skills["id"]]
    assert listed.json()["items"][1]["display_prompt"] == "¿Hablas español?"

    url = f"/v1/trips/{trip['id']}/applications"
    missing = await client.post(
        url, json={"roles": ["participant"], "answers": {}}, headers=ana.headers
    )
    body = assert_problem(missing, 422, "rule-violation", pointer=f"#/answers/{why['id']}")
    assert f"#/answers/{spanish['id']}" in [e["pointer"] for e in body["errors"]]

    blank = await client.post(
        url,
        json={"roles": ["participant"], "answers": {why["id"]: "   ", spanish["id"]: "yes"}},
        headers=ana.headers,
    )
    assert_problem(blank, 422, "rule-violation", pointer=f"#/answers/{why['id']}")

    wrong_option = await client.post(
        url,
        json={
            "roles": ["participant"],
            "answers": {why["id"]: "To witness", spanish["id"]: "fluent"},
        },
        headers=ana.headers,
    )
    body = assert_problem(wrong_option, 422, "rule-violation", pointer=f"#/answers/{spanish['id']}")
    assert "fluent" not in body["detail"]  # submitted values are never echoed

    wrong_shapes = await client.post(
        url,
        json={
            "roles": ["participant"],
            "answers": {
                why["id"]: ["a", "b"],
                spanish["id"]: ["yes"],
                skills["id"]: "driving",
                "11111111-1111-4111-8111-111111111111": "?",
            },
        },
        headers=ana.headers,
    )
    body = assert_problem(wrong_shapes, 422, "rule-violation")
    assert {e["pointer"] for e in body["errors"]} == {
        f"#/answers/{why['id']}",
        f"#/answers/{spanish['id']}",
        f"#/answers/{skills['id']}",
        "#/answers/11111111-1111-4111-8111-111111111111",
    }

    good = await client.post(
        url,
        json={
            "roles": ["participant", "driver", "participant"],
            "answers": {
                why["id"]: " To witness ",
                spanish["id"]: "some",
                skills["id"]: ["driving", "first_aid"],
            },
        },
        headers=ana.headers,
    )
    assert good.status_code == 201, good.text
    assert good.json()["status"] == "applied"
    assert good.json()["roles"] == ["participant", "driver"]
    assert good.json()["answers"][why["id"]] == "To witness"
    assert good.json()["has_participant_data"] is False
    assert good.headers["cache-control"] == "no-store"


async def test_bad_questions_are_refused(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    ana = await sign_up(client, "Ana")
    org = await create_org(client, owner)
    trip = await open_trip_for(client, org, owner)
    url = f"/v1/trips/{trip['id']}/questions"
    one_option = {
        "kind": "single_choice",
        "prompt": {"en": "Pick"},
        "options": [{"value": "a", "label": {"en": "A"}}],
    }
    assert_problem(
        await client.post(url, json=one_option, headers=owner.headers),
        422,
        "rule-violation",
        pointer="#/options",
    )
    text_with_options = {
        "kind": "text",
        "prompt": {"en": "Say"},
        "options": [{"value": "a", "label": {"en": "A"}}, {"value": "b", "label": {"en": "B"}}],
    }
    assert_problem(
        await client.post(url, json=text_with_options, headers=owner.headers),
        422,
        "rule-violation",
        pointer="#/options",
    )
    duplicate = {
        "kind": "multiple_choice",
        "prompt": {"en": "Pick"},
        "options": [{"value": "a", "label": {"en": "A"}}, {"value": "a", "label": {"en": "B"}}],
    }
    assert_problem(
        await client.post(url, json=duplicate, headers=owner.headers),
        422,
        "rule-violation",
        pointer="#/options",
    )
    plain = {"kind": "text", "prompt": {"en": "Say"}}
    assert_problem(await client.post(url, json=plain), 401, "unauthorized")
    assert_problem(await client.post(url, json=plain, headers=ana.headers), 403, "forbidden")


# ---------------------------------------------------------------- when applying is refused


async def test_applying_is_refused_after_the_deadline_when_closed_cancelled_or_twice(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    owner = await sign_up(client)
    ana = await sign_up(client, "Ana")
    org = await create_org(client, owner)
    body = {"roles": ["participant"]}

    draft = await create_trip(client, org, owner)
    assert_problem(
        await client.post(f"/v1/trips/{draft['id']}/applications", json=body, headers=ana.headers),
        404,
        "not-found",
    )
    # organizers see their own draft, but it takes no applications
    assert_problem(
        await client.post(
            f"/v1/trips/{draft['id']}/applications", json=body, headers=owner.headers
        ),
        409,
        "conflict",
        detail_contains="draft",
    )

    late = await open_trip_for(client, org, owner, application_deadline=in_days(3))
    await conn.execute(
        "UPDATE trips SET application_deadline = now() - interval '1 minute' WHERE id = $1",
        UUID(late["id"]),
    )
    assert_problem(
        await client.post(f"/v1/trips/{late['id']}/applications", json=body, headers=ana.headers),
        409,
        "conflict",
        detail_contains="closed",
    )

    closed = await open_trip_for(client, org, owner)
    await client.post(f"/v1/trips/{closed['id']}/close", headers=owner.headers)
    assert_problem(
        await client.post(f"/v1/trips/{closed['id']}/applications", json=body, headers=ana.headers),
        409,
        "conflict",
        detail_contains="closed",
    )

    cancelled = await open_trip_for(client, org, owner)
    await client.post(
        f"/v1/trips/{cancelled['id']}/cancel", json={"reason": "Storm"}, headers=owner.headers
    )
    assert_problem(
        await client.post(
            f"/v1/trips/{cancelled['id']}/applications", json=body, headers=ana.headers
        ),
        409,
        "conflict",
        detail_contains="cancelled",
    )

    trip = await open_trip_for(client, org, owner)
    first = await apply(client, trip, ana)
    assert_problem(
        await client.post(f"/v1/trips/{trip['id']}/applications", json=body, headers=ana.headers),
        409,
        "conflict",
        detail_contains="already applied",
    )
    # after withdrawing, applying again is fine
    await client.post(f"/v1/trip-applications/{first['id']}/withdraw", headers=ana.headers)
    again = await apply(client, trip, ana)
    assert again["id"] != first["id"]

    assert_problem(
        await client.post(f"/v1/trips/{trip['id']}/applications", json=body),
        401,
        "unauthorized",
    )


async def test_application_bodies_refuse_unknown_fields_and_roles(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    owner = await sign_up(client)
    ana = await sign_up(client, "Ana")
    org = await create_org(client, owner)
    trip = await open_trip_for(client, org, owner)
    url = f"/v1/trips/{trip['id']}/applications"
    for body, pointer in (
        ({"roles": ["participant"], "status": "accepted"}, "#/status"),
        ({"roles": ["smuggler"]}, "#/roles/0"),
        ({"roles": []}, "#/roles"),
        ({"roles": ["participant"], "emergency_contact": {"name": "R"}}, "#/emergency_contact"),
    ):
        response = await client.post(url, json=body, headers=ana.headers)
        problem = assert_problem(response, 400, "invalid-request")
        assert any(e["pointer"].startswith(pointer) for e in problem["errors"]), problem
    rows = await conn.fetchval(
        "SELECT count(*) FROM trip_applications WHERE trip_id = $1", UUID(trip["id"])
    )
    assert rows == 0


# ---------------------------------------------------------------- the state machine


async def test_the_application_state_machine_end_to_end(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    owner = await sign_up(client, "Organizer")
    ana, ben, cai, dee = [await sign_up(client, n) for n in ("Ana", "Ben", "Cai", "Dee")]
    org = await create_org(client, owner)
    trip = await open_trip_for(client, org, owner, capacity=2)
    a = await apply(client, trip, ana, roles=["participant", "interpreter"])
    b = await apply(client, trip, ben, roles=["driver"])
    c = await apply(client, trip, cai)
    d = await apply(client, trip, dee, roles=["medic"])

    # applied → accepted (twice fills the trip)
    first = await decide(client, a, "accept", owner)
    assert first.status_code == 200 and first.json()["status"] == "accepted"
    assert first.json()["decided_at"] is not None
    second = await client.post(
        f"/v1/trip-applications/{b['id']}/accept",
        json={"roles": ["driver", "lead"]},
        headers=owner.headers,
    )
    assert second.json()["roles"] == ["driver", "lead"]
    state = (await client.get(f"/v1/trips/{trip['id']}")).json()
    assert (state["status"], state["places_taken"], state["spots_left"]) == ("full", 2, 0)
    assert state["accepting_applications"] is True  # the waitlist still takes people

    # a full trip refuses another acceptance
    assert_problem(
        await decide(client, c, "accept", owner), 409, "conflict", detail_contains="full"
    )
    # applied → waitlisted, in order
    assert (await decide(client, c, "waitlist", owner)).json()["waitlist_position"] == 1
    assert (await decide(client, d, "waitlist", owner)).json()["waitlist_position"] == 2

    # illegal transitions are 409s
    assert_problem(
        await decide(client, a, "accept", owner), 409, "conflict", detail_contains="already"
    )
    assert_problem(await decide(client, a, "waitlist", owner), 409, "conflict")
    assert_problem(await decide(client, a, "decline", owner), 409, "conflict")
    assert_problem(await decide(client, c, "waitlist", owner), 409, "conflict")

    # the applicant sees their own status
    mine = await client.get(f"/v1/trips/{trip['id']}/applications/mine", headers=dee.headers)
    assert mine.json()["status"] == "waitlisted" and mine.json()["waitlist_position"] == 2
    assert (await client.get(f"/v1/trips/{trip['id']}", headers=dee.headers)).json()[
        "my_application"
    ] == {"id": d["id"], "status": "waitlisted"}

    # an accepted participant withdraws: the oldest waitlisted is promoted at once
    withdrawn = await client.post(f"/v1/trip-applications/{a['id']}/withdraw", headers=ana.headers)
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    promoted = await client.get(f"/v1/trips/{trip['id']}/applications/mine", headers=cai.headers)
    assert promoted.json()["status"] == "accepted"
    assert (
        await client.get(f"/v1/trips/{trip['id']}/applications/mine", headers=dee.headers)
    ).json()["waitlist_position"] == 1
    state = (await client.get(f"/v1/trips/{trip['id']}")).json()
    assert (state["status"], state["places_taken"]) == ("full", 2)

    # waitlisted → declined; withdrawn and declined are final
    assert (await decide(client, d, "decline", owner)).json()["status"] == "declined"
    assert_problem(await decide(client, d, "accept", owner), 409, "conflict")
    assert_problem(
        await client.post(f"/v1/trip-applications/{a['id']}/withdraw", headers=ana.headers),
        409,
        "conflict",
    )
    assert_problem(
        await client.post(f"/v1/trip-applications/{d['id']}/withdraw", headers=dee.headers),
        409,
        "conflict",
    )
    # a declined applicant cannot simply apply again
    assert_problem(
        await client.post(
            f"/v1/trips/{trip['id']}/applications", json={"roles": ["medic"]}, headers=dee.headers
        ),
        409,
        "conflict",
        detail_contains="declined",
    )

    # withdrawing frees a place; nobody waits, so the trip opens again
    await client.post(f"/v1/trip-applications/{b['id']}/withdraw", headers=ben.headers)
    state = (await client.get(f"/v1/trips/{trip['id']}")).json()
    assert (state["status"], state["places_taken"]) == ("open", 1)
    accepted_rows = await conn.fetchval(
        "SELECT count(*) FROM trip_applications WHERE trip_id = $1 AND status = 'accepted'",
        UUID(trip["id"]),
    )
    assert accepted_rows == state["places_taken"] == 1

    # everyone heard about their own application, in the shared inbox
    assert await _inbox(conn, ana) == ["trip.application_accepted"]
    assert await _inbox(conn, ben) == ["trip.application_accepted"]
    assert await _inbox(conn, cai) == ["trip.application_waitlisted", "trip.application_promoted"]
    assert await _inbox(conn, dee) == ["trip.application_waitlisted", "trip.application_declined"]
    inbox = await client.get("/v1/me/notifications", headers=cai.headers)
    assert inbox.status_code == 200
    assert [n["kind"] for n in inbox.json()["items"]][:2] == [
        "trip.application_promoted",
        "trip.application_waitlisted",
    ]
    assert inbox.json()["items"][0]["payload"]["trip_id"] == trip["id"]


async def test_no_promotion_when_the_trip_says_so(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    ana, ben = await sign_up(client, "Ana"), await sign_up(client, "Ben")
    org = await create_org(client, owner)
    trip = await open_trip_for(client, org, owner, capacity=1, promote_from_waitlist=False)
    a = await accepted(client, trip, ana, owner)
    b = await apply(client, trip, ben)
    await decide(client, b, "waitlist", owner)
    await client.post(f"/v1/trip-applications/{a['id']}/withdraw", headers=ana.headers)
    mine = await client.get(f"/v1/trips/{trip['id']}/applications/mine", headers=ben.headers)
    assert mine.json()["status"] == "waitlisted"
    state = (await client.get(f"/v1/trips/{trip['id']}")).json()
    assert (state["status"], state["places_taken"]) == ("open", 0)
    # the organizer accepts from the waitlist by hand
    assert (await decide(client, b, "accept", owner)).json()["status"] == "accepted"


async def test_raising_the_capacity_promotes_the_waitlist_in_order(
    client: httpx.AsyncClient,
) -> None:
    owner = await sign_up(client)
    org = await create_org(client, owner)
    trip = await open_trip_for(client, org, owner, capacity=1)
    await accepted(client, trip, await sign_up(client, "Ana"), owner)
    waiting = []
    for name in ("Ben", "Cai", "Dee"):
        person = await sign_up(client, name)
        application = await apply(client, trip, person)
        await decide(client, application, "waitlist", owner)
        waiting.append(person)
    raised = await client.patch(
        f"/v1/trips/{trip['id']}", json={"capacity": 3}, headers=owner.headers
    )
    assert raised.json()["places_taken"] == 3 and raised.json()["status"] == "full"
    statuses = [
        (await client.get(f"/v1/trips/{trip['id']}/applications/mine", headers=p.headers)).json()[
            "status"
        ]
        for p in waiting
    ]
    assert statuses == ["accepted", "accepted", "waitlisted"]


async def test_who_may_decide_and_withdraw(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client, "Organizer")
    member = await sign_up(client, "Member")
    other_org_owner = await sign_up(client, "Elsewhere")
    ana, ben = await sign_up(client, "Ana"), await sign_up(client, "Ben")
    org = await create_org(client, owner)
    await create_org(client, other_org_owner)
    await join(client, org, owner, member, "member")
    trip = await open_trip_for(client, org, owner)
    a = await apply(client, trip, ana)
    await apply(client, trip, ben)
    assert_problem(
        await client.post(f"/v1/trip-applications/{a['id']}/accept"), 401, "unauthorized"
    )
    # the applicant sees their application but lacks the role
    assert_problem(await decide(client, a, "accept", ana), 403, "forbidden")
    # people who may not know the application exists
    for stranger in (ben, member, other_org_owner):
        assert_problem(await decide(client, a, "accept", stranger), 404, "not-found")
        assert_problem(await decide(client, a, "withdraw", stranger), 404, "not-found")
    # organizers decline; only applicants withdraw
    assert_problem(await decide(client, a, "withdraw", owner), 403, "forbidden")
    assert_problem(
        await client.post(
            "/v1/trip-applications/00000000-0000-4000-8000-000000000000/accept",
            headers=owner.headers,
        ),
        404,
        "not-found",
    )
    # a cancelled trip's applications no longer change
    await client.post(
        f"/v1/trips/{trip['id']}/cancel", json={"reason": "Storm"}, headers=owner.headers
    )
    assert_problem(await decide(client, a, "accept", owner), 409, "conflict")


async def test_organizers_see_every_application_with_counts_per_role(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    owner = await sign_up(client, "Organizer")
    member = await sign_up(client, "Member")
    org = await create_org(client, owner)
    await join(client, org, owner, member, "member")
    trip = await open_trip_for(client, org, owner)
    people = [await sign_up(client, n) for n in ("Ana", "Ben", "Cai", "Dee", "Eve")]
    apps = [
        await apply(client, trip, people[0], roles=["participant", "interpreter"]),
        await apply(client, trip, people[1], roles=["driver"]),
        await apply(client, trip, people[2], roles=["interpreter"]),
        await apply(client, trip, people[3], roles=["medic"]),
        await apply(client, trip, people[4], roles=["legal_observer"]),
    ]
    await decide(client, apps[0], "accept", owner)
    await decide(client, apps[1], "waitlist", owner)
    await decide(client, apps[3], "decline", owner)
    await client.post(f"/v1/trip-applications/{apps[4]['id']}/withdraw", headers=people[4].headers)

    url = f"/v1/trips/{trip['id']}/applications"
    page = await client.get(f"{url}?limit=2", headers=owner.headers)
    assert page.status_code == 200, page.text
    body = page.json()
    assert [a["id"] for a in body["items"]] == [apps[0]["id"], apps[1]["id"]]
    assert body["items"][0]["display_name"] == "Ana"
    assert body["items"][1]["waitlist_position"] == 1
    assert body["counts"] == {
        "applied": 1,
        "accepted": 1,
        "waitlisted": 1,
        "declined": 1,
        "withdrawn": 1,
        "by_role": {
            "driver": {"applied": 0, "accepted": 0, "waitlisted": 1},
            "interpreter": {"applied": 1, "accepted": 1, "waitlisted": 0},
            "participant": {"applied": 0, "accepted": 1, "waitlisted": 0},
        },
    }
    rest = await client.get(f"{url}?limit=2&cursor={body['next_cursor']}", headers=owner.headers)
    assert [a["id"] for a in rest.json()["items"]] == [apps[2]["id"], apps[3]["id"]]
    only = await client.get(f"{url}?status=accepted", headers=owner.headers)
    assert [a["id"] for a in only.json()["items"]] == [apps[0]["id"]]
    audited = await conn.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'trip_applications.listed' "
        "AND subject_id = $1",
        UUID(trip["id"]),
    )
    assert audited == 3
    assert_problem(await client.get(url), 401, "unauthorized")
    assert_problem(await client.get(url, headers=member.headers), 403, "forbidden")
    assert_problem(await client.get(url, headers=people[0].headers), 403, "forbidden")
    assert_problem(
        await client.get(f"{url}?status=maybe", headers=owner.headers), 400, "invalid-request"
    )


async def test_my_trips_lists_my_applications_with_their_trips(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    ana = await sign_up(client, "Ana")
    org = await create_org(client, owner)
    soon = await open_trip_for(client, org, owner)
    later_start = in_days(40)
    later = await open_trip_for(
        client, org, owner, starts_at=later_start, ends_at=later_start + timedelta(days=2)
    )
    await accepted(client, trip=soon, who=ana, by=owner)
    await apply(client, later, ana)
    response = await client.get("/v1/me/trips", headers=ana.headers)
    assert response.status_code == 200
    items = response.json()["items"]
    assert [(i["trip"]["id"], i["application"]["status"]) for i in items] == [
        (soon["id"], "accepted"),
        (later["id"], "applied"),
    ]
    # accepted: the exact meeting point; applied only: the area
    assert items[0]["trip"]["location"]["precision"] == "exact"
    assert items[1]["trip"]["location"]["precision"] == "area"
    page = await client.get("/v1/me/trips?limit=1", headers=ana.headers)
    assert len(page.json()["items"]) == 1 and page.json()["next_cursor"]
    assert_problem(await client.get("/v1/me/trips"), 401, "unauthorized")
    assert_problem(
        await client.get(f"/v1/trips/{soon['id']}/applications/mine", headers=owner.headers),
        404,
        "not-found",
    )
