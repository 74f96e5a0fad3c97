"""Feeds polled again and again come from the feed cache, and every change still shows."""

from __future__ import annotations

import asyncio
import time
from uuid import UUID

import asyncpg
import pytest

from api import response_caches
from api.response_caches import FeedCache
from api.services import feed_rendering
from tests.events_helpers import published_event
from tests.people import create_org, sign_up
from tests.test_feeds_helpers import event_uid, feed, props, rsvp, subscribe

SNEAKY = """UPDATE events SET title = '{"en": "Sneaky"}' WHERE id = $1::uuid"""
# what another process's edit does: the row's change counter moves with it
ELSEWHERE = """UPDATE events SET title = '{"en": "Edited elsewhere"}',
                                 change_seq = nextval('change_seq') WHERE id = $1::uuid"""


async def test_an_org_feed_is_cached_until_one_of_its_events_changes(client, conn, monkeypatch):
    monkeypatch.setattr(response_caches, "FRESH_S", 0.0)  # check the fingerprint on every request
    organizer = await sign_up(client, "Organizer")
    org = await create_org(client, organizer)
    event = await published_event(client, org, organizer, title={"en": "Vigil"})
    path = f"/v1/orgs/{org['slug']}/calendar.ics"
    first = await feed(client, path)
    assert props(first, event_uid(event))["SUMMARY"] == "Vigil"

    # A write that moves no counter is invisible to the fingerprint: proof the cache is used.
    await conn.execute(SNEAKY, event["id"])
    assert await feed(client, path) == first

    # Another process's change moves the counter: the next request renders it.
    await conn.execute(ELSEWHERE, event["id"])
    assert props(await feed(client, path), event_uid(event))["SUMMARY"] == "Edited elsewhere"

    # So does a change made through the API, and so does an event deleted or added.
    patched = await client.patch(
        f"/v1/events/{event['id']}",
        json={"title": {"en": "Vigil moved"}},
        headers=organizer.headers,
    )
    assert patched.status_code == 200, patched.text
    assert props(await feed(client, path), event_uid(event))["SUMMARY"] == "Vigil moved"
    second = await published_event(client, org, organizer, title={"en": "March"})
    assert props(await feed(client, path), event_uid(second))["SUMMARY"] == "March"
    await conn.execute("DELETE FROM events WHERE id = $1::uuid", second["id"])
    assert event_uid(second) not in (await feed(client, path)).decode()


async def test_a_fresh_entry_is_served_without_asking_the_database(client, conn):
    organizer = await sign_up(client, "Organizer")
    org = await create_org(client, organizer)
    event = await published_event(client, org, organizer, title={"en": "Vigil"})
    path = f"/v1/orgs/{org['slug']}/calendar.ics"
    first = await feed(client, path)
    # Another process's change is picked up after FRESH_S (a second), not at once...
    await conn.execute(ELSEWHERE, event["id"])
    assert await feed(client, path) == first
    # ...but this process's own writes show at once.
    patched = await client.patch(
        f"/v1/events/{event['id']}",
        json={"title": {"en": "Vigil moved"}},
        headers=organizer.headers,
    )
    assert patched.status_code == 200, patched.text
    assert props(await feed(client, path), event_uid(event))["SUMMARY"] == "Vigil moved"


async def test_each_filter_and_language_is_cached_apart(client):
    organizer = await sign_up(client, "Organizer")
    org = await create_org(client, organizer)
    await published_event(
        client, org, organizer, kind="vigil", title={"en": "Vigil", "es": "Vigilia"}
    )
    await published_event(
        client, org, organizer, kind="march", title={"en": "March", "es": "Marcha"}
    )
    path = f"/v1/orgs/{org['slug']}/calendar.ics"
    everything = (await feed(client, path)).decode()
    vigils = (await feed(client, path + "?kind=vigil")).decode()
    spanish = (await feed(client, path, **{"Accept-Language": "es"})).decode()
    assert "SUMMARY:Vigil\r\n" in everything and "SUMMARY:March\r\n" in everything
    assert "SUMMARY:Vigil\r\n" in vigils and "March" not in vigils
    assert "SUMMARY:Vigilia\r\n" in spanish and "SUMMARY:Marcha\r\n" in spanish


async def test_a_personal_feed_shows_my_own_changes_at_once(client):
    organizer = await sign_up(client, "Organizer")
    org = await create_org(client, organizer)
    event = await published_event(client, org, organizer, title={"en": "Vigil"})
    ana = await sign_up(client, "Ana")
    going = await rsvp(client, event, ana, "Ana")
    path = await subscribe(client, ana)
    assert props(await feed(client, path), event_uid(event))["STATUS"] == "CONFIRMED"
    cancelled = await client.delete(f"/v1/rsvps/manage/{going['manage_token']}")
    assert cancelled.status_code == 200, cancelled.text
    assert event_uid(event) not in (await feed(client, path)).decode()


