"""Import loops: one calendar imported twice is mirrored once; an org's own feed is not imported."""

from __future__ import annotations

from typing import Any

import pytest

from api.services import feed_imports
from api.services.feed_imports import ImportLimits
from api.services.own_feeds import caravan_feed
from tests.conftest import SharedConnection, settings_for
from tests.events_helpers import published_event
from tests.people import create_org, sign_up
from tests.problems import assert_problem
from tests.test_feed_imports import (
    Feed,
    day,
    ics,
    imported_events,
    register,
    vevent,
)
from tests.test_feeds_helpers import subscribe
from tests.test_webhooks_helpers import LoopbackServer, Received, Reply, loopback_client


@pytest.fixture
def loop_settings(settings):
    assert settings.database_url
    return settings_for(settings.database_url, CARAVAN_OUTBOUND_ALLOW_LOOPBACK="1")


@pytest.fixture
async def feed_client(loop_settings, conn):
    async with loopback_client(loop_settings, conn) as http:
        yield http


async def run_now(client, conn, settings, org, by, feed) -> dict[str, Any]:
    """Ask for a run of this import (the org's others are not due) and let the worker do its
    round; this import's run as the API shows it."""
    await conn.execute(
        "UPDATE feed_imports SET next_fetch_at = now() + interval '1 day' WHERE id <> $1",
        feed["id"],
    )
    path = f"/v1/orgs/{org['slug']}/feed-imports/{feed['id']}"
    assert (await client.post(path + "/run", headers=by.headers)).status_code == 202
    await feed_imports.run_due_imports(SharedConnection(conn), settings, limits=ImportLimits())
    return await last_run(client, org, by, feed)


async def last_run(client, org, by, feed) -> dict[str, Any]:
    path = f"/v1/orgs/{org['slug']}/feed-imports/{feed['id']}/runs"
    return (await client.get(path, headers=by.headers)).json()["items"][0]  # type: ignore[no-any-return]


def titles(events: list[dict[str, Any]]) -> list[str]:
    return sorted(e["display"]["title"] for e in events)


async def test_one_calendar_under_other_spellings_and_a_redirect_is_mirrored_once(
    feed_client, conn, loop_settings
):
    owner = await sign_up(feed_client, "Owner")
    org = await create_org(feed_client, owner)
    feed = Feed(
        ics(vevent("vigil@partner", "Vigil", day(5)), vevent("march@partner", "March", day(9)))
    )

    def answer(request: Received) -> Reply:
        if request.path == "/old.ics":
            return Reply(301, {"location": "/events.ics"})
        return feed(request)

    async with LoopbackServer(answer) as server:
        imports = [
            await register(feed_client, org, owner, url)
            for url in (
                f"{server.url}/events.ics",
                f"{server.url}/old.ics",  # redirects to the first
                f"{server.url}/events.ics/?lang=en&tz=UTC",
                f"{server.url}/events.ics?tz=UTC&lang=en",
            )
        ]
        runs = [await run_now(feed_client, conn, loop_settings, org, owner, f) for f in imports]
        assert [(r["status"], r["added"], r["shared"]) for r in runs] == [
            ("ok", 2, 0),
            ("ok", 0, 2),
            ("ok", 0, 2),
            ("ok", 0, 2),
        ]
        assert "already mirrored by another import" in runs[1]["notice"]
        assert titles(await imported_events(feed_client, org)) == ["March", "Vigil"]

        feed.body, feed.etag = (
            ics(vevent("vigil@partner", "Vigil (moved)", day(6))),
            '"v2"',
        )
        run = await run_now(feed_client, conn, loop_settings, org, owner, imports[0])
        assert (run["added"], run["updated"], run["removed"]) == (0, 1, 0)
        # the march left the calendar: the import writing it hands it to the next one carrying
        # it, which fetches in the same round, and so on; the last one removes it
        runs = [await last_run(feed_client, org, owner, f) for f in imports[1:]]
        assert sorted((r["added"], r["updated"], r["removed"]) for r in runs) == [
            (0, 0, 0),
            (0, 0, 0),
            (0, 0, 1),
        ]
        assert titles(await imported_events(feed_client, org)) == ["Vigil (moved)"]


