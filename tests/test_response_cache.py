"""Anonymous public lists come from the encoded-response cache, and every change shows at once."""

from __future__ import annotations

from api.response_caches import ResponseCache
from tests.events_helpers import published_event
from tests.people import create_org, sign_up


async def test_anonymous_list_is_served_from_cache_until_an_event_changes(client, conn):
    organizer = await sign_up(client, "Organizer")
    org = await create_org(client, organizer)
    event = await published_event(client, org, organizer, title={"en": "Vigil"})
    first = await client.get("/v1/events")
    assert [e["title"]["en"] for e in first.json()["items"]] == ["Vigil"]

    # A write that bypasses the change counter is invisible to the cache: proof it is used.
    await conn.execute(
        """UPDATE events SET title = '{"en": "Sneaky"}' WHERE id = $1::uuid""", event["id"]
    )
    cached = await client.get("/v1/events")
    assert cached.content == first.content
    assert cached.headers["etag"] == first.headers["etag"]
    # signed-in callers are never served from the cache
    signed_in = await client.get("/v1/events", headers=organizer.headers)
    assert [e["title"]["en"] for e in signed_in.json()["items"]] == ["Sneaky"]

    # A real change moves the counter: the next anonymous list shows it at once.
    patched = await client.patch(
        f"/v1/events/{event['id']}",
        json={"title": {"en": "Vigil moved"}},
        headers=organizer.headers,
    )
    assert patched.status_code == 200
    fresh = await client.get("/v1/events")
    assert [e["title"]["en"] for e in fresh.json()["items"]] == ["Vigil moved"]


async def test_cached_list_still_answers_304_and_keeps_its_link_header(client):
    organizer = await sign_up(client, "Organizer")
    org = await create_org(client, organizer)
    for _ in range(3):
        await published_event(client, org, organizer)
    first = await client.get("/v1/events", params={"limit": 2})
    again = await client.get("/v1/events", params={"limit": 2})
    assert again.headers["link"] == first.headers["link"]
    not_modified = await client.get(
        "/v1/events", params={"limit": 2}, headers={"If-None-Match": first.headers["etag"]}
    )
    assert not_modified.status_code == 304
    assert not_modified.content == b""


async def test_cached_answers_carry_the_same_headers_as_fresh_ones(client):
    organizer = await sign_up(client, "Organizer")
    org = await create_org(client, organizer)
    await published_event(client, org, organizer)
    fresh = await client.get("/v1/events")
    cached = await client.get("/v1/events")
    for name in ("etag", "vary", "cache-control", "x-content-type-options", "content-type"):
        assert cached.headers[name] == fresh.headers[name], name


async def test_lists_past_the_byte_budget_keep_their_validators(client, app):
    app.state.response_cache = ResponseCache(max_body_bytes=1)
    organizer = await sign_up(client, "Organizer")
    org = await create_org(client, organizer)
    await published_event(client, org, organizer, title={"en": "Vigil"})
    try:
        first = await client.get("/v1/events")
        # the body was dropped; the validator still answers a revalidation...
        again = await client.get("/v1/events", headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304
        assert again.headers["etag"] == first.headers["etag"]
        # ...and a plain request renders the list again
        full = await client.get("/v1/events")
        assert full.status_code == 200
        assert full.content == first.content
    finally:
        app.state.response_cache = ResponseCache()