async def test_a_personal_feed_sees_changes_made_elsewhere_once_fresh_time_is_over(
    client, conn: asyncpg.Connection, monkeypatch
):
    monkeypatch.setattr(response_caches, "FRESH_S", 0.0)
    organizer = await sign_up(client, "Organizer")
    org = await create_org(client, organizer)
    event = await published_event(client, org, organizer, title={"en": "Vigil"})
    ana = await sign_up(client, "Ana")
    going = await rsvp(client, event, ana, "Ana")
    path = await subscribe(client, ana)
    first = await feed(client, path)
    await conn.execute(SNEAKY, event["id"])
    assert await feed(client, path) == first  # served from the cache
    await conn.execute(ELSEWHERE, event["id"])
    assert "Edited elsewhere" in (await feed(client, path)).decode()
    # an RSVP moved by another process (the worker, say) moves the fingerprint too
    await conn.execute("UPDATE rsvps SET status = 'waitlisted' WHERE id = $1::uuid", going["id"])
    assert props(await feed(client, path), event_uid(event))["STATUS"] == "TENTATIVE"


async def test_a_revoked_token_stops_working_at_once_even_while_its_feed_is_cached(client):
    ana = await sign_up(client, "Ana")
    path = await subscribe(client, ana)
    assert (await client.get(path)).status_code == 200
    assert (await client.get(path)).status_code == 200  # now cached
    tokens = await client.get("/v1/me/feed-tokens", headers=ana.headers)
    token_id = tokens.json()["items"][0]["id"]
    revoked = await client.delete(f"/v1/me/feed-tokens/{token_id}", headers=ana.headers)
    assert revoked.status_code == 204
    gone = await client.get(path)
    assert gone.status_code == 404
    assert gone.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("kind", ["org", "personal"])
