"""HTTP details a client notices: validators on 304 and HEAD, one charset, honest timestamps,
links to where the server listens, and an old token that does not lock anyone out."""

from __future__ import annotations

from datetime import datetime

import pytest

from api.cli import serve_public_url
from api.config import load_settings
from tests.events_helpers import published_event
from tests.people import create_org, sign_up
from tests.problems import assert_problem
from tests.test_feed_imports import Feed, ics, register, run_now, vevent
from tests.test_feed_imports import day as in_days
from tests.test_webhooks_helpers import LoopbackServer, loopback_client, loopback_settings


async def _logged_out(client) -> dict[str, str]:
    """The headers of someone whose session ended (a browser that kept its old token)."""
    person = await sign_up(client, "Stale")
    assert (await client.delete("/v1/sessions/current", headers=person.headers)).status_code == 204
    return person.headers


# ------------------------------------------------------------------ ETag on 304 and HEAD


async def test_a_not_modified_list_and_feed_still_carry_their_etag(client):
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    await published_event(client, org, owner)
    for path in ("/v1/events", f"/v1/orgs/{org['slug']}/calendar.ics"):
        first = await client.get(path)
        assert first.status_code == 200, first.text
        etag = first.headers["etag"]
        again = await client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304, path
        assert again.headers.get("etag") == etag, (path, dict(again.headers))
        assert again.content == b""


async def test_head_answers_carry_the_etag_without_a_body(client):
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    await published_event(client, org, owner)
    for path in (f"/v1/orgs/{org['slug']}/calendar.ics", "/v1/events"):
        got = await client.get(path)
        head = await client.head(path)
        assert head.status_code == 200, (path, head.status_code)
        assert head.content == b""
        assert head.headers.get("etag") == got.headers["etag"], (path, dict(head.headers))
        not_modified = await client.head(path, headers={"If-None-Match": got.headers["etag"]})
        assert not_modified.status_code == 304
        assert not_modified.headers.get("etag") == got.headers["etag"]
    # every GET route answers HEAD, with the status GET would give
    org_head = await client.head(f"/v1/orgs/{org['slug']}")
    assert org_head.status_code == 200 and org_head.content == b""
    assert (await client.head("/v1/orgs/nobody-here")).status_code == 404
    assert (await client.head("/v1/sessions")).status_code == 405  # POST only


# ------------------------------------------------------------------ one charset


async def test_the_attendee_export_names_its_charset_once(client):
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    event = await published_event(client, org, owner)
    await client.post(f"/v1/events/{event['id']}/rsvps", json={"alias": "Lupe"})
    export = await client.get(f"/v1/events/{event['id']}/rsvps.csv", headers=owner.headers)
    assert export.status_code == 200, export.text
    assert export.headers["content-type"] == "text/csv; charset=utf-8"


# ------------------------------------------------------------------ import runs


async def test_an_import_run_finishes_after_it_starts(feed_client, conn, loop_settings):
    owner = await sign_up(feed_client, "Owner")
    org = await create_org(feed_client, owner)
    async with LoopbackServer(Feed(ics(vevent("a@partner", "Vigil", in_days(3))))) as server:
        feed = await register(feed_client, org, owner, server.url + "/events.ics")
        run = await run_now(feed_client, conn, loop_settings, org, owner, feed)
    assert run["status"] == "ok", run
    started, finished = (datetime.fromisoformat(run[k]) for k in ("started_at", "finished_at"))
    assert finished >= started, run


# ------------------------------------------------------------------ the public URL


def test_links_point_where_caravan_serve_listens_unless_told_otherwise():
    env = {"CARAVAN_MODE": "test"}
    serve_public_url(env, "127.0.0.1", 8123)
    assert load_settings(env).public_url == "http://127.0.0.1:8123"
    everywhere = {"CARAVAN_MODE": "test"}
    serve_public_url(everywhere, "0.0.0.0", 9000)
    assert load_settings(everywhere).public_url == "http://127.0.0.1:9000"
    told = {"CARAVAN_MODE": "test", "CARAVAN_PUBLIC_URL": "https://caravan.example.org"}
    serve_public_url(told, "127.0.0.1", 8123)
    assert load_settings(told).public_url == "https://caravan.example.org"


# ------------------------------------------------------------------ a stale token


async def test_a_stale_token_on_a_public_route_is_anonymous(client):
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    event = await published_event(client, org, owner)
    stale = await _logged_out(client)
    for path in (
        "/v1/events",
        f"/v1/events/{event['id']}",
        f"/v1/orgs/{org['slug']}",
        f"/v1/orgs/{org['slug']}/calendar.ics",
        "/healthz",
    ):
        anonymous = await client.get(path)
        answered = await client.get(path, headers=stale)
        assert answered.status_code == anonymous.status_code == 200, (path, answered.text)
    rsvp = await client.post(f"/v1/events/{event['id']}/rsvps", json={"alias": "A"}, headers=stale)
    assert rsvp.status_code == 201, rsvp.text
    assert rsvp.json()["manage_url"]  # an anonymous RSVP: changed through its manage link


async def test_a_stale_token_on_a_private_route_stays_a_401(client):
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    stale = await _logged_out(client)
    for path in ("/v1/me", "/v1/me/rsvps", f"/v1/orgs/{org['slug']}/members"):
        assert_problem(await client.get(path, headers=stale), 401, "unauthorized")
    assert_problem(
        await client.post(
            "/v1/orgs", json={"slug": "x", "name": "X", "timezone": "UTC"}, headers=stale
        ),
        401,
        "unauthorized",
        detail_contains="log in again",
    )


@pytest.fixture
def loop_settings(settings):
    return loopback_settings(settings)


@pytest.fixture
async def feed_client(loop_settings, conn):
    async with loopback_client(loop_settings, conn) as http:
        yield http
