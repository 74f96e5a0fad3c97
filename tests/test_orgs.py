"""Organizations, the public directory, memberships and the role guards on every org route."""

from __future__ import annotations

import pytest

from tests.people import create_org, join, sign_up
from tests.problems import assert_problem


@pytest.fixture
async def cast(client):
    """An org with an owner, an organizer and a member, and an outsider who owns another org."""
    owner = await sign_up(client, "Owner")
    organizer = await sign_up(client, "Organizer")
    member = await sign_up(client, "Member")
    outsider = await sign_up(client, "Outsider")
    org = await create_org(client, owner, "frontera")
    await create_org(client, outsider, "elsewhere")
    await join(client, org, owner, organizer, "organizer")
    await join(client, org, owner, member, "member")
    return {
        "org": org,
        "owner": owner,
        "organizer": organizer,
        "member": member,
        "outsider": outsider,
    }


async def test_creator_becomes_owner_and_sees_it_in_my_orgs(client):
    ana = await sign_up(client, "Ana")
    org = await create_org(client, ana, "red-ana")
    mine = await client.get("/v1/me/orgs", headers=ana.headers)
    assert mine.status_code == 200
    assert mine.json()["items"] == [{"org": org, "role": "owner"}]


async def test_org_profile_is_public(client, cast):
    response = await client.get("/v1/orgs/frontera")
    assert response.status_code == 200
    assert response.json()["slug"] == "frontera"
    assert_problem(await client.get("/v1/orgs/nope"), 404, "not-found")


async def test_taken_slug_conflicts(client, cast):
    response = await client.post(
        "/v1/orgs",
        json={"slug": "frontera", "name": "Copy", "timezone": "America/Tijuana"},
        headers=cast["member"].headers,
    )
    assert_problem(response, 409, "conflict", detail_contains="taken")


async def test_unknown_timezone_is_a_rule_violation(client, cast):
    response = await client.post(
        "/v1/orgs",
        json={"slug": "tz-test", "name": "TZ", "timezone": "Mars/Olympus_Mons"},
        headers=cast["member"].headers,
    )
    assert_problem(response, 422, "rule-violation", pointer="#/timezone")


async def test_bad_slug_is_a_schema_error(client, cast):
    response = await client.post(
        "/v1/orgs",
        json={"slug": "Not A Slug", "name": "X", "timezone": "UTC"},
        headers=cast["member"].headers,
    )
    assert_problem(response, 400, "invalid-request", pointer="#/slug")


async def test_directory_searches_names_and_paginates(client):
    ana = await sign_up(client, "Ana")
    for slug, name in [
        ("a1", "Casa Migrante"),
        ("a2", "Casa del Norte"),
        ("a3", "Red Sur"),
        ("a4", "50% Casa_x"),
    ]:
        response = await client.post(
            "/v1/orgs", json={"slug": slug, "name": name, "timezone": "UTC"}, headers=ana.headers
        )
        assert response.status_code == 201
    found = await client.get("/v1/orgs", params={"q": "casa"})
    assert [o["name"] for o in found.json()["items"]] == [
        "50% Casa_x",
        "Casa del Norte",
        "Casa Migrante",
    ]
    # LIKE wildcards in the query are taken literally
    literal = await client.get("/v1/orgs", params={"q": "%"})
    assert [o["name"] for o in literal.json()["items"]] == ["50% Casa_x"]
    first = await client.get("/v1/orgs", params={"limit": 2})
    body = first.json()
    assert len(body["items"]) == 2 and body["next_cursor"]
    assert 'rel="next"' in first.headers["link"]
    second = await client.get("/v1/orgs", params={"limit": 2, "cursor": body["next_cursor"]})
    names = [o["name"] for o in body["items"] + second.json()["items"]]
    assert names == sorted(names, key=str.lower)
    assert len(set(names)) == 4


async def test_bad_cursor_and_limit_are_schema_errors(client):
    assert_problem(
        await client.get("/v1/orgs", params={"cursor": "!!!"}), 400, pointer="#/query/cursor"
    )
    assert_problem(await client.get("/v1/orgs", params={"limit": 0}), 400, pointer="#/query/limit")
    assert_problem(
        await client.get("/v1/orgs", params={"limit": 201}), 400, pointer="#/query/limit"
    )


# -- role guards: every org route, for anonymous, outsider, member, organizer, owner


async def test_update_org_guards(client, cast):
    url = "/v1/orgs/frontera"
    patch = {"description": "Updated"}
    assert_problem(await client.patch(url, json=patch), 401)
    assert_problem(await client.patch(url, json=patch, headers=cast["outsider"].headers), 403)
    assert_problem(await client.patch(url, json=patch, headers=cast["member"].headers), 403)
    ok = await client.patch(url, json=patch, headers=cast["organizer"].headers)
    assert ok.status_code == 200 and ok.json()["description"] == "Updated"
    ok = await client.patch(url, json={"website": None}, headers=cast["owner"].headers)
    assert ok.status_code == 200