async def test_deleting_one_import_keeps_what_another_still_carries(
    feed_client, conn, loop_settings
):
    owner = await sign_up(feed_client, "Owner")
    org = await create_org(feed_client, owner)
    first = Feed(ics(vevent("rally@coalition", "Rally", day(4)), vevent("a@one", "Only A", day(5))))
    second = Feed(ics(vevent("rally@coalition", "Rally (as B says)", day(4))))
    async with LoopbackServer(first) as one, LoopbackServer(second) as two:
        a = await register(feed_client, org, owner, one.url + "/a.ics")
        b = await register(feed_client, org, owner, two.url + "/b.ics")
        assert (await run_now(feed_client, conn, loop_settings, org, owner, a))["added"] == 2
        run = await run_now(feed_client, conn, loop_settings, org, owner, b)
        assert (run["added"], run["updated"], run["shared"]) == (0, 0, 1)
        # the first import to bring an event keeps it: the two feeds do not take turns
        assert titles(await imported_events(feed_client, org)) == ["Only A", "Rally"]
        before = {e["display"]["title"]: e["id"] for e in await imported_events(feed_client, org)}

        path = f"/v1/orgs/{org['slug']}/feed-imports/{a['id']}"
        assert (await feed_client.delete(path, headers=owner.headers)).status_code == 204
        left = await imported_events(feed_client, org)
        assert [(e["display"]["title"], e["id"]) for e in left] == [("Rally", before["Rally"])]

        # the import still carrying it now writes it: it fetches afresh at the worker's next round
        assert (
            await feed_imports.run_due_imports(
                SharedConnection(conn), loop_settings, limits=ImportLimits()
            )
            == 1
        )
        run = await last_run(feed_client, org, owner, b)
        assert (run["added"], run["updated"], run["removed"]) == (0, 1, 0)
        left = await imported_events(feed_client, org)
        assert [(e["display"]["title"], e["id"]) for e in left] == [
            ("Rally (as B says)", before["Rally"])
        ]

        path = f"/v1/orgs/{org['slug']}/feed-imports/{b['id']}"
        assert (await feed_client.delete(path, headers=owner.headers)).status_code == 204
    assert await imported_events(feed_client, org) == []


async def test_an_entry_that_leaves_its_owners_feed_stays_while_another_feed_carries_it(
    feed_client, conn, loop_settings
):
    owner = await sign_up(feed_client, "Owner")
    org = await create_org(feed_client, owner)
    first = Feed(ics(vevent("rally@coalition", "Rally", day(4))))
    second = Feed(ics(vevent("rally@coalition", "Rally", day(4))))
    async with LoopbackServer(first) as one, LoopbackServer(second) as two:
        a = await register(feed_client, org, owner, one.url + "/a.ics")
        b = await register(feed_client, org, owner, two.url + "/b.ics")
        await run_now(feed_client, conn, loop_settings, org, owner, a)
        await run_now(feed_client, conn, loop_settings, org, owner, b)
        first.body, first.etag = ics(), '"empty"'
        run = await run_now(feed_client, conn, loop_settings, org, owner, a)
        assert run["removed"] == 0
        assert titles(await imported_events(feed_client, org)) == ["Rally"]
        second.body, second.etag = ics(), '"empty"'
        run = await run_now(feed_client, conn, loop_settings, org, owner, b)
        assert run["removed"] == 1
    assert await imported_events(feed_client, org) == []


async def test_a_paused_import_hands_its_events_to_one_that_runs(feed_client, conn, loop_settings):
    owner = await sign_up(feed_client, "Owner")
    org = await create_org(feed_client, owner)
    first = Feed(ics(vevent("rally@coalition", "Rally", day(4))))
    second = Feed(ics(vevent("rally@coalition", "Rally at noon", day(4, 12))))
    async with LoopbackServer(first) as one, LoopbackServer(second) as two:
        a = await register(feed_client, org, owner, one.url + "/a.ics")
        b = await register(feed_client, org, owner, two.url + "/b.ics")
        await run_now(feed_client, conn, loop_settings, org, owner, a)
        assert (await run_now(feed_client, conn, loop_settings, org, owner, b))["shared"] == 1
        path = f"/v1/orgs/{org['slug']}/feed-imports/{a['id']}"
        paused = await feed_client.patch(path, json={"active": False}, headers=owner.headers)
        assert paused.status_code == 200, paused.text
        run = await run_now(feed_client, conn, loop_settings, org, owner, b)
        assert (run["updated"], run["shared"]) == (1, 0)
    assert titles(await imported_events(feed_client, org)) == ["Rally at noon"]


