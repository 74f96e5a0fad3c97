"""Co-hosts: coalitions of orgs run one event; who may edit it and who sees its attendees."""

from __future__ import annotations

from uuid import UUID

import pytest

from api.errors import Forbidden, NotFound, Unauthorized
from api.services.events import require_event_organizer
from tests.events_helpers import create_event, published_event
from tests.people import create_org, join, sign_up
from tests.problems import assert_problem


@pytest.fixture
async def coalition(client):
    """Frontera Unida (Ana) creates the event; Red CDMX (Bea) will co-host it."""
    ana, bea = await sign_up(client, "Ana"), await sign_up(client, "Bea")
    host = await create_org(client, ana, "frontera")
    partner = await create_org(client, bea, "red-cdmx")
    return ana, bea, host, partner


async def _add(client, event, by, org, **extra):
    return await client.post(
        f"/v1/events/{event['id']}/cohosts", json={"org": org, **extra}, headers=by.headers
    )


async def test_a_co_host_shows_on_the_event_and_lists_under_both_orgs(client, coalition):
    ana, _, _, _ = coalition
    event = await published_event(client, {"slug": "frontera"}, ana)
    response = await _add(client, event, ana, "red-cdmx")
    assert response.status_code == 201
    assert response.json()["org"] == "red-cdmx"
    assert response.json()["can_see_attendees"] is False
    shown = (await client.get(f"/v1/events/{event['id']}")).json()
    assert shown["cohosts"] == ["red-cdmx"]
    assert shown["change_seq"] > event["change_seq"]
    for slug in ("frontera", "red-cdmx"):
        items = (await client.get(f"/v1/orgs/{slug}/events")).json()["items"]
        assert [e["id"] for e in items] == [event["id"]]


async def test_co_host_organizers_edit_the_event_but_their_members_cannot(client, coalition):
    ana, bea, _, partner = coalition
    event = await published_event(client, {"slug": "frontera"}, ana)
    carla = await sign_up(client, "Carla")
    await join(client, partner, bea, carla, "member")
    before = await client.patch(
        f"/v1/events/{event['id']}", json={"capacity": 80}, headers=bea.headers
    )
    assert_problem(before, 403)
    await _add(client, event, ana, "red-cdmx")
    response = await client.patch(
        f"/v1/events/{event['id']}", json={"capacity": 80}, headers=bea.headers
    )
    assert response.status_code == 200
    assert response.json()["capacity"] == 80
    assert_problem(
        await client.patch(
            f"/v1/events/{event['id']}", json={"capacity": 90}, headers=carla.headers
        ),
        403,
    )


async def test_co_host_organizers_see_and_edit_drafts(client, coalition):
    ana, bea, _, _ = coalition
    event = await create_event(client, {"slug": "frontera"}, ana)
    assert_problem(await client.get(f"/v1/events/{event['id']}", headers=bea.headers), 404)
    await _add(client, event, ana, "red-cdmx")
    assert (await client.get(f"/v1/events/{event['id']}", headers=bea.headers)).status_code == 200
    published = await client.post(f"/v1/events/{event['id']}/publish", headers=bea.headers)
    assert published.status_code == 200


async def test_co_host_members_see_members_only_events(client, coalition):
    ana, bea, _, partner = coalition
    carla = await sign_up(client, "Carla")
    await join(client, partner, bea, carla, "member")
    event = await published_event(client, {"slug": "frontera"}, ana, visibility="members")
    assert_problem(await client.get(f"/v1/events/{event['id']}", headers=carla.headers), 404)
    await _add(client, event, ana, "red-cdmx")
    assert (await client.get(f"/v1/events/{event['id']}", headers=carla.headers)).status_code == 200
    listed = (await client.get("/v1/events", headers=carla.headers)).json()["items"]
    assert [e["id"] for e in listed] == [event["id"]]


