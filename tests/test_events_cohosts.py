"""Co-hosts: coalitions of orgs run one event, by invitation that the co-host accepts; who may
edit it and who sees its attendees."""

from __future__ import annotations

from uuid import UUID

import pytest

from api.errors import Forbidden, NotFound, Unauthorized
from api.services.events import require_event_organizer
from tests.cohost_helpers import cohost, invite
from tests.events_helpers import create_event, published_event
from tests.people import create_org, join, sign_up
from tests.problems import assert_problem
from tests.trips_helpers import open_trip_for


@pytest.fixture
async def coalition(client):
    """Frontera Unida (Ana) creates the event; Red CDMX (Bea) will co-host it."""
    ana, bea = await sign_up(client, "Ana"), await sign_up(client, "Bea")
    host = await create_org(client, ana, "frontera")
    partner = await create_org(client, bea, "red-cdmx")
    return ana, bea, host, partner


async def _add(client, event, by, org, **extra):
    """Ask `org` to co-host; its owner Bea (for red-cdmx) or Dani (la-rights) accepts."""
    return await invite(client, "event", event["id"], by, org, **extra)


async def _cohost(client, event, ana, accepter, org="red-cdmx", **extra):
    return await cohost(client, "event", event["id"], ana, org, accepter, **extra)


async def test_a_co_host_shows_on_the_event_and_lists_under_both_orgs(client, coalition):
    ana, bea, _, _ = coalition
    event = await published_event(client, {"slug": "frontera"}, ana)
    accepted = await _cohost(client, event, ana, bea)
    assert accepted["org"] == "red-cdmx" and accepted["status"] == "accepted"
    assert accepted["can_see_attendees"] is False
    shown = (await client.get(f"/v1/events/{event['id']}")).json()
    assert shown["cohosts"] == ["red-cdmx"]
    assert shown["change_seq"] > event["change_seq"]
    for slug in ("frontera", "red-cdmx"):
        items = (await client.get(f"/v1/orgs/{slug}/events")).json()["items"]
        assert [e["id"] for e in items] == [event["id"]]


async def test_an_invitation_is_shown_nowhere_and_gives_no_rights_until_accepted(
    client, conn, coalition
):
    ana, bea, _, _ = coalition
    event = await published_event(client, {"slug": "frontera"}, ana)
    outbox_before = await conn.fetchval("SELECT count(*) FROM outbox")
    invited = await _add(client, event, ana, "red-cdmx")
    assert invited.status_code == 201
    assert invited.json()["status"] == "pending"
    shown = (await client.get(f"/v1/events/{event['id']}")).json()
    assert shown["cohosts"] == []
    assert shown["change_seq"] == event["change_seq"]  # partners have nothing new to pull
    assert await conn.fetchval("SELECT count(*) FROM outbox") == outbox_before  # no webhook
    assert (await client.get("/v1/orgs/red-cdmx/events")).json()["items"] == []
    feed = await client.get("/v1/orgs/red-cdmx/calendar.ics")
    assert event["id"] not in feed.text
    jsonld = await client.get(
        f"/v1/events/{event['id']}", headers={"Accept": "application/ld+json"}
    )
    assert "red-cdmx" not in jsonld.text and "Org red-cdmx" not in jsonld.text
    patch = await client.patch(
        f"/v1/events/{event['id']}", json={"capacity": 80}, headers=bea.headers
    )
    assert_problem(patch, 403)
    assert_problem(await client.get(f"/v1/events/{event['id']}/cohosts", headers=bea.headers), 403)


async def test_the_invited_orgs_organizers_see_the_invitation_and_accept_it(client, coalition):
    ana, bea, _, partner = coalition
    carla = await sign_up(client, "Carla")
    await join(client, partner, bea, carla, "organizer")
    event = await create_event(client, {"slug": "frontera"}, ana)
    await _add(client, event, ana, "red-cdmx", can_see_attendees=True)
    invitations = await client.get("/v1/orgs/red-cdmx/cohost-invitations", headers=carla.headers)
    assert invitations.status_code == 200
    assert invitations.headers["cache-control"] == "no-store"
    [item] = invitations.json()["items"]
    assert (item["kind"], item["id"], item["host_org"]) == ("event", event["id"], "frontera")
    assert item["can_see_attendees"] is True and item["status"] == "draft"
    assert item["accept_url"] == f"/v1/events/{event['id']}/cohosts/red-cdmx/accept"
    # the host's organizers see it pending on the event
    listed = (await client.get(f"/v1/events/{event['id']}/cohosts", headers=ana.headers)).json()
    assert [(c["org"], c["status"]) for c in listed["items"]] == [("red-cdmx", "pending")]
    accepted = await client.post(item["accept_url"], headers=carla.headers)
    assert accepted.status_code == 200
    assert accepted.json()["status"] == "accepted"
    assert accepted.json()["can_see_attendees"] is True
    listed = (await client.get(f"/v1/events/{event['id']}/cohosts", headers=ana.headers)).json()
    assert [(c["org"], c["status"]) for c in listed["items"]] == [("red-cdmx", "accepted")]
    gone = await client.get("/v1/orgs/red-cdmx/cohost-invitations", headers=carla.headers)
    assert gone.json()["items"] == []
    assert_problem(await client.post(item["accept_url"], headers=carla.headers), 404)