async def test_member_list_guards_and_shows_no_emails(client, cast):
    url = "/v1/orgs/frontera/members"
    assert_problem(await client.get(url), 401)
    assert_problem(await client.get(url, headers=cast["outsider"].headers), 403)
    assert_problem(await client.get(url, headers=cast["member"].headers), 403)
    listed = await client.get(url, headers=cast["organizer"].headers)
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert {m["role"] for m in items} == {"owner", "organizer", "member"}
    assert all(set(m) == {"account_id", "display_name", "role", "joined_at"} for m in items)
    assert cast["member"].email not in listed.text


async def test_add_member_guards(client, cast):
    newcomer = await sign_up(client, "Newcomer")
    url = "/v1/orgs/frontera/members"
    body = {"email": newcomer.email, "role": "member"}
    assert_problem(await client.post(url, json=body), 401)
    assert_problem(await client.post(url, json=body, headers=cast["outsider"].headers), 403)
    assert_problem(await client.post(url, json=body, headers=cast["member"].headers), 403)
    # organizers add members but cannot make owners
    owner_body = {"email": newcomer.email, "role": "owner"}
    assert_problem(await client.post(url, json=owner_body, headers=cast["organizer"].headers), 403)
    added = await client.post(url, json=body, headers=cast["organizer"].headers)
    assert added.status_code == 201 and added.json()["role"] == "member"
    again = await client.post(url, json=body, headers=cast["owner"].headers)
    assert_problem(again, 409, "conflict")
    nobody = {"email": "nobody@example.org", "role": "member"}
    assert_problem(await client.post(url, json=nobody, headers=cast["owner"].headers), 422)


async def test_change_role_guards(client, cast):
    url = f"/v1/orgs/frontera/members/{cast['member'].id}"
    body = {"role": "organizer"}
    assert_problem(await client.patch(url, json=body), 401)
    assert_problem(await client.patch(url, json=body, headers=cast["outsider"].headers), 403)
    assert_problem(await client.patch(url, json=body, headers=cast["member"].headers), 403)
    promoted = await client.patch(url, json=body, headers=cast["organizer"].headers)
    assert promoted.status_code == 200 and promoted.json()["role"] == "organizer"
    to_owner = await client.patch(url, json={"role": "owner"}, headers=cast["organizer"].headers)
    assert_problem(to_owner, 403)
    to_owner = await client.patch(url, json={"role": "owner"}, headers=cast["owner"].headers)
    assert to_owner.status_code == 200


async def test_remove_member_guards(client, cast):
    url = f"/v1/orgs/frontera/members/{cast['member'].id}"
    assert_problem(await client.delete(url), 401)
    assert_problem(await client.delete(url, headers=cast["outsider"].headers), 403)
    other = await sign_up(client, "Other")
    await join(client, cast["org"], cast["owner"], other, "member")
    assert_problem(await client.delete(url, headers=other.headers), 403)
    removed = await client.delete(url, headers=cast["organizer"].headers)
    assert removed.status_code == 204
    assert_problem(await client.delete(url, headers=cast["organizer"].headers), 404)
    # an organizer cannot remove the owner
    owner_url = f"/v1/orgs/frontera/members/{cast['owner'].id}"
    assert_problem(await client.delete(owner_url, headers=cast["organizer"].headers), 403)


async def test_any_member_can_leave(client, cast):
    url = f"/v1/orgs/frontera/members/{cast['member'].id}"
    assert (await client.delete(url, headers=cast["member"].headers)).status_code == 204
    mine = await client.get("/v1/me/orgs", headers=cast["member"].headers)
    assert mine.json()["items"] == []


async def test_last_owner_cannot_leave_or_be_demoted(client, cast):
    owner = cast["owner"]
    url = f"/v1/orgs/frontera/members/{owner.id}"
    assert_problem(
        await client.delete(url, headers=owner.headers), 409, detail_contains="last owner"
    )
    demote = await client.patch(url, json={"role": "member"}, headers=owner.headers)
    assert_problem(demote, 409, detail_contains="last owner")
    # with a second owner, the first may step down
    await client.patch(
        f"/v1/orgs/frontera/members/{cast['organizer'].id}",
        json={"role": "owner"},
        headers=owner.headers,
    )
    assert (
        await client.patch(url, json={"role": "member"}, headers=owner.headers)
    ).status_code == 200


async def test_membership_changes_are_audited(client, conn, cast):
    rows = await conn.fetch(
        "SELECT action FROM audit_log WHERE org_id = $1::uuid ORDER BY id", cast["org"]["id"]
    )
    assert [r["action"] for r in rows] == ["member.added", "member.added"]
