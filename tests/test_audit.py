"""The audit log as owners read it: who viewed or exported which list, who changed roles, keys
and webhooks; owners only, newest first, filtered by action, cursor-paginated."""

from __future__ import annotations

import pytest

from tests.events_helpers import published_event
from tests.people import create_org, join, sign_up
from tests.problems import assert_problem
from tests.test_webhooks_helpers import loopback_client, loopback_settings, register_endpoint
from tests.trips_helpers import apply, open_trip_for


@pytest.fixture
async def http(settings, conn):
    """A client whose app may register webhooks (their URLs are only checked, never called)."""
    async with loopback_client(loopback_settings(settings), conn) as client:
        yield client


@pytest.fixture
async def org_world(http):
    owner = await sign_up(http, "Rosa")
    organizer = await sign_up(http, "Tomás")
    member = await sign_up(http, "Lupe")
    org = await create_org(http, owner, "audited")
    await join(http, org, owner, organizer, "organizer")
    await join(http, org, owner, member, "member")
    return {"org": org, "owner": owner, "organizer": organizer, "member": member}


def _log_url(world: dict, **query: str) -> str:
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return f"/v1/orgs/{world['org']['slug']}/audit-log" + (f"?{params}" if params else "")


async def test_only_owners_read_the_audit_log(http, org_world):
    url = _log_url(org_world)
    assert_problem(await http.get(url), 401, "unauthorized")
    for who in ("organizer", "member"):
        response = await http.get(url, headers=org_world[who].headers)
        assert_problem(response, 403, "forbidden", detail_contains="owner")
    stranger = await sign_up(http, "Stranger")
    await create_org(http, stranger, "other-org")
    assert_problem(await http.get(url, headers=stranger.headers), 403, "forbidden")
    missing = await http.get("/v1/orgs/no-such-org/audit-log", headers=stranger.headers)
    assert_problem(missing, 404, "not-found")
    ok = await http.get(url, headers=org_world["owner"].headers)
    assert ok.status_code == 200
    assert ok.headers["cache-control"] == "no-store"


async def test_list_views_exports_roles_keys_and_webhooks_appear(http, org_world):
    org, owner, organizer = org_world["org"], org_world["owner"], org_world["organizer"]
    event = await published_event(http, org, organizer)
    await http.post(f"/v1/events/{event['id']}/rsvps", json={"alias": "Guest"})
    assert (
        await http.get(f"/v1/events/{event['id']}/rsvps", headers=organizer.headers)
    ).status_code == 200
    assert (
        await http.get(f"/v1/events/{event['id']}/rsvps.csv", headers=organizer.headers)
    ).status_code == 200
    trip = await open_trip_for(http, org, organizer)
    await apply(http, trip, org_world["member"])
    assert (
        await http.get(f"/v1/trips/{trip['id']}/applications", headers=organizer.headers)
    ).status_code == 200
    assert (
        await http.get(f"/v1/orgs/{org['slug']}/members", headers=organizer.headers)
    ).status_code == 200
    role = await http.patch(
        f"/v1/orgs/{org['slug']}/members/{org_world['member'].id}",
        json={"role": "organizer"},
        headers=owner.headers,
    )
    assert role.status_code == 200
    key = await http.post(
        f"/v1/orgs/{org['slug']}/api-keys",
        json={"name": "Coalition site", "scopes": ["events:read"]},
        headers=owner.headers,
    )
    assert key.status_code == 201, key.text
    revoked = await http.delete(
        f"/v1/orgs/{org['slug']}/api-keys/{key.json()['api_key']['id']}", headers=owner.headers
    )
    assert revoked.status_code == 200, revoked.text
    hook = await register_endpoint(http, org, owner, "https://partner.example/hook")
    gone = await http.delete(
        f"/v1/orgs/{org['slug']}/webhooks/{hook['endpoint']['id']}", headers=owner.headers
    )
    assert gone.status_code == 204

    response = await http.get(_log_url(org_world, limit="200"), headers=owner.headers)
    assert response.status_code == 200
    items = response.json()["items"]
    actions = [i["action"] for i in items]
    for expected in (
        "rsvps.listed",
        "rsvps.exported",
        "trip_applications.listed",
        "members.listed",
        "member.added",
        "member.role_changed",
        "api_key.created",
        "api_key.revoked",
        "webhook.created",
        "webhook.deleted",
    ):
        assert expected in actions, (expected, actions)
    # newest first
    assert [i["id"] for i in items] == sorted((i["id"] for i in items), reverse=True)
    by_action = {i["action"]: i for i in items}
    exported = by_action["rsvps.exported"]
    assert exported["actor"] == {"account_id": organizer.id, "display_name": "Tomás"}
    assert exported["subject_type"] == "event" and exported["subject_id"] == event["id"]
    changed = by_action["member.role_changed"]
    assert changed["actor"]["account_id"] == owner.id
    assert changed["subject_id"] == org_world["member"].id
    assert changed["detail"] == {"from": "member", "to": "organizer"}
    # the log names people by display name only: no email anywhere
    for person in (owner, organizer, org_world["member"]):
        assert person.email not in response.text


async def test_the_log_filters_by_action(http, org_world):
    owner = org_world["owner"]
    response = await http.get(_log_url(org_world, action="member.added"), headers=owner.headers)
    assert response.status_code == 200
    items = response.json()["items"]
    assert len(items) == 2 and {i["action"] for i in items} == {"member.added"}
    none = await http.get(_log_url(org_world, action="webhook.created"), headers=owner.headers)
    assert none.json() == {"items": [], "next_cursor": None}
    bad = await http.get(_log_url(org_world, action="DROP TABLE"), headers=owner.headers)
    assert_problem(bad, 400, "invalid-request")


async def test_the_log_pages_with_a_cursor_and_a_link(http, org_world):
    owner, slug = org_world["owner"], org_world["org"]["slug"]
    for _ in range(3):
        await http.get(f"/v1/orgs/{slug}/members", headers=owner.headers)
    seen: list[int] = []
    url = _log_url(org_world, limit="2")
    while url:
        response = await http.get(url, headers=owner.headers)
        assert response.status_code == 200
        page = response.json()
        assert len(page["items"]) <= 2
        seen += [i["id"] for i in page["items"]]
        if page["next_cursor"]:
            assert 'rel="next"' in response.headers["link"]
            url = _log_url(org_world, limit="2", cursor=page["next_cursor"])
        else:
            assert "link" not in response.headers
            url = ""
    assert len(seen) == 5 == len(set(seen))
    assert seen == sorted(seen, reverse=True)
    too_many = await http.get(_log_url(org_world, limit="201"), headers=owner.headers)
    assert_problem(too_many, 400, "invalid-request")
    bad_cursor = await http.get(_log_url(org_world, cursor="nope"), headers=owner.headers)
    assert_problem(bad_cursor, 400, "invalid-request", pointer="#/query/cursor")


async def test_one_orgs_log_never_shows_anothers(http, org_world):
    other_owner = await sign_up(http, "Other")
    other = await create_org(http, other_owner, "elsewhere")
    await http.get(f"/v1/orgs/{other['slug']}/members", headers=other_owner.headers)
    mine = await http.get(_log_url(org_world), headers=org_world["owner"].headers)
    assert "members.listed" not in [i["action"] for i in mine.json()["items"]]
    theirs = await http.get(f"/v1/orgs/{other['slug']}/audit-log", headers=other_owner.headers)
    assert [i["action"] for i in theirs.json()["items"]] == ["members.listed"]