async def test_a_declined_invitation_leaves_nothing_behind(client, coalition):
    ana, bea, _, _ = coalition
    event = await published_event(client, {"slug": "frontera"}, ana)
    await _add(client, event, ana, "red-cdmx")
    url = f"/v1/events/{event['id']}/cohosts/red-cdmx"
    declined = await client.post(f"{url}/decline", headers=bea.headers)
    assert declined.status_code == 204
    assert (await client.get(f"/v1/events/{event['id']}")).json()["cohosts"] == []
    listed = (await client.get(f"/v1/events/{event['id']}/cohosts", headers=ana.headers)).json()
    assert listed["items"] == []
    assert_problem(await client.post(f"{url}/accept", headers=bea.headers), 404)
    assert_problem(await client.post(f"{url}/decline", headers=bea.headers), 404)
    # the host may ask again
    assert (await _add(client, event, ana, "red-cdmx")).status_code == 201


async def test_only_the_invited_orgs_organizers_answer_an_invitation(client, coalition):
    ana, bea, host, partner = coalition
    carla, dani = await sign_up(client, "Carla"), await sign_up(client, "Dani")
    await join(client, partner, bea, carla, "member")
    await create_org(client, dani, "la-rights")
    tomas = await sign_up(client, "Tomás")
    await join(client, host, ana, tomas, "organizer")
    event = await published_event(client, {"slug": "frontera"}, ana)
    await _add(client, event, ana, "red-cdmx")
    url = f"/v1/events/{event['id']}/cohosts/red-cdmx"
    invitations = "/v1/orgs/red-cdmx/cohost-invitations"
    for action in ("accept", "decline"):
        assert_problem(await client.post(f"{url}/{action}"), 401, "unauthorized")
        for who in (carla, dani, ana, tomas):  # a member there; another org; the host's own
            assert_problem(await client.post(f"{url}/{action}", headers=who.headers), 403)
    assert_problem(await client.get(invitations), 401, "unauthorized")
    for who in (carla, dani, ana):
        assert_problem(await client.get(invitations, headers=who.headers), 403, "forbidden")
    # still pending, still nowhere
    assert (await client.get(f"/v1/events/{event['id']}")).json()["cohosts"] == []
    assert len((await client.get(invitations, headers=bea.headers)).json()["items"]) == 1


async def test_an_organizer_of_both_orgs_co_hosts_at_once(client, coalition):
    ana, bea, _, partner = coalition
    await join(client, partner, bea, ana, "organizer")
    event = await published_event(client, {"slug": "frontera"}, ana)
    response = await _add(client, event, ana, "red-cdmx")
    assert response.status_code == 201
    assert response.json()["status"] == "accepted"
    assert (await client.get(f"/v1/events/{event['id']}")).json()["cohosts"] == ["red-cdmx"]


async def test_the_host_withdraws_an_invitation_not_yet_answered(client, coalition):
    ana, bea, _, _ = coalition
    event = await published_event(client, {"slug": "frontera"}, ana)
    await _add(client, event, ana, "red-cdmx")
    url = f"/v1/events/{event['id']}/cohosts/red-cdmx"
    assert_problem(await client.delete(url, headers=bea.headers), 403)
    assert (await client.delete(url, headers=ana.headers)).status_code == 204
    assert_problem(await client.post(f"{url}/accept", headers=bea.headers), 404)
    assert (await client.get("/v1/orgs/red-cdmx/cohost-invitations", headers=bea.headers)).json()[
        "items"
    ] == []


async def test_co_host_organizers_edit_the_event_but_their_members_cannot(client, coalition):
    ana, bea, _, partner = coalition
    event = await published_event(client, {"slug": "frontera"}, ana)
    carla = await sign_up(client, "Carla")
    await join(client, partner, bea, carla, "member")
    before = await client.patch(
        f"/v1/events/{event['id']}", json={"capacity": 80}, headers=bea.headers
    )
    assert_problem(before, 403)
    await _cohost(client, event, ana, bea)
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
    assert_problem(await client.get(f"/v1/events/{event['id']}", headers=bea.headers), 404)
    await client.post(f"/v1/events/{event['id']}/cohosts/red-cdmx/accept", headers=bea.headers)
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
    assert_problem(await client.get(f"/v1/events/{event['id']}", headers=carla.headers), 404)
    await client.post(f"/v1/events/{event['id']}/cohosts/red-cdmx/accept", headers=bea.headers)
    assert (await client.get(f"/v1/events/{event['id']}", headers=carla.headers)).status_code == 200
    listed = (await client.get("/v1/events", headers=carla.headers)).json()["items"]
    assert [e["id"] for e in listed] == [event["id"]]


