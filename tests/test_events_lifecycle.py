"""Events from draft to published, postponed and cancelled; edits, sequence and bad input."""

from __future__ import annotations

from tests.events_helpers import create_event, event_body, published_event
from tests.people import create_org, join, sign_up
from tests.problems import assert_problem


async def test_organizer_creates_a_draft_that_only_organizers_see(client):
    ana = await sign_up(client, "Ana")
    org = await create_org(client, ana)
    event = await create_event(client, org, ana)
    assert event["status"] == "draft"
    assert event["org"] == org["slug"]
    assert event["languages"] == ["en", "es"]
    assert event["location"]["precision"] == "exact"

    assert (await client.get(f"/v1/events/{event['id']}", headers=ana.headers)).status_code == 200
    stranger = await sign_up(client, "Bea")
    assert_problem(await client.get(f"/v1/events/{event['id']}", headers=stranger.headers), 404)
    assert_problem(await client.get(f"/v1/events/{event['id']}"), 404)


async def test_published_event_is_visible_to_anyone(client):
    ana = await sign_up(client, "Ana")
    org = await create_org(client, ana)
    event = await published_event(client, org, ana)
    assert event["status"] == "published"
    assert event["published_at"] is not None

    response = await client.get(f"/v1/events/{event['id']}")
    assert response.status_code == 200
    assert response.json()["title"] == {"en": "Rally", "es": "Marcha"}


async def test_members_cannot_create_events(client):
    ana = await sign_up(client, "Ana")
    org = await create_org(client, ana)
    member = await sign_up(client, "Carla")
    await join(client, org, ana, member, "member")
    response = await client.post(
        f"/v1/orgs/{org['slug']}/events", json=event_body(), headers=member.headers
    )
    assert_problem(response, 403)


async def test_anonymous_callers_cannot_create_events(client):
    ana = await sign_up(client, "Ana")
    org = await create_org(client, ana)
    response = await client.post(f"/v1/orgs/{org['slug']}/events", json=event_body())
    assert_problem(response, 401)