async def test_a_calendar_uid_keeps_two_calendars_with_the_same_event_uids_apart(
    feed_client, conn, loop_settings
):
    owner = await sign_up(feed_client, "Owner")
    org = await create_org(feed_client, owner)

    def calendar(uid: str, title: str) -> bytes:
        return ics(vevent("1", title, day(3))).replace(
            b"PRODID:", f"UID:{uid}\r\nPRODID:".encode(), 1
        )

    async with (
        LoopbackServer(Feed(calendar("cal-north", "North meeting"))) as north,
        LoopbackServer(Feed(calendar("cal-south", "South meeting"))) as south,
    ):
        for server in (north, south):
            created = await register(feed_client, org, owner, server.url + "/c.ics")
            run = await run_now(feed_client, conn, loop_settings, org, owner, created)
            assert (run["added"], run["shared"]) == (1, 0)
    assert titles(await imported_events(feed_client, org)) == ["North meeting", "South meeting"]


# ---------------------------------------------------------------- an org's own feeds


@pytest.fixture
def public_settings(settings):
    assert settings.database_url
    return settings_for(
        settings.database_url,
        CARAVAN_OUTBOUND_ALLOW_LOOPBACK="1",
        CARAVAN_PUBLIC_URL="https://caravan.example",
    )


@pytest.fixture
async def public_client(public_settings, conn):
    async with loopback_client(public_settings, conn) as http:
        yield http


async def test_an_org_cannot_register_its_own_caravan_feed_however_spelled(public_client):
    owner = await sign_up(public_client, "Owner")
    org = await create_org(public_client, owner)
    other = await create_org(public_client, await sign_up(public_client, "Partner"))
    event = await published_event(public_client, org, owner)
    personal = await subscribe(public_client, owner)
    slug = org["slug"]
    own = [
        f"https://caravan.example/v1/orgs/{slug}/calendar.ics",
        f"webcal://caravan.example/v1/orgs/{slug}/calendar.ics",
        f"https://CARAVAN.Example:443/v1/orgs/{slug}/calendar.ics/",
        f"https://caravan.example./v1/orgs/{slug.upper()}/calendar.ics",
        f"https://caravan.example/v1/orgs/{slug}/calendar.ics?tag=vigil&kind=rally",
        f"https://caravan.example//v1/./orgs/{slug}/calendar%2Eics#today",
        f"https://caravan.example/v1/events/{event['id']}/calendar.ics",
    ]
    path = f"/v1/orgs/{slug}/feed-imports"
    for url in own:
        response = await public_client.post(path, json={"url": url}, headers=owner.headers)
        assert_problem(
            response,
            422,
            "rule-violation",
            pointer="#/url",
            detail_contains="this organization's own",
        )
    for url in (f"https://caravan.example{personal}", f"webcal://caravan.example{personal}"):
        response = await public_client.post(path, json={"url": url}, headers=owner.headers)
        body = assert_problem(
            response, 422, "rule-violation", pointer="#/url", detail_contains="secret"
        )
        assert personal.split("/")[3] not in response.text  # the token is not echoed back
        assert body["errors"][0]["detail"]

    # another org's public feed on this Caravan stays importable, and cannot be changed into ours
    theirs = f"https://caravan.example/v1/orgs/{other['slug']}/calendar.ics"
    created = await public_client.post(path, json={"url": theirs}, headers=owner.headers)
    assert created.status_code == 201, created.text
    changed = await public_client.patch(
        f"{path}/{created.json()['id']}", json={"url": own[1]}, headers=owner.headers
    )
    assert_problem(changed, 422, "rule-violation", pointer="#/url")


async def test_a_feed_that_redirects_to_the_orgs_own_feed_is_not_followed(
    feed_client, conn, loop_settings
):
    owner = await sign_up(feed_client, "Owner")
    org = await create_org(feed_client, owner)
    own = f"{loop_settings.public_url}/v1/orgs/{org['slug']}/calendar.ics"
    async with LoopbackServer(lambda _: Reply(302, {"location": own})) as server:
        created = await register(feed_client, org, owner, server.url + "/partner.ics")
        run = await run_now(feed_client, conn, loop_settings, org, owner, created)
    assert run["status"] == "error"
    assert "redirected to a Caravan feed" in run["error"] and "own Caravan feed" in run["error"]
    assert [r.path for r in server.received] == ["/partner.ics"]


async def org_feed(client, org) -> bytes:
    response = await client.get(f"/v1/orgs/{org['slug']}/calendar.ics")
    assert response.status_code == 200, response.text
    return response.content


