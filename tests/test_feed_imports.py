"""Partner calendar imports: mirrored by UID, conditional GET, caps, malformed feeds, rights."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.services import feed_imports
from api.services.feed_imports import ImportLimits
from api.services.ssrf import OutboundPolicy
from db.queries import feed_imports as queries
from tests.conftest import SharedConnection
from tests.people import create_org, join, sign_up
from tests.problems import assert_problem
from tests.test_partner_helpers import as_key, issue_key, sync_until_quiet
from tests.test_webhooks_helpers import (
    LoopbackServer,
    Received,
    Reply,
    loopback_client,
    loopback_settings,
)


@pytest.fixture
def loop_settings(settings):
    return loopback_settings(settings)


@pytest.fixture
async def feed_client(loop_settings, conn):
    async with loopback_client(loop_settings, conn) as http:
        yield http


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def day(days: int, hour: int = 17) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(
        hour=hour, minute=0, second=0, microsecond=0
    )


def vevent(uid: str | None, summary: str, start: datetime, *extra: str) -> str:
    lines = ["BEGIN:VEVENT"]
    if uid:
        lines.append(f"UID:{uid}")
    lines += [
        f"DTSTAMP:{stamp(start)}",
        f"DTSTART:{stamp(start)}",
        f"DTEND:{stamp(start + timedelta(hours=2))}",
        f"SUMMARY:{summary}",
        *extra,
        "END:VEVENT",
    ]
    return "\r\n".join(lines)


def ics(*events: str) -> bytes:
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Partner//Calendar//EN\r\n"
    return (head + "\r\n".join(events) + "\r\nEND:VCALENDAR\r\n").encode()


class Feed:
    """A partner's feed on the loopback server: its body and ETag can change between runs."""

    def __init__(self, body: bytes, etag: str = '"v1"') -> None:
        self.body, self.etag = body, etag
        self.status = 200
        self.extra: dict[str, str] = {}

    def __call__(self, request: Received) -> Reply:
        if self.status != 200:
            return Reply(self.status, self.extra)
        if request.headers.get("if-none-match") == self.etag:
            return Reply(304, {"etag": self.etag})
        headers = {
            "etag": self.etag,
            "last-modified": "Sat, 28 Nov 2026 10:00:00 GMT",
            "content-type": "text/calendar",
        }
        return Reply(200, headers, self.body)