async def test_cached_feeds_answer_304_and_carry_the_same_headers(client, kind):
    organizer = await sign_up(client, "Organizer")
    org = await create_org(client, organizer)
    event = await published_event(client, org, organizer)
    if kind == "org":
        path = f"/v1/orgs/{org['slug']}/calendar.ics"
    else:
        await rsvp(client, event, organizer, "Org")
        path = await subscribe(client, organizer)
    rendered = await client.get(path)
    cached = await client.get(path)
    assert cached.content == rendered.content
    for name in ("etag", "last-modified", "cache-control", "vary", "content-type"):
        assert cached.headers[name] == rendered.headers[name], name
    if kind == "personal":
        assert cached.headers["x-robots-tag"] == "noindex"
    not_modified = await client.get(path, headers={"If-None-Match": rendered.headers["etag"]})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified.headers["etag"] == rendered.headers["etag"]
    stale = await client.get(path, headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200
    assert stale.content == rendered.content


async def test_feeds_past_the_byte_budget_keep_their_validators(client, app):
    app.state.feed_cache = FeedCache(max_body_bytes=1)
    organizer = await sign_up(client, "Organizer")
    org = await create_org(client, organizer)
    await published_event(client, org, organizer, title={"en": "Vigil"})
    path = f"/v1/orgs/{org['slug']}/calendar.ics"
    try:
        first = await client.get(path)
        # the body was dropped; the validator still answers a revalidation...
        again = await client.get(path, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304
        # ...and a plain request renders the feed again
        full = await client.get(path)
        assert full.status_code == 200
        assert full.content == first.content
    finally:
        app.state.feed_cache = FeedCache()


def test_the_cache_holds_bodies_within_its_byte_budget():
    from api.response_caches import Check
    from api.services.feed_rendering import EPOCH, Feed

    now = time.monotonic()
    cache = FeedCache(max_body_bytes=250)
    for n in range(5):
        body = bytes([65 + n]) * 100
        cache.put(Check(("feed", n), "v1", now, 0), Feed(body, f'"{n}"', EPOCH, False))
    kept = [cache.confirm(Check(("feed", n), "v1", now, 0)) for n in range(5)]
    assert all(entry is not None for entry in kept)
    bodies = [entry.feed.body for entry in kept if entry is not None and entry.has_body]
    # the two most recent bodies fit in 250 bytes; older entries kept only their ETags
    assert bodies == [b"D" * 100, b"E" * 100]
    assert [entry.feed.etag for entry in kept if entry is not None] == [f'"{n}"' for n in range(5)]


async def test_the_org_fingerprint_counts_co_hosted_events(client, conn):
    from db.queries import feeds as q

    organizer = await sign_up(client, "Organizer")
    org = await create_org(client, organizer)
    other = await create_org(client, organizer)
    event = await published_event(client, other, organizer)
    before = await q.select_org_feed_fingerprint(conn, org["slug"])
    await conn.execute(
        "INSERT INTO event_cohosts (event_id, org_id) VALUES ($1, $2)",
        UUID(event["id"]),
        UUID(org["id"]),
    )
    assert await q.select_org_feed_fingerprint(conn, org["slug"]) != before
    assert await q.select_org_feed_fingerprint(conn, "no-such-org") is None


async def test_misses_that_arrive_together_render_the_feed_once(client, monkeypatch):
    organizer = await sign_up(client, "Organizer")
    org = await create_org(client, organizer)
    await published_event(client, org, organizer, title={"en": "Vigil"})
    renders = []
    real_render = feed_rendering.render_feed

    async def counting_render(*args, **kwargs):
        renders.append(args[0])
        return await real_render(*args, **kwargs)

    monkeypatch.setattr(feed_rendering, "render_feed", counting_render)
    path = f"/v1/orgs/{org['slug']}/calendar.ics"
    answers = await asyncio.gather(*(client.get(path) for _ in range(6)))
    assert [a.status_code for a in answers] == [200] * 6
    assert len({a.content for a in answers}) == 1
    assert len(renders) == 1


async def test_a_failed_render_does_not_hold_back_the_next_request(client, app):
    bad = await client.get("/v1/events", params={"limit": 0})
    assert bad.status_code == 400
    # the failed request led the render of its key; it let go when it failed
    renders = app.state.response_cache.renders
    assert not any(key[1] == "limit=0" for key in renders._leads)


def test_while_one_request_checks_a_feed_the_others_are_served_the_entry():
    from api.response_caches import Check
    from api.services.feed_rendering import EPOCH, Feed

    cache = FeedCache()
    a_while_ago = time.monotonic() - 10 * response_caches.FRESH_S
    cache.put(Check("feed", "v1", a_while_ago, 0), Feed(b"body", '"e"', EPOCH, False))
    assert cache.fresh("feed") is None  # due for a check
    cache.checking("feed")
    assert cache.fresh("feed") is not None  # served while the check runs
    # the check confirms the fingerprint: fresh again, no longer being checked
    assert cache.confirm(Check("feed", "v1", time.monotonic(), 0)) is not None
    assert cache.fresh("feed") is not None
    # a write in this process: nothing is fresh without a new check, checking or not
    cache.wrote()
    cache.checking("feed")
    assert cache.fresh("feed") is None


def _cached_bodies(app) -> list[bytes]:
    return [entry.feed.body for entry in app.state.feed_cache.entries()]


async def test_revoking_a_feed_token_drops_its_feed_from_memory_at_once(client, app):
    organizer = await sign_up(client, "Organizer")
    org = await create_org(client, organizer)
    event = await published_event(client, org, organizer, title={"en": "Vigil"})
    await rsvp(client, event, organizer, "Ana")
    path = await subscribe(client, organizer)
    body = await feed(client, path)
    assert body in _cached_bodies(app)
    token_id = (await client.get("/v1/me/feed-tokens", headers=organizer.headers)).json()["items"][
        0
    ]["id"]

    revoked = await client.delete(f"/v1/me/feed-tokens/{token_id}", headers=organizer.headers)
    assert revoked.status_code == 204
    assert body not in _cached_bodies(app)
    assert (await client.get(path)).status_code == 404
    assert body not in _cached_bodies(app)


async def test_rotating_a_feed_token_drops_the_old_feed_from_memory_at_once(client, app):
    organizer = await sign_up(client, "Organizer")
    org = await create_org(client, organizer)
    event = await published_event(client, org, organizer, title={"en": "Vigil"})
    await rsvp(client, event, organizer, "Ana")
    path = await subscribe(client, organizer)
    body = await feed(client, path)
    assert body in _cached_bodies(app)
    token_id = (await client.get("/v1/me/feed-tokens", headers=organizer.headers)).json()["items"][
        0
    ]["id"]

    rotated = await client.post(f"/v1/me/feed-tokens/{token_id}/rotate", headers=organizer.headers)
    assert rotated.status_code == 200
    assert body not in _cached_bodies(app)


def test_a_render_checked_before_its_owner_was_forgotten_is_not_kept():
    from api.response_caches import Check
    from api.services.feed_rendering import EPOCH, Feed

    cache = FeedCache()
    before = time.monotonic()
    cache.forget("account")
    cache.put(Check("feed", "v1", before, 0, "account"), Feed(b"old", '"e"', EPOCH, True))
    assert len(cache) == 0
    cache.put(Check("feed", "v1", time.monotonic(), 0, "account"), Feed(b"new", '"f"', EPOCH, True))
    assert len(cache) == 1