async def test_the_orgs_own_feed_served_from_elsewhere_is_skipped_not_duplicated(
    feed_client, conn, loop_settings
):
    owner = await sign_up(feed_client, "Owner")
    org = await create_org(feed_client, owner)
    await published_event(feed_client, org, owner, title={"en": "Rally"})
    await published_event(feed_client, org, owner, title={"en": "Vigil"})
    async with LoopbackServer(Feed(await org_feed(feed_client, org))) as server:
        created = await register(feed_client, org, owner, server.url + "/mirror.ics")
        run = await run_now(feed_client, conn, loop_settings, org, owner, created)
    assert (run["status"], run["added"], run["skipped"]) == ("ok", 0, 2)
    assert "own events" in run["notice"] and "skipped" in run["notice"]
    assert await imported_events(feed_client, org) == []
    listed = await feed_client.get(f"/v1/orgs/{org['slug']}/events")
    assert sorted(e["display"]["title"] for e in listed.json()["items"]) == ["Rally", "Vigil"]


async def test_a_partner_feed_that_mirrors_our_events_back_brings_only_its_own(
    feed_client, conn, loop_settings
):
    ana = await sign_up(feed_client, "Ana")
    ours = await create_org(feed_client, ana)
    await published_event(feed_client, ours, ana, title={"en": "Our rally"})
    bea = await sign_up(feed_client, "Bea")
    partner = await create_org(feed_client, bea)
    await published_event(feed_client, partner, bea, title={"en": "Their vigil"})

    # the partner imports our feed (allowed: it is another org's feed) ...
    async with LoopbackServer(Feed(await org_feed(feed_client, ours))) as server:
        created = await register(feed_client, partner, bea, server.url + "/ours.ics")
        run = await run_now(feed_client, conn, loop_settings, partner, bea, created)
        assert (run["added"], run["skipped"]) == (1, 0)
    assert titles(await imported_events(feed_client, partner)) == ["Our rally"]

    # ... and we import the partner's, which now carries our rally back
    async with LoopbackServer(Feed(await org_feed(feed_client, partner))) as server:
        created = await register(feed_client, ours, ana, server.url + "/theirs.ics")
        run = await run_now(feed_client, conn, loop_settings, ours, ana, created)
    assert (run["added"], run["skipped"]) == (1, 1)
    assert "1 of the feed's events are this organization's own events" in run["notice"]
    assert titles(await imported_events(feed_client, ours)) == ["Their vigil"]


async def test_a_partner_reached_directly_and_through_a_caravan_feed_is_mirrored_once(
    feed_client, conn, loop_settings
):
    ana = await sign_up(feed_client, "Ana")
    ours = await create_org(feed_client, ana)
    bea = await sign_up(feed_client, "Bea")
    coalition = await create_org(feed_client, bea)
    union = Feed(ics(vevent("strike@union", "Strike", day(6))))
    async with LoopbackServer(union) as server:
        direct = await register(feed_client, ours, ana, server.url + "/union.ics")
        assert (await run_now(feed_client, conn, loop_settings, ours, ana, direct))["added"] == 1
        via = await register(feed_client, coalition, bea, server.url + "/union.ics")
        assert (await run_now(feed_client, conn, loop_settings, coalition, bea, via))["added"] == 1
    async with LoopbackServer(Feed(await org_feed(feed_client, coalition))) as server:
        created = await register(feed_client, ours, ana, server.url + "/coalition.ics")
        run = await run_now(feed_client, conn, loop_settings, ours, ana, created)
    assert (run["added"], run["shared"], run["skipped"]) == (0, 1, 0)
    assert titles(await imported_events(feed_client, ours)) == ["Strike"]


@pytest.mark.parametrize(
    ("url", "found"),
    [
        ("https://caravan.example/app/v1/orgs/frontera/calendar.ics", ("org", "frontera")),
        ("webcal://caravan.example/app//v1/orgs/frontera/calendar.ics/", ("org", "frontera")),
        ("https://caravan.example/app/v1/orgs/frontera/events", None),
        ("https://caravan.example/v1/orgs/frontera/calendar.ics", None),  # outside the prefix
        ("https://caravan.example:8443/app/v1/orgs/frontera/calendar.ics", None),
        ("https://partner.example/app/v1/orgs/frontera/calendar.ics", None),
        ("https://caravan.example.evil/app/v1/orgs/frontera/calendar.ics", None),
        ("https://caravan.example/app/v1/feeds/cvn_feed_x/calendar.ics", ("secret", "")),
        ("https://[::1/app/v1/orgs/frontera/calendar.ics", None),
        ("ftp://caravan.example/app/v1/orgs/frontera/calendar.ics", None),
    ],
)
def test_caravan_feed_urls_are_recognised_on_the_public_url_only(url, found):
    assert caravan_feed(url, "https://caravan.example/app") == found