async def register(client, org, by, url: str) -> dict[str, Any]:
    response = await client.post(
        f"/v1/orgs/{org['slug']}/feed-imports", json={"url": url}, headers=by.headers
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def run_now(client, conn, settings, org, by, feed, limits=None, outbound=None) -> dict:
    """Ask for a run, let the worker do it, and return that run as the API shows it."""
    path = f"/v1/orgs/{org['slug']}/feed-imports/{feed['id']}"
    assert (await client.post(path + "/run", headers=by.headers)).status_code == 202
    done = await feed_imports.run_due_imports(
        SharedConnection(conn), settings, limits=limits or ImportLimits(), outbound=outbound
    )
    assert done == 1
    runs = await client.get(path + "/runs", headers=by.headers)
    return runs.json()["items"][0]  # type: ignore[no-any-return]


async def imported_events(client, org) -> list[dict[str, Any]]:
    response = await client.get(
        f"/v1/orgs/{org['slug']}/events", params={"include_cancelled": "true", "limit": 200}
    )
    return [e for e in response.json()["items"] if "imported" in e["tags"]]


async def test_a_feed_is_mirrored_by_uid_and_follows_its_changes(feed_client, conn, loop_settings):
    owner = await sign_up(feed_client, "Owner")
    org = await create_org(feed_client, owner)
    key = await issue_key(feed_client, org, owner, "events:read")
    weekly = day(3, 18)
    feed = Feed(
        ics(
            vevent(
                "vigil-1@partner",
                "Vigil\x07 <b>for</b> families\u202e",
                day(5),
                "DESCRIPTION:<p>Bring <script>alert(1)</script>candles</p>&amp; friends",
                "LOCATION:Parroquia San Jose",
                "GEO:32.5;-117.03",
                "URL:https://partner.example/vigil",
            ),
            vevent(
                "weekly@partner",
                "Know your rights",
                weekly,
                "RRULE:FREQ=WEEKLY;COUNT=3",
                f"EXDATE:{stamp(weekly + timedelta(days=7))}",
            ),
            vevent("secret@partner", "Private planning", day(6), "CLASS:PRIVATE"),
            vevent(None, "No UID", day(7)),
            vevent("old@partner", "Long ago", day(-400)),
        )
    )
    async with LoopbackServer(feed) as server:
        created = await register(feed_client, org, owner, server.url + "/events.ics")
        run = await run_now(feed_client, conn, loop_settings, org, owner, created)
        assert (run["status"], run["added"], run["updated"], run["removed"], run["rejected"]) == (
            "ok",
            3,
            0,
            0,
            2,
        )
        events = await imported_events(feed_client, org)
        titles = sorted(e["display"]["title"] for e in events)
        assert titles == ["Know your rights", "Know your rights", "Vigil for families"]
        vigil = next(e for e in events if e["display"]["title"].startswith("Vigil"))
        description = vigil["display"]["description"]
        assert "<" not in description and "alert" not in description
        assert description == "Bring candles\n& friends"
        assert vigil["location"]["name"] == "Parroquia San Jose"
        assert vigil["location"]["lat"] == 32.5 and vigil["status"] == "published"

        # unchanged: a conditional GET, answered 304; nothing changes
        run = await run_now(feed_client, conn, loop_settings, org, owner, created)
        assert run["status"] == "not_modified"
        assert server.received[-1].headers["if-none-match"] == '"v1"'
        assert server.received[-1].headers["if-modified-since"] == "Sat, 28 Nov 2026 10:00:00 GMT"
        _, cursor = await sync_until_quiet(feed_client, key)

        # changed: one entry edited and cancelled, the series gone, a new one
        feed.body, feed.etag = (
            ics(
                vevent("vigil-1@partner", "Vigil (cancelled)", day(5), "STATUS:CANCELLED"),
                vevent("march@partner", "March", day(9)),
            ),
            '"v2"',
        )
        run = await run_now(feed_client, conn, loop_settings, org, owner, created)
        assert (run["added"], run["updated"], run["removed"]) == (1, 1, 2)
    events = await imported_events(feed_client, org)
    assert sorted((e["display"]["title"], e["status"]) for e in events) == [
        ("March", "published"),
        ("Vigil (cancelled)", "cancelled"),
    ]
    changes, _ = await sync_until_quiet(feed_client, key, cursor)
    kinds = sorted(
        ("tombstone", c["reason"]) if c["deleted"] else ("event", c["event"]["status"])
        for c in changes
    )
    assert kinds == [
        ("event", "cancelled"),
        ("event", "published"),
        ("tombstone", "deleted"),
        ("tombstone", "deleted"),
    ]
    assert all(c["event"]["imported"] for c in changes if not c["deleted"])


BAD_FEEDS = {
    "too big": (ImportLimits(max_bytes=5_000), ics(vevent("x", "y" * 60, day(2))) + b" " * 6_000),
    "too many events": (
        ImportLimits(max_entries=3),
        ics(*(vevent(f"e{i}", "Event", day(2 + i)) for i in range(4))),
    ),
    "not a calendar": (ImportLimits(), b"<html><body>Moved</body></html>"),
    "malformed": (ImportLimits(), b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x\r\n"),
    "expands too far": (
        ImportLimits(max_events=5, max_occurrences=100),
        ics(vevent("daily", "Daily", day(1), "RRULE:FREQ=DAILY")),
    ),
}
MESSAGES = {
    "too big": "larger than",
    "too many events": "more than 3 events",
    "not a calendar": "not an iCalendar feed",
    "malformed": "not valid iCalendar",
    "expands too far": "expands to more than 5 events",
}


@pytest.mark.parametrize("case", BAD_FEEDS.keys())
async def test_caps_and_malformed_feeds_give_a_clear_error_and_change_nothing(
    feed_client, conn, loop_settings, case
):
    owner = await sign_up(feed_client, "Owner")
    org = await create_org(feed_client, owner)
    feed = Feed(ics(vevent("keep@partner", "Kept", day(4))))
    async with LoopbackServer(feed) as server:
        created = await register(feed_client, org, owner, server.url + "/events.ics")
        assert (await run_now(feed_client, conn, loop_settings, org, owner, created))["added"] == 1
        before = await imported_events(feed_client, org)
        limits, body = BAD_FEEDS[case]
        feed.body, feed.etag = body, '"bad"'
        run = await run_now(feed_client, conn, loop_settings, org, owner, created, limits)
    assert run["status"] == "error"
    assert MESSAGES[case] in run["error"]
    assert (run["added"], run["updated"], run["removed"]) == (0, 0, 0)
    assert await imported_events(feed_client, org) == before
    shown = await feed_client.get(
        f"/v1/orgs/{org['slug']}/feed-imports/{created['id']}", headers=owner.headers
    )
    assert shown.json()["last_status"] == "error" and MESSAGES[case] in shown.json()["last_error"]


async def test_http_errors_and_redirect_loops_are_reported(feed_client, conn, loop_settings):
    owner = await sign_up(feed_client, "Owner")
    org = await create_org(feed_client, owner)
    feed = Feed(b"")
    async with LoopbackServer(feed) as server:
        created = await register(feed_client, org, owner, server.url + "/events.ics")
        feed.status = 500
        run = await run_now(feed_client, conn, loop_settings, org, owner, created)
        assert run["error"] == "The feed answered HTTP 500."
        feed.status, feed.extra = 302, {"location": "/events.ics"}
        run = await run_now(feed_client, conn, loop_settings, org, owner, created)
        assert run["error"] == "The feed redirected more than 3 times."
        assert len(server.received) == 1 + 4


async def test_redirects_are_checked_again(feed_client, conn, loop_settings):
    owner = await sign_up(feed_client, "Owner")
    org = await create_org(feed_client, owner)
    body = ics(vevent("moved@partner", "Moved", day(3)))

    def answer(request: Received) -> Reply:
        if request.path == "/old.ics":
            return Reply(301, {"location": "/new.ics"})
        if request.path == "/new.ics":
            return Reply(302, {"location": "https://internal.partner.example/cal.ics"})
        return Reply(200, {}, body)

    async def resolver(host: str, port: int) -> list[str]:
        return ["10.0.0.5"]  # what an attacker's DNS would answer

    outbound = OutboundPolicy(allow_loopback=True, resolver=resolver)
    async with LoopbackServer(answer) as server:
        created = await register(feed_client, org, owner, server.url + "/old.ics")
        run = await run_now(
            feed_client, conn, loop_settings, org, owner, created, outbound=outbound
        )
    assert run["status"] == "error" and "refused" in run["error"]
    assert "private" in run["error"]
    assert [r.path for r in server.received] == ["/old.ics", "/new.ics"]


async def test_recurrence_is_capped_in_count_window_and_frequency(loop_settings):
    now = datetime.now(UTC)
    limits = ImportLimits(max_occurrences=10)
    body = ics(
        vevent("forever", "Daily forever", day(1), "RRULE:FREQ=DAILY"),
        vevent("billion", "Billion", day(-20000), "RRULE:FREQ=DAILY;COUNT=1000000000"),
        vevent("fast", "Every second", day(1), "RRULE:FREQ=SECONDLY;COUNT=1000000000"),
        vevent("far", "Far future", day(5000)),
    )
    started = time.perf_counter()
    parsed = feed_imports.parse_feed(body, limits, now, "America/Tijuana")
    assert time.perf_counter() - started < 2
    by_uid: dict[str, int] = {}
    for entry in parsed.entries:
        by_uid[entry.uid.split("#")[0]] = by_uid.get(entry.uid.split("#")[0], 0) + 1
    assert by_uid == {"forever": 10}
    assert parsed.rejected == 1  # every second; the billion-day rule never reaches the window
    assert all(now - limits.past <= e.starts_at <= now + limits.future for e in parsed.entries)


async def test_parsing_runs_off_the_event_loop(feed_client, conn, loop_settings, monkeypatch):
    threads: list[int] = []
    original = feed_imports.parse_feed

    def recording(*args: Any) -> Any:
        threads.append(threading.get_ident())
        return original(*args)

    monkeypatch.setattr(feed_imports, "parse_feed", recording)
    owner = await sign_up(feed_client, "Owner")
    org = await create_org(feed_client, owner)
    async with LoopbackServer(Feed(ics(vevent("a", "A", day(2))))) as server:
        created = await register(feed_client, org, owner, server.url + "/a.ics")
        await run_now(feed_client, conn, loop_settings, org, owner, created)
    assert threads and threads[0] != threading.get_ident()


async def test_who_may_register_imports_and_what_urls(feed_client, client, conn):
    owner = await sign_up(client, "Owner")
    member = await sign_up(client, "Member")
    org = await create_org(client, owner)
    await join(client, org, owner, member, "member")
    path = f"/v1/orgs/{org['slug']}/feed-imports"
    body = {"url": "https://partner.example/events.ics", "interval_minutes": 30}
    assert_problem(await client.post(path, json=body), 401)
    assert_problem(await client.post(path, json=body, headers=member.headers), 403, "forbidden")
    for url in ("http://partner.example/e.ics", "https://192.168.0.2/e.ics", "http://127.0.0.1/x"):
        response = await client.post(path, json={"url": url}, headers=owner.headers)
        assert_problem(response, 422, "rule-violation", pointer="#/url")
    key = await issue_key(client, org, owner, "imports:manage")
    created = await client.post(path, json=body, headers=as_key(key))
    assert created.status_code == 201, created.text
    assert created.json()["interval_minutes"] == 30 and created.json()["active"] is True
    assert_problem(await client.post(path, json=body, headers=owner.headers), 409, "conflict")
    one = f"{path}/{created.json()['id']}"
    paused = await client.patch(one, json={"active": False}, headers=owner.headers)
    assert paused.json()["active"] is False
    assert (await client.delete(one, headers=owner.headers)).status_code == 204
    assert_problem(await client.get(one, headers=owner.headers), 404, "not-found")
    actions = await conn.fetch("SELECT action FROM audit_log WHERE action LIKE 'feed_import.%'")
    assert [a["action"] for a in actions] == ["feed_import.created", "feed_import.deleted"]


async def test_deleting_an_import_removes_its_events(feed_client, conn, loop_settings):
    owner = await sign_up(feed_client, "Owner")
    org = await create_org(feed_client, owner)
    async with LoopbackServer(Feed(ics(vevent("a", "A", day(2))))) as server:
        created = await register(feed_client, org, owner, server.url + "/a.ics")
        await run_now(feed_client, conn, loop_settings, org, owner, created)
    assert len(await imported_events(feed_client, org)) == 1
    path = f"/v1/orgs/{org['slug']}/feed-imports/{created['id']}"
    assert (await feed_client.delete(path, headers=owner.headers)).status_code == 204
    assert await imported_events(feed_client, org) == []
    assert await queries.select_imported_events(conn, created["id"]) == []
