"""Trips: create, read, change, the lifecycle, who may do what, co-hosts and bad input."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import asyncpg
import httpx

from tests.cohost_helpers import cohost
from tests.events_helpers import in_days
from tests.people import create_org, join, sign_up
from tests.problems import assert_problem
from tests.trips_helpers import (
    MEETING_POINT,
    accepted,
    add_item,
    create_trip,
    open_trip,
    open_trip_for,
    trip_body,
)


async def test_an_organizer_creates_a_draft_trip_with_everything_the_issue_lists(
    client: httpx.AsyncClient,
) -> None:
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    trip = await create_trip(
        client,
        org,
        owner,
        application_deadline=in_days(10),
        languages=["es", "en"],
        description={"en": "Witnessing the courts", "es": "Observación de cortes"},
    )
    assert trip["status"] == "draft"
    assert trip["org"] == org["slug"]
    assert trip["capacity"] == 12 and trip["places_taken"] == 0 and trip["spots_left"] == 12
    assert trip["cost"] == {
        "amount": "350.00",
        "currency": "USD",
        "scholarships_available": True,
        "notes": {},
    }
    assert trip["requirements"] == [{"en": "Passport needed", "es": "Se necesita pasaporte"}]
    assert trip["languages"] == ["es", "en"]
    assert trip["display"]["lang"] == "es"
    assert trip["display"]["requirements"] == ["Se necesita pasaporte"]
    assert trip["timezone"] == "America/Tijuana"
    assert trip["location_policy"] == "attendees"
    # the organizer sees the exact meeting point
    assert trip["location"]["precision"] == "exact"
    assert trip["location"]["address"] == MEETING_POINT["address"]
    assert trip["accepting_applications"] is False
    assert trip["my_application"] is None
    assert trip["sequence"] == 0


async def test_display_texts_follow_the_callers_language(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    org = await create_org(client, owner)
    trip = await open_trip_for(client, org, owner)
    es = await client.get(f"/v1/trips/{trip['id']}", headers={"Accept-Language": "es-MX"})
    assert es.json()["display"]["title"] == "Delegación fronteriza"
    en = await client.get(f"/v1/trips/{trip['id']}?lang=en")
    assert en.json()["display"]["title"] == "Border delegation"


async def test_the_public_sees_only_the_area_of_a_protected_meeting_point(
    client: httpx.AsyncClient,
) -> None:
    owner = await sign_up(client)
    org = await create_org(client, owner)
    trip = await open_trip_for(client, org, owner)
    public = (await client.get(f"/v1/trips/{trip['id']}")).json()
    assert public["location"] == {
        "precision": "area",
        "area": "Tijuana",
        "name": None,
        "address": None,
        "lat": 32.5,
        "lon": -117.05,
        "virtual_url": None,
    }
    assert "Galileo" not in (await client.get(f"/v1/orgs/{org['slug']}/trips")).text


async def test_drafts_are_hidden_from_everyone_but_organizers(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    member = await sign_up(client, "Member")
    org = await create_org(client, owner)
    await join(client, org, owner, member, "member")
    trip = await create_trip(client, org, owner)
    assert_problem(await client.get(f"/v1/trips/{trip['id']}"), 404, "not-found")
    assert_problem(
        await client.get(f"/v1/trips/{trip['id']}", headers=member.headers), 404, "not-found"
    )
    listed = await client.get(f"/v1/orgs/{org['slug']}/trips", headers=member.headers)
    assert listed.json()["items"] == []
    mine = await client.get(f"/v1/orgs/{org['slug']}/trips", headers=owner.headers)
    assert [t["id"] for t in mine.json()["items"]] == [trip["id"]]


async def test_members_only_trips_are_a_404_for_outsiders(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    member = await sign_up(client, "Member")
    outsider = await sign_up(client, "Outsider")
    org = await create_org(client, owner)
    await join(client, org, owner, member, "member")
    trip = await open_trip_for(client, org, owner, visibility="members")
    assert (await client.get(f"/v1/trips/{trip['id']}", headers=member.headers)).status_code == 200
    assert_problem(
        await client.get(f"/v1/trips/{trip['id']}", headers=outsider.headers), 404, "not-found"
    )
    assert_problem(await client.get(f"/v1/trips/{trip['id']}"), 404, "not-found")
    response = await client.post(
        f"/v1/trips/{trip['id']}/applications",
        json={"roles": ["participant"]},
        headers=outsider.headers,
    )
    assert_problem(response, 404, "not-found")


async def test_org_trips_list_pages_by_start_and_hides_past_trips_unless_asked(
    client: httpx.AsyncClient,
) -> None:
    owner = await sign_up(client)
    org = await create_org(client, owner)
    ids = []
    for days in (30, 10, 20):
        start = in_days(days)
        trip = await open_trip_for(
            client, org, owner, starts_at=start, ends_at=start + timedelta(days=2)
        )
        ids.append(trip["id"])
    past_start = in_days(-10)
    await create_trip(
        client, org, owner, starts_at=past_start, ends_at=past_start + timedelta(days=2)
    )
    first = await client.get(f"/v1/orgs/{org['slug']}/trips?limit=2")
    assert [t["id"] for t in first.json()["items"]] == [ids[1], ids[2]]
    assert 'rel="next"' in first.headers["link"]
    second = await client.get(
        f"/v1/orgs/{org['slug']}/trips?limit=2&cursor={first.json()['next_cursor']}"
    )
    assert [t["id"] for t in second.json()["items"]] == [ids[0]]
    assert second.json()["next_cursor"] is None
    with_past = await client.get(
        f"/v1/orgs/{org['slug']}/trips?include_past=true", headers=owner.headers
    )
    assert len(with_past.json()["items"]) == 4
    assert_problem(await client.get("/v1/orgs/nope-nope/trips"), 404, "not-found")
    assert_problem(
        await client.get(f"/v1/orgs/{org['slug']}/trips?cursor=garbage"),
        400,
        "invalid-request",
        pointer="#/query/cursor",
    )


# ---------------------------------------------------------------- who may create and change


async def test_creating_a_trip_needs_the_organizer_role(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    member = await sign_up(client, "Member")
    org = await create_org(client, owner)
    await join(client, org, owner, member, "member")
    url = f"/v1/orgs/{org['slug']}/trips"
    assert_problem(await client.post(url, json=trip_body()), 401, "unauthorized")
    assert_problem(
        await client.post(url, json=trip_body(), headers=member.headers), 403, "forbidden"
    )
    assert_problem(
        await client.post("/v1/orgs/no-such-org/trips", json=trip_body(), headers=owner.headers),
        404,
        "not-found",
    )


async def test_changing_a_trip_needs_a_hosting_organizer(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    member = await sign_up(client, "Member")
    stranger = await sign_up(client, "Other org")
    org = await create_org(client, owner)
    await create_org(client, stranger)
    await join(client, org, owner, member, "member")
    trip = await open_trip_for(client, org, owner)
    url = f"/v1/trips/{trip['id']}"
    body = {"capacity": 20}
    assert_problem(await client.patch(url, json=body), 401, "unauthorized")
    assert_problem(await client.patch(url, json=body, headers=member.headers), 403, "forbidden")
    assert_problem(await client.patch(url, json=body, headers=stranger.headers), 403, "forbidden")
    for action in ("close", "cancel", "complete"):
        assert_problem(
            await client.post(f"{url}/{action}", json={"reason": "x"}, headers=member.headers),
            403,
            "forbidden",
        )
    members_only = await open_trip_for(client, org, owner, visibility="members")
    assert_problem(
        await client.patch(f"/v1/trips/{members_only['id']}", json=body, headers=stranger.headers),
        404,
        "not-found",
    )


async def test_patch_changes_fields_and_bumps_sequence_only_for_calendar_changes(
    client: httpx.AsyncClient,
) -> None:
    owner = await sign_up(client)
    org = await create_org(client, owner)
    trip = await open_trip_for(client, org, owner)
    url = f"/v1/trips/{trip['id']}"
    quiet = await client.patch(url, json={"capacity": 15}, headers=owner.headers)
    assert quiet.status_code == 200, quiet.text
    assert quiet.json()["capacity"] == 15
    assert quiet.json()["sequence"] == trip["sequence"]
    assert quiet.json()["change_seq"] > trip["change_seq"]
    moved = await client.patch(
        url,
        json={
            "title": {"en": "Delegation to Nogales"},
            "cost": {"notes": {"en": "Meals included"}},
        },
        headers=owner.headers,
    )
    assert moved.json()["sequence"] == trip["sequence"] + 1
    assert moved.json()["cost"]["amount"] is None
    assert moved.json()["display"]["cost_notes"] == "Meals included"
    same = await client.patch(url, json={"capacity": 15}, headers=owner.headers)
    assert same.json()["sequence"] == moved.json()["sequence"]


async def test_moving_a_trip_tells_accepted_participants(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    owner = await sign_up(client)
    ana = await sign_up(client, "Ana")
    org = await create_org(client, owner)
    trip = await open_trip_for(client, org, owner)
    await accepted(client, trip, ana, owner)
    later = datetime.fromisoformat(trip["starts_at"]) + timedelta(days=1)
    response = await client.patch(
        f"/v1/trips/{trip['id']}",
        json={"starts_at": later.isoformat(), "ends_at": (later + timedelta(days=3)).isoformat()},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    kinds = await conn.fetch(
        "SELECT kind, payload FROM notifications WHERE account_id = $1 AND trip_id = $2",
        UUID(ana.id),
        UUID(trip["id"]),
    )
    moved = [k for k in kinds if k["kind"] == "trip.moved"]
    assert len(moved) == 1
    assert "Galileo" not in str(moved[0]["payload"])  # the inbox never holds the exact place


# ---------------------------------------------------------------- lifecycle


async def test_lifecycle_draft_open_close_reopen_complete(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    org = await create_org(client, owner)
    start = in_days(-1)
    trip = await create_trip(
        client,
        org,
        owner,
        starts_at=start,
        ends_at=start + timedelta(days=3),
        application_deadline=in_days(-5),
    )
    url = f"/v1/trips/{trip['id']}"
    # the deadline has passed: opening would take no applications
    assert_problem(
        await client.post(f"{url}/open", headers=owner.headers),
        409,
        "conflict",
        detail_contains="deadline",
    )
    await client.patch(url, json={"application_deadline": None}, headers=owner.headers)
    future = await create_trip(client, org, owner)
    opened = await open_trip(client, future, owner)
    assert opened["status"] == "open" and opened["accepting_applications"] is True
    assert opened["sequence"] == future["sequence"] + 1
    furl = f"/v1/trips/{future['id']}"
    assert_problem(
        await client.post(f"{furl}/open", headers=owner.headers),
        409,
        "conflict",
        detail_contains="already open",
    )
    closed = await client.post(f"{furl}/close", headers=owner.headers)
    assert closed.json()["status"] == "closed"
    assert closed.json()["accepting_applications"] is False
    assert_problem(await client.post(f"{furl}/close", headers=owner.headers), 409, "conflict")
    assert (await client.post(f"{furl}/open", headers=owner.headers)).json()["status"] == "open"
    # completing needs the trip to have started
    assert_problem(
        await client.post(f"{furl}/complete", headers=owner.headers),
        409,
        "conflict",
        detail_contains="not started",
    )
    # a draft cannot be closed or completed
    assert_problem(await client.post(f"{url}/close", headers=owner.headers), 409, "conflict")
    assert_problem(await client.post(f"{url}/complete", headers=owner.headers), 409, "conflict")


async def test_a_started_trip_completes_and_then_nothing_changes(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    owner = await sign_up(client)
    org = await create_org(client, owner)
    trip = await open_trip_for(client, org, owner)
    await conn.execute(
        "UPDATE trips SET starts_at = now() - interval '1 day' WHERE id = $1", UUID(trip["id"])
    )
    url = f"/v1/trips/{trip['id']}"
    done = await client.post(f"{url}/complete", headers=owner.headers)
    assert done.status_code == 200 and done.json()["status"] == "completed"
    for action in ("open", "close", "complete"):
        assert_problem(await client.post(f"{url}/{action}", headers=owner.headers), 409, "conflict")
    assert_problem(
        await client.post(f"{url}/cancel", json={"reason": "late"}, headers=owner.headers),
        409,
        "conflict",
    )
    assert_problem(
        await client.patch(url, json={"capacity": 30}, headers=owner.headers), 409, "conflict"
    )


async def test_cancelling_is_final_and_tells_every_live_applicant(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    owner = await sign_up(client)
    ana, ben = await sign_up(client, "Ana"), await sign_up(client, "Ben")
    org = await create_org(client, owner)
    trip = await open_trip_for(client, org, owner)
    await accepted(client, trip, ana, owner)
    await client.post(
        f"/v1/trips/{trip['id']}/applications", json={"roles": ["driver"]}, headers=ben.headers
    )
    url = f"/v1/trips/{trip['id']}"
    cancelled = await client.post(
        f"{url}/cancel", json={"reason": "The crossing is closed"}, headers=owner.headers
    )
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cancel_reason"] == "The crossing is closed"
    told = await conn.fetchval(
        "SELECT count(*) FROM notifications WHERE trip_id = $1 AND kind = 'trip.cancelled'",
        UUID(trip["id"]),
    )
    assert told == 2
    for action in ("open", "close"):
        assert_problem(await client.post(f"{url}/{action}", headers=owner.headers), 409, "conflict")
    assert_problem(
        await client.post(f"{url}/cancel", json={"reason": "again"}, headers=owner.headers),
        409,
        "conflict",
    )
    assert_problem(
        await client.post(f"{url}/cancel", json={}, headers=owner.headers),
        400,
        "invalid-request",
        detail_contains="reason",
    )


# ---------------------------------------------------------------- bad input


async def test_end_before_start_is_a_422_with_a_pointer(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    org = await create_org(client, owner)
    start = in_days(5)
    response = await client.post(
        f"/v1/orgs/{org['slug']}/trips",
        json=trip_body(starts_at=start, ends_at=start - timedelta(hours=1)),
        headers=owner.headers,
    )
    assert_problem(response, 422, "rule-violation", pointer="#/ends_at")
    trip = await create_trip(client, org, owner)
    response = await client.patch(
        f"/v1/trips/{trip['id']}",
        json={"ends_at": trip["starts_at"]},
        headers=owner.headers,
    )
    assert_problem(response, 422, "rule-violation", pointer="#/ends_at")


async def test_other_rules_about_a_trips_own_fields_are_422s(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    org = await create_org(client, owner)
    url = f"/v1/orgs/{org['slug']}/trips"
    cases = [
        (trip_body(timezone="Mars/Olympus"), "#/timezone"),
        (trip_body(area=None), "#/area"),
        (trip_body(application_deadline=in_days(20)), "#/application_deadline"),
        (trip_body(location_policy="reveal_at"), "#/reveal_at"),
        (trip_body(meeting_point={"name": "x", "lat": 32.5}), "#/meeting_point/lon"),
        (trip_body(cost={"amount": "10"}), "#/cost/currency"),
    ]
    for body, pointer in cases:
        assert_problem(
            await client.post(url, json=body, headers=owner.headers),
            422,
            "rule-violation",
            pointer=pointer,
        )


async def test_schema_mismatches_are_400s(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    org = await create_org(client, owner)
    url = f"/v1/orgs/{org['slug']}/trips"
    cases = [
        (trip_body(capacity=-1), "#/capacity"),
        (trip_body(status="open"), "#/status"),
        (trip_body(places_taken=3), "#/places_taken"),
        (trip_body(cost={"amount": "12.345", "currency": "USD"}), "#/cost/amount"),
        (trip_body(visibility="private"), "#/visibility"),
    ]
    for body, pointer in cases:
        assert_problem(
            await client.post(url, json=body, headers=owner.headers),
            400,
            "invalid-request",
            pointer=pointer,
        )


async def test_capacity_never_drops_below_the_accepted(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    org = await create_org(client, owner)
    trip = await open_trip_for(client, org, owner, capacity=3)
    for name in ("Ana", "Ben"):
        await accepted(client, trip, await sign_up(client, name), owner)
    response = await client.patch(
        f"/v1/trips/{trip['id']}", json={"capacity": 1}, headers=owner.headers
    )
    assert_problem(response, 409, "conflict", pointer="#/capacity")
    full = await client.patch(
        f"/v1/trips/{trip['id']}", json={"capacity": 2}, headers=owner.headers
    )
    assert full.json()["status"] == "full"
    reopened = await client.patch(
        f"/v1/trips/{trip['id']}", json={"capacity": 4}, headers=owner.headers
    )
    assert reopened.json()["status"] == "open"
    assert reopened.json()["spots_left"] == 2


async def test_new_dates_must_still_hold_the_itinerary(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    org = await create_org(client, owner)
    trip = await create_trip(client, org, owner)
    starts = datetime.fromisoformat(trip["starts_at"])
    await add_item(
        client,
        trip,
        owner,
        starts_at=starts + timedelta(days=2),
        ends_at=starts + timedelta(days=2, hours=3),
    )
    response = await client.patch(
        f"/v1/trips/{trip['id']}",
        json={"ends_at": (starts + timedelta(days=1)).isoformat()},
        headers=owner.headers,
    )
    assert_problem(response, 422, "rule-violation", pointer="#/ends_at")


# ---------------------------------------------------------------- co-hosts


async def test_cohost_organizers_edit_but_see_no_people_unless_granted(
    client: httpx.AsyncClient,
) -> None:
    owner = await sign_up(client, "Host")
    partner = await sign_up(client, "Partner")
    ana = await sign_up(client, "Ana")
    org = await create_org(client, owner)
    partner_org = await create_org(client, partner)
    trip = await open_trip_for(client, org, owner)
    url = f"/v1/trips/{trip['id']}"
    pending = await client.post(
        f"{url}/cohosts", json={"org": partner_org["slug"]}, headers=owner.headers
    )
    assert pending.status_code == 201, pending.text
    assert pending.json()["status"] == "pending"
    assert_problem(
        await client.post(
            f"{url}/cohosts", json={"org": partner_org["slug"]}, headers=owner.headers
        ),
        409,
        "conflict",
    )
    # not a co-host, not shown, until the partner's organizer accepts
    assert (await client.get(url, headers=owner.headers)).json()["cohosts"] == []
    assert_problem(
        await client.patch(url, json={"capacity": 20}, headers=partner.headers), 403, "forbidden"
    )
    for who in (owner, ana):
        assert_problem(
            await client.post(f"{url}/cohosts/{partner_org['slug']}/accept", headers=who.headers),
            403,
            "forbidden",
        )
    assert_problem(
        await client.post(f"{url}/cohosts/{partner_org['slug']}/accept"), 401, "unauthorized"
    )
    invitations = await client.get(
        f"/v1/orgs/{partner_org['slug']}/cohost-invitations", headers=partner.headers
    )
    assert [(i["kind"], i["id"]) for i in invitations.json()["items"]] == [("trip", trip["id"])]
    added = await client.post(
        f"{url}/cohosts/{partner_org['slug']}/accept", headers=partner.headers
    )
    assert added.status_code == 200, added.text
    assert added.json()["status"] == "accepted"
    assert_problem(
        await client.post(
            f"{url}/cohosts", json={"org": partner_org["slug"]}, headers=owner.headers
        ),
        409,
        "conflict",
    )
    assert_problem(
        await client.post(f"{url}/cohosts", json={"org": org["slug"]}, headers=owner.headers),
        409,
        "conflict",
    )
    assert_problem(
        await client.post(f"{url}/cohosts", json={"org": "nobody-here"}, headers=owner.headers),
        422,
        "rule-violation",
        pointer="#/org",
    )
    edited = await client.patch(url, json={"capacity": 20}, headers=partner.headers)
    assert edited.status_code == 200
    assert edited.json()["cohosts"] == [partner_org["slug"]]
    assert_problem(
        await client.post(f"{url}/cohosts", json={"org": "x-y"}, headers=partner.headers),
        403,
        "forbidden",
    )
    listed = await client.get(f"/v1/orgs/{partner_org['slug']}/trips")
    assert [t["id"] for t in listed.json()["items"]] == [trip["id"]]
    application = await accepted(client, trip, ana, owner)
    assert_problem(
        await client.get(f"{url}/applications", headers=partner.headers), 403, "forbidden"
    )
    assert_problem(
        await client.get(
            f"/v1/trip-applications/{application['id']}/participant-data",
            headers=partner.headers,
        ),
        403,
        "forbidden",
    )
    # granting access: remove and add again with it
    removed = await client.delete(f"{url}/cohosts/{partner_org['slug']}", headers=owner.headers)
    assert removed.status_code == 204
    assert_problem(
        await client.delete(f"{url}/cohosts/{partner_org['slug']}", headers=owner.headers),
        404,
        "not-found",
    )
    await cohost(
        client, "trip", trip["id"], owner, partner_org["slug"], partner, can_see_attendees=True
    )
    seen = await client.get(f"{url}/applications", headers=partner.headers)
    assert seen.status_code == 200
    assert [a["id"] for a in seen.json()["items"]] == [application["id"]]
    cohosts = await client.get(f"{url}/cohosts", headers=partner.headers)
    assert cohosts.json()["items"][0]["can_see_attendees"] is True


async def test_the_demo_trip_is_open_and_protects_its_places(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    from demo.trips import load_demo_trips

    owner = await sign_up(client, "Demo Organizer")
    org = await create_org(client, owner, slug="frontera-unida")
    assert await load_demo_trips(conn, UUID(owner.id)) == 1
    listed = (await client.get(f"/v1/orgs/{org['slug']}/trips")).json()["items"]
    assert len(listed) == 1
    trip = listed[0]
    assert trip["status"] == "open" and trip["accepting_applications"] is True
    assert trip["location"]["precision"] == "area"
    public = (await client.get(f"/v1/trips/{trip['id']}/itinerary")).json()["items"]
    full = (await client.get(f"/v1/trips/{trip['id']}/itinerary", headers=owner.headers)).json()[
        "items"
    ]
    assert (len(public), len(full)) == (2, 3)
