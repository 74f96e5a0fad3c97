"""Incremental partner sync: changes in order, tombstones, counts without names, nothing missed."""

from __future__ import annotations

import asyncio
import time
from uuid import UUID

import pytest

from db.pool import connect
from tests.events_helpers import create_event, published_event
from tests.people import create_org, sign_up
from tests.problems import assert_problem
from tests.test_partner_helpers import (
    as_key,
    assert_no_personal_data,
    issue_key,
    rsvp_with_personal_data,
    sync,
    sync_until_quiet,
)


def _shape(items):
    return [
        ("tombstone", i["id"], i["reason"])
        if i["deleted"]
        else ("event", i["id"], i["event"]["status"])
        for i in items
    ]


async def test_a_partner_sees_each_change_in_order_with_tombstones(client, conn):
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    key = await issue_key(client, org, owner, "events:read")
    first = await sync(client, key)
    assert first["items"] == [] and first["has_more"] is False
    start = first["next_cursor"]

    # created (a draft is invisible until it is published)
    a = await create_event(client, org, owner)
    assert (await sync(client, key, start))["items"] == []
    a = await published_event(client, org, owner)
    page = await sync(client, key, start)
    assert _shape(page["items"]) == [("event", a["id"], "published")]
    assert page["items"][0]["deleted"] is False
    cursor = page["next_cursor"]

    # updated
    patched = await client.patch(
        f"/v1/events/{a['id']}", json={"title": {"en": "Rally, moved"}}, headers=owner.headers
    )
    assert patched.status_code == 200
    page = await sync(client, key, cursor)
    assert _shape(page["items"]) == [("event", a["id"], "published")]
    assert page["items"][0]["event"]["title"] == {"en": "Rally, moved"}
    cursor = page["next_cursor"]

    # cancelled: still an event, with its status
    b = await published_event(client, org, owner)
    await client.post(
        f"/v1/events/{b['id']}/cancel", json={"reason": "Storm"}, headers=owner.headers
    )
    page = await sync(client, key, cursor)
    assert _shape(page["items"]) == [("event", b["id"], "cancelled")]
    cursor = page["next_cursor"]

    # made private: a tombstone
    await client.patch(
        f"/v1/events/{a['id']}", json={"visibility": "private"}, headers=owner.headers
    )
    page = await sync(client, key, cursor)
    assert page["items"] == [
        {
            "id": a["id"],
            "deleted": True,
            "reason": "not_public",
            "change_seq": page["items"][0]["change_seq"],
        }
    ]
    cursor = page["next_cursor"]

    # deleted (the API deletes drafts only, which no partner saw; a purge may delete others)
    c = await published_event(client, org, owner)
    draft = await create_event(client, org, owner)
    assert (
        await client.delete(f"/v1/events/{draft['id']}", headers=owner.headers)
    ).status_code == 204
    await conn.execute("DELETE FROM events WHERE id = $1", UUID(c["id"]))
    page = await sync(client, key, cursor)
    assert _shape(page["items"]) == [("tombstone", c["id"], "deleted")]
    cursor = page["next_cursor"]
    assert (await sync(client, key, cursor))["items"] == []

    # replaying from the start, one item a page, gives each event's latest state, in order
    replay, _ = await sync_until_quiet(client, key, start, limit=1)
    assert _shape(replay) == [
        ("event", b["id"], "cancelled"),
        ("tombstone", a["id"], "not_public"),
        ("tombstone", c["id"], "deleted"),
    ]
    positions = [i["change_seq"] for i in replay]
    assert positions == sorted(positions)


async def test_members_only_and_private_events_never_reach_partners(client):
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    key = await issue_key(client, org, owner, "events:read")
    await published_event(client, org, owner, visibility="members")
    await published_event(client, org, owner, visibility="private")
    visible = await published_event(client, org, owner)
    items, _ = await sync_until_quiet(client, key)
    assert [i["id"] for i in items] == [visible["id"]]


async def test_a_removed_cohost_gets_a_tombstone_and_the_host_does_not(client):
    owner = await sign_up(client, "Owner")
    host, cohost = await create_org(client, owner), await create_org(client, owner)
    host_key = await issue_key(client, host, owner, "events:read")
    cohost_key = await issue_key(client, cohost, owner, "events:read")
    event = await published_event(client, host, owner)
    added = await client.post(
        f"/v1/events/{event['id']}/cohosts", json={"org": cohost["slug"]}, headers=owner.headers
    )
    assert added.status_code == 201, added.text
    items, cursor = await sync_until_quiet(client, cohost_key)
    assert _shape(items) == [("event", event["id"], "published")]
    assert items[0]["event"]["cohosts"] == [cohost["slug"]]
    _, host_cursor = await sync_until_quiet(client, host_key)

    removed = await client.delete(
        f"/v1/events/{event['id']}/cohosts/{cohost['slug']}", headers=owner.headers
    )
    assert removed.status_code == 204
    items, _ = await sync_until_quiet(client, cohost_key, cursor)
    assert _shape(items) == [("tombstone", event["id"], "org_removed")]
    items, _ = await sync_until_quiet(client, host_key, host_cursor)
    assert _shape(items) == [("event", event["id"], "published")]