async def test_only_the_creating_orgs_organizers_manage_co_hosts(client, coalition):
    ana, bea, _, _ = coalition
    dani = await sign_up(client, "Dani")
    await create_org(client, dani, "la-rights")
    event = await published_event(client, {"slug": "frontera"}, ana)
    await _cohost(client, event, ana, bea)
    assert_problem(await _add(client, event, bea, "la-rights"), 403)
    removal = await client.delete(f"/v1/events/{event['id']}/cohosts/red-cdmx", headers=bea.headers)
    assert_problem(removal, 403)
    assert_problem(await client.delete(f"/v1/events/{event['id']}", headers=bea.headers), 403)


async def test_removing_a_co_host_takes_its_rights_away(client, coalition):
    ana, bea, _, _ = coalition
    event = await published_event(client, {"slug": "frontera"}, ana)
    await _cohost(client, event, ana, bea)
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
    ana, bea, _, _ = coalition
    event = await published_event(client, {"slug": "frontera"}, ana)
    assert_problem(await _add(client, event, ana, "nobody-here"), 422, pointer="#/org")
    assert_problem(await _add(client, event, ana, "frontera"), 409, detail_contains="created")
    await _add(client, event, ana, "red-cdmx")
    assert_problem(
        await _add(client, event, ana, "red-cdmx"), 409, detail_contains="already invited"
    )
    await client.post(f"/v1/events/{event['id']}/cohosts/red-cdmx/accept", headers=bea.headers)
    assert_problem(await _add(client, event, ana, "red-cdmx"), 409, detail_contains="already")
    assert_problem(await _add(client, event, ana, "Not A Slug"), 400, pointer="#/org")


async def test_organizers_list_co_hosts_with_their_access(client, coalition):
    ana, bea, _, _ = coalition
    dani = await sign_up(client, "Dani")
    await create_org(client, dani, "la-rights")
    event = await published_event(client, {"slug": "frontera"}, ana)
    await _cohost(client, event, ana, bea, can_see_attendees=True)
    await _add(client, event, ana, "la-rights")
    listed = await client.get(f"/v1/events/{event['id']}/cohosts", headers=bea.headers)
    # a co-host sees the co-hosts, not whom else the host has asked
    assert [(c["org"], c["can_see_attendees"]) for c in listed.json()["items"]] == [
        ("red-cdmx", True)
    ]
    assert_problem(await client.get(f"/v1/events/{event['id']}/cohosts"), 401)


async def test_attendee_access_stays_with_the_creating_org_unless_granted(client, coalition, conn):
    ana, bea, _, _ = coalition
    dani = await sign_up(client, "Dani")
    await create_org(client, dani, "la-rights")
    event = await published_event(client, {"slug": "frontera"}, ana)
    await _cohost(client, event, ana, bea)
    await _cohost(client, event, ana, dani, "la-rights", can_see_attendees=True)
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


async def test_a_pending_invitation_grants_no_attendee_access(client, coalition, conn):
    ana, bea, _, _ = coalition
    event = await published_event(client, {"slug": "frontera"}, ana)
    await _add(client, event, ana, "red-cdmx", can_see_attendees=True)
    assert_problem(await client.get(f"/v1/events/{event['id']}/rsvps", headers=bea.headers), 403)
    with pytest.raises(Forbidden):
        await require_event_organizer(conn, UUID(event["id"]), UUID(bea.id))


async def test_trip_invitations_follow_the_same_consent(client, coalition):
    ana, bea, host, partner = coalition
    carla = await sign_up(client, "Carla")
    await join(client, partner, bea, carla, "member")
    trip = await open_trip_for(client, host, ana)
    url = f"/v1/trips/{trip['id']}"
    invited = await invite(client, "trip", trip["id"], ana, "red-cdmx", can_see_attendees=True)
    assert invited.status_code == 201 and invited.json()["status"] == "pending"
    assert (await client.get(url)).json()["cohosts"] == []
    assert (await client.get("/v1/orgs/red-cdmx/trips")).json()["items"] == []
    assert_problem(await client.get(f"{url}/applications", headers=bea.headers), 403)
    for who in (carla, ana):
        assert_problem(
            await client.post(f"{url}/cohosts/red-cdmx/decline", headers=who.headers), 403
        )
    assert_problem(await client.post(f"{url}/cohosts/red-cdmx/decline"), 401)
    pending = (await client.get(f"{url}/cohosts", headers=ana.headers)).json()["items"]
    assert [(c["org"], c["status"]) for c in pending] == [("red-cdmx", "pending")]
    declined = await client.post(f"{url}/cohosts/red-cdmx/decline", headers=bea.headers)
    assert declined.status_code == 204
    assert (await client.get(f"{url}/cohosts", headers=ana.headers)).json()["items"] == []
    await cohost(client, "trip", trip["id"], ana, "red-cdmx", bea)
    assert (await client.get(url)).json()["cohosts"] == ["red-cdmx"]
