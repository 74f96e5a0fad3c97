"""Partner API keys: issued by owners, shown once, stored hashed, scoped, revocable, rate limited."""

from __future__ import annotations

from typing import Any

import pytest

from api.app import create_app
from tests.conftest import SharedConnection, settings_for
from tests.events_helpers import event_body, published_event
from tests.people import create_org, join, sign_up
from tests.problems import assert_problem
from tests.test_partner_helpers import as_key, issue_key

ALL_SCOPES = ("events:read", "events:counts", "webhooks:manage", "imports:manage")


async def test_an_owner_issues_a_key_shown_once_and_stored_only_as_a_hash(client, conn):
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    response = await client.post(
        f"/v1/orgs/{org['slug']}/api-keys",
        json={"name": "Coalition website", "scopes": ["events:read", "webhooks:manage"]},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    key = body["key"]
    assert key.startswith("cvn_key_") and len(key) >= len("cvn_key_") + 43
    assert body["api_key"]["scopes"] == ["events:read", "webhooks:manage"]
    assert body["api_key"]["hint"] == key[:12] + "…"
    assert response.headers["cache-control"] == "private, no-store"

    listed = await client.get(f"/v1/orgs/{org['slug']}/api-keys", headers=owner.headers)
    assert listed.status_code == 200
    assert key not in listed.text
    assert [k["id"] for k in listed.json()["items"]] == [body["api_key"]["id"]]

    # the database holds a hash, never the key (raw rows, every column)
    rows = await conn.fetch("SELECT * FROM api_keys")
    dump = repr([dict(r) for r in rows])
    assert key not in dump and key[8:] not in dump
    audit = await conn.fetch("SELECT action FROM audit_log WHERE org_id = $1", rows[0]["org_id"])
    assert [a["action"] for a in audit] == ["api_key.created"]


async def test_only_owners_manage_keys(client):
    owner = await sign_up(client, "Owner")
    organizer = await sign_up(client, "Organizer")
    org = await create_org(client, owner)
    await join(client, org, owner, organizer, "organizer")
    body = {"name": "x", "scopes": ["events:read"]}
    response = await client.post(
        f"/v1/orgs/{org['slug']}/api-keys", json=body, headers=organizer.headers
    )
    assert_problem(response, 403, "forbidden")
    assert_problem(await client.post(f"/v1/orgs/{org['slug']}/api-keys", json=body), 401)
    key = await issue_key(client, org, owner, *ALL_SCOPES)
    # a key never manages keys
    response = await client.get(f"/v1/orgs/{org['slug']}/api-keys", headers=as_key(key))
    assert_problem(response, 401, "unauthorized")


async def test_key_scopes_are_checked(client):
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    bad = await client.post(
        f"/v1/orgs/{org['slug']}/api-keys",
        json={"name": "x", "scopes": ["events:admin"]},
        headers=owner.headers,
    )
    assert_problem(bad, 400, "invalid-request")
    counts_alone = await client.post(
        f"/v1/orgs/{org['slug']}/api-keys",
        json={"name": "x", "scopes": ["events:counts"]},
        headers=owner.headers,
    )
    assert_problem(counts_alone, 422, "rule-violation", pointer="#/scopes")


async def _operations(client, org: dict[str, Any], key: str) -> dict[str, int | bool]:
    """Call every partner operation with the key; what each answered."""
    headers = as_key(key)
    slug = org["slug"]
    sync = await client.get("/v1/partner/events", headers=headers)
    counts = None
    if sync.status_code == 200:
        counts = any(i["event"]["counts"] for i in sync.json()["items"])
    return {
        "sync": sync.status_code,
        "counts": bool(counts),
        "osdi": (await client.get("/v1/osdi/events", headers=headers)).status_code,
        "webhooks": (await client.get(f"/v1/orgs/{slug}/webhooks", headers=headers)).status_code,
        "imports": (await client.get(f"/v1/orgs/{slug}/feed-imports", headers=headers)).status_code,
        "keys": (await client.get(f"/v1/orgs/{slug}/api-keys", headers=headers)).status_code,
        "create_event": (
            await client.post(f"/v1/orgs/{slug}/events", json=event_body(), headers=headers)
        ).status_code,
    }


@pytest.mark.parametrize(
    ("scopes", "expected"),
    [
        (
            ("events:read",),
            {"sync": 200, "counts": False, "osdi": 200, "webhooks": 403, "imports": 403},
        ),
        (
            ("events:read", "events:counts"),
            {"sync": 200, "counts": True, "osdi": 200, "webhooks": 403, "imports": 403},
        ),
        (
            ("webhooks:manage",),
            {"sync": 403, "counts": False, "osdi": 403, "webhooks": 200, "imports": 403},
        ),
        (
            ("imports:manage",),
            {"sync": 403, "counts": False, "osdi": 403, "webhooks": 403, "imports": 200},
        ),
    ],
)
async def test_each_scope_allows_exactly_its_operations(client, scopes, expected):
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    await published_event(client, org, owner)
    key = await issue_key(client, org, owner, *scopes)
    answered = await _operations(client, org, key)
    # no scope manages keys or writes events: those need a signed-in person
    assert answered == {**expected, "keys": 401, "create_event": 401}


async def test_a_key_of_another_org_is_refused(client):
    owner = await sign_up(client, "Owner")
    org, other = await create_org(client, owner), await create_org(client, owner)
    key = await issue_key(client, other, owner, *ALL_SCOPES)
    for path in ("webhooks", "feed-imports"):
        response = await client.get(f"/v1/orgs/{org['slug']}/{path}", headers=as_key(key))
        assert_problem(response, 403, "forbidden")


async def test_a_revoked_key_is_refused_at_once(client, conn):
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    key = await issue_key(client, org, owner, "events:read")
    assert (await client.get("/v1/partner/events", headers=as_key(key))).status_code == 200
    key_id = (await conn.fetchrow("SELECT id, last_used_on FROM api_keys"))["id"]
    revoked = await client.delete(
        f"/v1/orgs/{org['slug']}/api-keys/{key_id}", headers=owner.headers
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    response = await client.get("/v1/partner/events", headers=as_key(key))
    assert_problem(response, 401, "unauthorized", detail_contains="revoked")
    assert_problem(await client.get("/v1/partner/events", headers=as_key("cvn_key_nope")), 401)
    actions = await conn.fetch("SELECT action FROM audit_log ORDER BY id")
    assert [a["action"] for a in actions][-2:] == ["api_key.created", "api_key.revoked"]
    missing = await client.delete(
        f"/v1/orgs/{org['slug']}/api-keys/{owner.id}", headers=owner.headers
    )
    assert_problem(missing, 404, "not-found")


async def test_last_used_on_is_a_date(client, conn):
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    key = await issue_key(client, org, owner, "events:read")
    await client.get("/v1/partner/events", headers=as_key(key))
    listed = await client.get(f"/v1/orgs/{org['slug']}/api-keys", headers=owner.headers)
    used = listed.json()["items"][0]["last_used_on"]
    assert used is not None and len(used) == 10  # YYYY-MM-DD, no time


async def test_a_key_over_its_rate_limit_gets_429_with_ratelimit_headers(settings, conn):
    import httpx

    limited = settings_for(settings.database_url, CARAVAN_PARTNER_RATE_LIMIT="3")
    app = create_app(limited, pool=SharedConnection(conn))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        owner = await sign_up(client, "Owner")
        org = await create_org(client, owner)
        key = await issue_key(client, org, owner, "events:read")
        answers = [await client.get("/v1/partner/events", headers=as_key(key)) for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert [a.headers["ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0", "0"]
    assert answers[0].headers["ratelimit-limit"] == "3"
    refused = assert_problem(answers[3], 429, "rate-limited")
    assert refused["detail"]
    assert 1 <= int(answers[3].headers["retry-after"]) <= 60
    assert 1 <= int(answers[3].headers["ratelimit-reset"]) <= 60


async def test_no_key_or_webhook_secret_is_stored_in_plaintext_anywhere(client, conn):
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    key = await issue_key(client, org, owner, *ALL_SCOPES)
    endpoint = await client.post(
        f"/v1/orgs/{org['slug']}/webhooks",
        json={"url": "https://partner.example/hook", "event_types": ["event.updated"]},
        headers=as_key(key),
    )
    secret = endpoint.json()["secret"]
    needles = [key, key.removeprefix("cvn_key_"), secret, secret.removeprefix("whsec_")]
    needles += [n.encode().hex() for n in needles]  # bytea columns print as hex
    tables = await conn.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    )
    for table in tables:
        rows = await conn.fetch(f'SELECT t::text AS row FROM "{table["tablename"]}" t')
        dump = "\n".join(r["row"] for r in rows)
        for needle in needles:
            assert needle not in dump, (table["tablename"], needle[:12])