async def test_counts_by_status_need_the_counts_scope_and_carry_no_names(client):
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    event = await published_event(client, org, owner, capacity=10)
    await rsvp_with_personal_data(client, event)
    reader = await issue_key(client, org, owner, "events:read")
    counter = await issue_key(client, org, owner, "events:read", "events:counts")

    plain = await client.get("/v1/partner/events", headers=as_key(reader))
    assert plain.json()["items"][0]["event"]["counts"] is None
    counted = await client.get("/v1/partner/events", headers=as_key(counter))
    assert counted.json()["items"][0]["event"]["counts"] == {
        "going": 2,
        "waitlisted": 0,
        "spots_left": 8,
    }
    for response in (plain, counted):
        assert_no_personal_data(response.text)
    hidden = await client.patch(
        f"/v1/events/{event['id']}", json={"hide_counts": True}, headers=owner.headers
    )
    assert hidden.status_code == 200
    items, _ = await sync_until_quiet(client, counter)
    assert items[0]["event"]["counts"] is None


async def test_a_protected_location_stays_coarse_for_partners(client):
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    await published_event(client, org, owner, location_policy="attendees")
    key = await issue_key(client, org, owner, "events:read")
    items, _ = await sync_until_quiet(client, key)
    location = items[0]["event"]["location"]
    assert location["precision"] == "area"
    assert location["name"] is None and location["address"] is None
    assert "Revolución" not in str(items) and "Santa Cecilia" not in str(items)


async def test_sync_needs_a_key_and_a_valid_cursor(client):
    assert_problem(await client.get("/v1/partner/events"), 401, "unauthorized")
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    key = await issue_key(client, org, owner, "events:read")
    response = await client.get(
        "/v1/partner/events", params={"since": "not-a-cursor"}, headers=as_key(key)
    )
    assert_problem(response, 400, "invalid-request", pointer="#/query/cursor")
    response = await client.get("/v1/partner/events", headers=owner.headers)
    assert_problem(response, 401, "unauthorized")


# ------------------------------------------------------------------ concurrency


async def _sync_until(client, key, since, wanted, deadline_s=30.0):
    """Poll until every wanted event id arrived (the horizon waits for every writer that was
    running, on the whole server); returns what arrived and the next cursor."""
    seen: dict[str, dict] = {}
    stop = time.monotonic() + deadline_s
    while True:
        items, since = await sync_until_quiet(client, key, since)
        seen.update({i["id"]: i for i in items})
        if wanted <= set(seen) or time.monotonic() > stop:
            return seen, since
        await asyncio.sleep(0.1)


@pytest.mark.concurrency
async def test_a_partner_syncing_while_writes_commit_misses_nothing(live_client, live_database_url):
    client = live_client
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    key = await issue_key(client, org, owner, "events:read")
    slow = await published_event(client, org, owner)
    fast = await published_event(client, org, owner)
    seen, cursor = await _sync_until(client, key, None, {slow["id"], fast["id"]})
    assert {slow["id"], fast["id"]} <= set(seen)

    writer = await connect(live_database_url)
    try:
        # A writer takes its change_seq first and is slow to commit ...
        tx = writer.transaction()
        await tx.start()
        slow_seq = await writer.fetchval(
            """
            UPDATE events
               SET title = '{"en": "Slow edit"}', change_seq = nextval('change_seq'),
                   updated_at = now()
             WHERE id = $1
            RETURNING change_seq
            """,
            UUID(slow["id"]),
        )
        # ... while a later change commits at once, with a larger change_seq.
        patched = await client.patch(
            f"/v1/events/{fast['id']}", json={"title": {"en": "Fast edit"}}, headers=owner.headers
        )
        assert patched.status_code == 200
        fast_seq = patched.json()["change_seq"]
        assert slow_seq < fast_seq  # a cursor on change_seq alone would now skip the slow edit

        during = await sync(client, key, cursor)
        assert all(i["event"]["title"] != {"en": "Slow edit"} for i in during["items"])
        cursor_during = during["next_cursor"]
        await tx.commit()
    finally:
        await writer.close()

    seen_during = {i["id"]: i for i in during["items"]}
    wanted = {slow["id"], fast["id"]} - set(seen_during)
    after, _ = await _sync_until(client, key, cursor_during, wanted)
    titles = {
        **{k: v["event"]["title"] for k, v in seen_during.items()},
        **{k: v["event"]["title"] for k, v in after.items()},
    }
    assert titles[slow["id"]] == {"en": "Slow edit"}
    assert titles[fast["id"]] == {"en": "Fast edit"}