async def test_only_the_creating_orgs_organizers_manage_co_hosts(client, coalition):
    ana, bea, _, _ = coalition
    dani = await sign_up(client, "Dani")
    await create_org(client, dani, "la-rights")
    event = await published_event(client, {"slug": "frontera"}, ana)
    await _add(client, event, ana, "red-cdmx")
    assert_problem(await _add(client, event, bea, "la-rights"), 403)
    removal = await client.delete(f"/v1/events/{event['id']}/cohosts/red-cdmx", headers=bea.headers)
    assert_problem(removal, 403)
    assert_problem(await client.delete(f"/v1/events/{event['id']}", headers=bea.headers), 403)


async def test_removing_a_co_host_takes_its_rights_away(client, coalition):
    ana, bea, _, _ = coalition
    event = await published_event(client, {"slug": "frontera"}, ana)
    await _add(client, event, ana, "red-cdmx")
    response = await client.delete(
        f"/v1/events/{event['id']}/cohosts/red-cdmx", headers=ana.headers
    )
    assert response.status_code == 204
    assert (await client.get(f"/v1/events/{event['id']}")).json()["cohosts"] == []
    assert (await client.get("/v1/orgs/red-cdmx/events")).json()["items"] == []
    patch = await client.patch(
        f"/v1/events/{event['id']}", json={"capacity": 5}, headers=bea.headers
    )
    assert_problem(patch, 403)
    again = await client.delete(f"/v1/events/{event['id']}/cohosts/red-cdmx", headers=ana.headers)
    assert_problem(again, 404)


async def test_co_host_mistakes_are_refused(client, coalition):
    ana, _, _, _ = coalition
    event = await published_event(client, {"slug": "frontera"}, ana)
    assert_problem(await _add(client, event, ana, "nobody-here"), 422, pointer="#/org")
    assert_problem(await _add(client, event, ana, "frontera"), 409, detail_contains="created")
    await _add(client, event, ana, "red-cdmx")
    assert_problem(await _add(client, event, ana, "red-cdmx"), 409, detail_contains="already")
    assert_problem(await _add(client, event, ana, "Not A Slug"), 400, pointer="#/org")


async def test_organizers_list_co_hosts_with_their_access(client, coalition):
    ana, bea, _, _ = coalition
    event = await published_event(client, {"slug": "frontera"}, ana)
    await _add(client, event, ana, "red-cdmx", can_see_attendees=True)
    listed = await client.get(f"/v1/events/{event['id']}/cohosts", headers=bea.headers)
    assert [(c["org"], c["can_see_attendees"]) for c in listed.json()["items"]] == [
        ("red-cdmx", True)
    ]
    assert_problem(await client.get(f"/v1/events/{event['id']}/cohosts"), 401)


async def test_attendee_access_stays_with_the_creating_org_unless_granted(client, coalition, conn):
    ana, bea, _, _ = coalition
    dani = await sign_up(client, "Dani")
    await create_org(client, dani, "la-rights")
    event = await published_event(client, {"slug": "frontera"}, ana)
    await _add(client, event, ana, "red-cdmx")
    await _add(client, event, ana, "la-rights", can_see_attendees=True)
    event_id = UUID(event["id"])

    row = await require_event_organizer(conn, event_id, UUID(ana.id), attendee_access=True)
    assert row["id"] == event_id
    assert await require_event_organizer(conn, event_id, UUID(bea.id))
    with pytest.raises(Forbidden):
        await require_event_organizer(conn, event_id, UUID(bea.id), attendee_access=True)
    assert await require_event_organizer(conn, event_id, UUID(dani.id), attendee_access=True)

    stranger = await sign_up(client, "Eli")
    with pytest.raises(Forbidden):  # a public event: seen, but no role
        await require_event_organizer(conn, event_id, UUID(stranger.id))
    with pytest.raises(Unauthorized):
        await require_event_organizer(conn, event_id, None)
    draft = await create_event(client, {"slug": "frontera"}, ana)
    with pytest.raises(NotFound):  # a draft of another org: not even seen
        await require_event_organizer(conn, UUID(draft["id"]), UUID(stranger.id))
