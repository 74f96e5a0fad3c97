"""Feeds over HTTP: GET and HEAD, validators and 304s, caching headers, tokens, subscribe links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import quote
from uuid import UUID

import asyncpg
import httpx
from hypothesis import given
from hypothesis import strategies as st

from api.app import create_app
from api.config import Settings
from api.services import feed_rendering, feed_tokens
from schemas.feeds import feed_links_for
from tests.conftest import SharedConnection
from tests.events_helpers import published_event
from tests.people import create_org, sign_up
from tests.problems import assert_problem
from tests.test_feeds_helpers import backdate, feed, subscribe, uids
from tests.trips_helpers import open_trip_for

BASE = "http://127.0.0.1:8000"  # CARAVAN_PUBLIC_URL of the test settings


async def _org_with_event(client: httpx.AsyncClient, **overrides):
    organizer = await sign_up(client, "Rosa")
    org = await create_org(client, organizer)
    event = await published_event(client, org, organizer, **overrides)
    return organizer, org, event


async def test_get_and_head_answer_the_same_headers_as_text_calendar(client):
    _, org, _ = await _org_with_event(client)
    path = f"/v1/orgs/{org['slug']}/calendar.ics"
    got = await client.get(path)
    head = await client.head(path)
    assert got.status_code == head.status_code == 200
    assert got.headers["content-type"] == "text/calendar; charset=utf-8"
    assert head.content == b""
    for name in ("content-type", "etag", "last-modified", "cache-control", "content-length"):
        assert head.headers[name] == got.headers[name], name
    assert int(got.headers["content-length"]) == len(got.content)
    assert got.content.startswith(b"BEGIN:VCALENDAR\r\n")


async def test_public_feeds_are_publicly_cacheable_for_15_minutes(client):
    _, org, event = await _org_with_event(client)
    for path in (f"/v1/orgs/{org['slug']}/calendar.ics", f"/v1/events/{event['id']}/calendar.ics"):
        response = await client.get(path)
        assert response.headers["cache-control"] == "public, max-age=900"
        assert "x-robots-tag" not in response.headers
        assert "Accept-Language" in response.headers["vary"]


async def test_token_feeds_are_private_unindexed_and_never_referred(client):
    ana = await sign_up(client, "Ana")
    for path in (await subscribe(client, ana),):
        response = await client.get(path)
        assert response.headers["cache-control"] == "private, max-age=900"
        assert response.headers["x-robots-tag"] == "noindex"
        assert response.headers["referrer-policy"] == "no-referrer"


async def test_a_matching_etag_gets_304_with_the_validators_and_no_body(client):
    _, org, _ = await _org_with_event(client)
    path = f"/v1/orgs/{org['slug']}/calendar.ics"
    first = await client.get(path)
    etag = first.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = await client.get(path, headers={"If-None-Match": header})
        assert again.status_code == 304, header
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["cache-control"] == "public, max-age=900"
        assert again.headers["last-modified"] == first.headers["last-modified"]
    stale = await client.get(path, headers={"If-None-Match": '"stale"'})
    assert stale.status_code == 200 and stale.content == first.content
    head = await client.head(path, headers={"If-None-Match": etag})
    assert head.status_code == 304


async def test_if_modified_since_gets_304_unless_the_feed_changed_since(client, conn):
    organizer, org, event = await _org_with_event(client)
    await backdate(conn, "orgs", org["id"], hours=2)
    await backdate(conn, "events", event["id"], hours=2)
    path = f"/v1/orgs/{org['slug']}/calendar.ics"
    first = await client.get(path)
    last_modified = parsedate_to_datetime(first.headers["last-modified"])
    assert last_modified <= datetime.now(UTC)
    same = await client.get(path, headers={"If-Modified-Since": first.headers["last-modified"]})
    assert same.status_code == 304 and same.content == b""
    earlier = format_datetime(last_modified - timedelta(seconds=1), usegmt=True)
    assert (await client.get(path, headers={"If-Modified-Since": earlier})).status_code == 200
    garbage = await client.get(path, headers={"If-Modified-Since": "yesterday-ish"})
    assert garbage.status_code == 200
    # If-None-Match wins over If-Modified-Since
    both = await client.get(
        path,
        headers={"If-None-Match": '"stale"', "If-Modified-Since": first.headers["last-modified"]},
    )
    assert both.status_code == 200
    # a change moves Last-Modified past the client's copy
    patched = await client.patch(
        f"/v1/events/{event['id']}",
        json={"title": {"en": "Moved rally"}},
        headers=organizer.headers,
    )
    assert patched.status_code == 200, patched.text
    after = await client.get(path, headers={"If-Modified-Since": first.headers["last-modified"]})
    assert after.status_code == 200 and b"Moved rally" in after.content
    assert parsedate_to_datetime(after.headers["last-modified"]) > last_modified


async def test_an_event_leaving_the_feed_moves_last_modified(client, conn):
    """Made private, the event vanishes from the org feed: a client revalidating by date
    must not be told nothing changed."""
    organizer, org, event = await _org_with_event(client)
    await backdate(conn, "orgs", org["id"], hours=2)
    await backdate(conn, "events", event["id"], hours=2)
    path = f"/v1/orgs/{org['slug']}/calendar.ics"
    first = await client.get(path)
    hidden = await client.patch(
        f"/v1/events/{event['id']}", json={"visibility": "private"}, headers=organizer.headers
    )
    assert hidden.status_code == 200, hidden.text
    after = await client.get(path, headers={"If-Modified-Since": first.headers["last-modified"]})
    assert after.status_code == 200
    assert f"event-{event['id']}@caravan" not in uids(after.content)


async def test_the_etag_is_a_hash_of_bytes_that_another_app_renders_identically(
    client, conn, settings: Settings
):
    _, org, _ = await _org_with_event(client)
    path = f"/v1/orgs/{org['slug']}/calendar.ics"
    first = await client.get(path)
    feed_rendering.VEVENTS.clear()  # an empty cache, as in a freshly started process
    other_app = create_app(settings, pool=SharedConnection(conn))
    transport = httpx.ASGITransport(app=other_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://other") as other:
        second = await other.get(path)
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]
    assert second.headers["last-modified"] == first.headers["last-modified"]


async def test_unknown_orgs_events_trips_and_tokens_are_problem_404s(client):
    missing = "00000000-0000-4000-8000-000000000000"
    for path in (
        "/v1/orgs/no-such-org/calendar.ics",
        f"/v1/events/{missing}/calendar.ics",
        f"/v1/trips/{missing}/calendar.ics",
        "/v1/events/shared/not-a-share-token/calendar.ics",
        "/v1/rsvps/manage/cvn_rsvp_unknown/calendar.ics",
        "/v1/rsvps/manage/not-even-a-token/calendar.ics",
        "/v1/feeds/cvn_feed_unknown/calendar.ics",
        "/v1/feeds/something-else/calendar.ics",
        "/v1/feeds/" + "cvn_feed_" + "x" * 200 + "/calendar.ics",
    ):
        assert_problem(await client.get(path), 404, "not-found")


async def test_drafts_members_only_and_private_events_have_no_public_feed(client):
    organizer, org, _ = await _org_with_event(client)
    draft = (
        await client.post(
            f"/v1/orgs/{org['slug']}/events",
            json={
                "kind": "vigil",
                "title": {"en": "Draft"},
                "starts_at": "2030-01-01T10:00:00Z",
                "ends_at": "2030-01-01T11:00:00Z",
                "timezone": "UTC",
            },
            headers=organizer.headers,
        )
    ).json()
    members = await published_event(client, org, organizer, visibility="members")
    private = await published_event(client, org, organizer, visibility="private")
    for event in (draft, members, private):
        assert_problem(await client.get(f"/v1/events/{event['id']}/calendar.ics"), 404)
    # an organizer who sees them in the JSON gets their feed too, marked private
    mine = await client.get(f"/v1/events/{members['id']}/calendar.ics", headers=organizer.headers)
    assert mine.status_code == 200
    assert mine.headers["cache-control"].startswith("private")
    # the private event's feed is behind its share link
    shared = await client.get(private["share_url"].removeprefix(BASE) + "/calendar.ics")
    assert shared.status_code == 200
    assert shared.headers["cache-control"] == "private, max-age=900"
    assert shared.headers["x-robots-tag"] == "noindex"
    assert f"event-{private['id']}@caravan" in uids(shared.content)
    org_feed = await feed(client, f"/v1/orgs/{org['slug']}/calendar.ics")
    assert uids(org_feed).isdisjoint(
        {f"event-{e['id']}@caravan" for e in (draft, members, private)}
    )


# ---------------------------------------------------------------- personal feed tokens


async def test_feed_tokens_are_shown_once_listed_without_secrets_and_stored_hashed(client, conn):
    ana = await sign_up(client, "Ana")
    created = await client.post("/v1/me/feed-tokens", json={"label": "Phone"}, headers=ana.headers)
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    body = created.json()
    token = body["token"]
    assert token.startswith("cvn_feed_") and len(token) == len("cvn_feed_") + 43  # 256 bits
    url = f"{BASE}/v1/feeds/{token}/calendar.ics"
    webcal = "webcal://127.0.0.1:8000" + url.removeprefix(BASE)
    assert body["feeds"] == {
        "url": url,
        "webcal": webcal,
        "google": "https://calendar.google.com/calendar/render?cid=" + quote(webcal, safe=""),
    }
    listed = await client.get("/v1/me/feed-tokens", headers=ana.headers)
    assert listed.json() == {
        "items": [{"id": body["id"], "label": "Phone", "created_at": body["created_at"]}]
    }
    assert token not in listed.text
    stored = await conn.fetchrow("SELECT * FROM feed_tokens WHERE id = $1", UUID(body["id"]))
    assert token.encode() not in bytes(stored["token_hash"])
    assert len(stored["token_hash"]) == 32
    unlabeled = await client.post("/v1/me/feed-tokens", headers=ana.headers)
    assert unlabeled.status_code == 201 and unlabeled.json()["label"] is None


async def test_a_revoked_token_stops_working_at_once(client):
    ana = await sign_up(client, "Ana")
    created = (await client.post("/v1/me/feed-tokens", headers=ana.headers)).json()
    path = f"/v1/feeds/{created['token']}/calendar.ics"
    assert (await client.get(path)).status_code == 200
    revoked = await client.delete(f"/v1/me/feed-tokens/{created['id']}", headers=ana.headers)
    assert revoked.status_code == 204
    assert_problem(await client.get(path), 404, "not-found")
    assert (await client.head(path)).status_code == 404
    assert (await client.get("/v1/me/feed-tokens", headers=ana.headers)).json() == {"items": []}
    again = await client.delete(f"/v1/me/feed-tokens/{created['id']}", headers=ana.headers)
    assert_problem(again, 404, "not-found")


async def test_rotating_replaces_the_token_and_keeps_the_label(client):
    ana = await sign_up(client, "Ana")
    old = (
        await client.post("/v1/me/feed-tokens", json={"label": "Laptop"}, headers=ana.headers)
    ).json()
    rotated = await client.post(f"/v1/me/feed-tokens/{old['id']}/rotate", headers=ana.headers)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()
    assert new["label"] == "Laptop" and new["id"] != old["id"] and new["token"] != old["token"]
    assert_problem(await client.get(f"/v1/feeds/{old['token']}/calendar.ics"), 404)
    assert (await client.get(f"/v1/feeds/{new['token']}/calendar.ics")).status_code == 200
    assert_problem(
        await client.post(f"/v1/me/feed-tokens/{old['id']}/rotate", headers=ana.headers), 404
    )


async def test_tokens_are_per_account_and_need_a_login(client):
    ana = await sign_up(client, "Ana")
    ben = await sign_up(client, "Ben")
    created = (await client.post("/v1/me/feed-tokens", headers=ana.headers)).json()
    assert_problem(await client.post("/v1/me/feed-tokens"), 401, "unauthorized")
    assert_problem(await client.get("/v1/me/feed-tokens"), 401, "unauthorized")
    assert_problem(
        await client.delete(f"/v1/me/feed-tokens/{created['id']}", headers=ben.headers), 404
    )
    assert_problem(
        await client.post(f"/v1/me/feed-tokens/{created['id']}/rotate", headers=ben.headers), 404
    )
    assert (await client.get("/v1/me/feed-tokens", headers=ben.headers)).json() == {"items": []}
    bad = await client.post("/v1/me/feed-tokens", json={"label": ""}, headers=ana.headers)
    assert_problem(bad, 400)
    extra = await client.post("/v1/me/feed-tokens", json={"secret": "x"}, headers=ana.headers)
    assert_problem(extra, 400)


async def test_an_account_holds_at_most_twenty_tokens(client):
    ana = await sign_up(client, "Ana")
    for _ in range(feed_tokens.MAX_TOKENS_PER_ACCOUNT):
        assert (await client.post("/v1/me/feed-tokens", headers=ana.headers)).status_code == 201
    assert_problem(await client.post("/v1/me/feed-tokens", headers=ana.headers), 409, "conflict")


# ---------------------------------------------------------------- subscribe links in the JSON


def _links(path: str) -> dict[str, str]:
    url = BASE + path
    webcal = "webcal://127.0.0.1:8000" + path
    return {
        "url": url,
        "webcal": webcal,
        "google": "https://calendar.google.com/calendar/render?cid=" + quote(webcal, safe=""),
    }


async def test_events_orgs_and_trips_link_their_feeds(client):
    organizer, org, event = await _org_with_event(client)
    got = (await client.get(f"/v1/events/{event['id']}")).json()
    assert got["feeds"] == _links(f"/v1/events/{event['id']}/calendar.ics")
    listed = (await client.get(f"/v1/orgs/{org['slug']}/events")).json()["items"]
    assert listed[0]["feeds"] == got["feeds"]
    assert (await client.get(f"/v1/orgs/{org['slug']}")).json()["feeds"] == _links(
        f"/v1/orgs/{org['slug']}/calendar.ics"
    )
    trip = await open_trip_for(client, org, organizer)
    assert trip["feeds"] == _links(f"/v1/trips/{trip['id']}/calendar.ics")
    assert (await client.get(f"/v1/trips/{trip['id']}")).json()["feeds"] == trip["feeds"]
    members = await published_event(client, org, organizer, visibility="members")
    assert members["feeds"] is None
    private = await published_event(client, org, organizer, visibility="private")
    shared_path = private["share_url"].removeprefix(BASE)
    # the organizer gets the share link once, and its feed with it
    created = await client.post(f"/v1/events/{private['id']}/share-link", headers=organizer.headers)
    rotated = created.json()
    assert rotated["feeds"] == _links(rotated["share_url"].removeprefix(BASE) + "/calendar.ics")
    assert (await client.get(f"/v1/events/{private['id']}", headers=organizer.headers)).json()[
        "feeds"
    ] is None
    # whoever holds the share link sees the feed beside it
    shared = (await client.get(rotated["share_url"].removeprefix(BASE))).json()
    assert shared["feeds"] == rotated["feeds"]
    assert_problem(await client.get(shared_path + "/calendar.ics"), 404)  # rotated away


async def test_the_feed_serves_what_its_link_promises(client):
    _, org, event = await _org_with_event(client)
    for link in (
        (await client.get(f"/v1/events/{event['id']}")).json()["feeds"]["url"],
        (await client.get(f"/v1/orgs/{org['slug']}")).json()["feeds"]["url"],
    ):
        body = await feed(client, link.removeprefix(BASE))
        assert f"event-{event['id']}@caravan" in uids(body)


async def test_feed_bytes_are_the_same_for_every_request_of_unchanged_data(
    client, conn: asyncpg.Connection
):
    _, org, _ = await _org_with_event(client)
    path = f"/v1/orgs/{org['slug']}/calendar.ics"
    first, second = await client.get(path), await client.get(path)
    assert first.content == second.content and first.headers["etag"] == second.headers["etag"]
    spanish = await client.get(path + "?lang=es")
    assert spanish.content != first.content and b"SUMMARY:Marcha" in spanish.content
    assert spanish.headers["etag"] != first.headers["etag"]


@given(
    base=st.sampled_from(
        ["webcal://caravan.example", "webcal://127.0.0.1:8000/caravan", "webcal://ex.org/a b"]
    ),
    path=st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40),
)
def test_subscribe_links_quote_every_feed_url_as_urllib_does(base, path):
    for url in (f"{base}/v1/{path}", f"{base}/{path}", f"{base}/v1/events/{path}/calendar.ics"):
        google = feed_links_for(url).google
        assert google == "https://calendar.google.com/calendar/render?cid=" + quote(url, safe="")
