"""Feeds read alike by independent parsers: DST changes in four zones, and any Unicode text.

The fixture goes through the API: events around every clock change within the feed window in
America/Tijuana, America/Mexico_City (no DST since 2022: its US days serve as a control),
America/Los_Angeles and Europe/Madrid — both readings of repeated wall times, none of the
skipped ones — and a trip with its itinerary and a ride across a change. icalendar, vobject,
ical and (where Node is available) ical.js must each read every (UID, UTC start, UTC end)
exactly as zoneinfo says.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import calendar_parsers
from tests.calendar_parsers import (
    PYTHON_PARSERS,
    PYTHON_TEXT_READERS,
    Times,
    exists,
    feed_characters,
    feed_text,
    is_repeated,
    texts_by_icaljs,
    times_by_icaljs,
)
from tests.events_helpers import add_rsvp, create_event, publish_event
from tests.people import create_org, sign_up
from tests.rides_helpers import offer_ride
from tests.test_feeds_helpers import feed, subscribe
from tests.trips_helpers import accepted, add_item, open_trip_for

icaljs = calendar_parsers.icaljs

ZONES = ("America/Tijuana", "America/Mexico_City", "America/Los_Angeles", "Europe/Madrid")
BASE = "http://127.0.0.1:8000"


def clock_change_days(tzid: str, first: date, last: date) -> list[date]:
    """The local days on which the zone's UTC offset changes, between two dates."""
    zone = ZoneInfo(tzid)
    days = []
    day = first
    while day <= last:
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
        if (noon - timedelta(days=1)).astimezone(zone).utcoffset() != noon.astimezone(
            zone
        ).utcoffset():
            days.append(day)
        day += timedelta(days=1)
    return days


def dst_moments(now: datetime) -> list[tuple[str, datetime, timedelta]]:
    """(zone, local start, length) around each change inside the feed window."""
    first, last = (now - timedelta(days=25)).date(), (now + timedelta(days=355)).date()
    moments = []
    for tzid in ZONES:
        zone = ZoneInfo(tzid)
        # Mexico City no longer changes clocks: the US days test that nothing moves there
        source = "America/Los_Angeles" if tzid == "America/Mexico_City" else tzid
        for day in clock_change_days(source, first, last):
            change = datetime(day.year, day.month, day.day)
            starts = [
                (change - timedelta(days=1) + timedelta(hours=10), timedelta(hours=2)),
                (change - timedelta(hours=2), timedelta(hours=8)),  # spans the change
                (change + timedelta(days=1) + timedelta(hours=10), timedelta(hours=2)),
            ]
            starts += [
                (change + timedelta(hours=hours), timedelta(minutes=45))
                for hours in (0.5, 1, 1.5, 2, 2.5, 3, 12)
            ]
            for naive, length in starts:
                for later in (0, 1):
                    local = naive.replace(tzinfo=zone, fold=later)
                    if not exists(local) or (later and not is_repeated(local)):
                        continue
                    moments.append((tzid, local, length))
    return moments


async def _dst_world(client: httpx.AsyncClient, conn) -> dict[str, Any]:
    """Events across every change, one person going to all of them, driving to one, and on a
    trip across a change in Madrid; the truth (UTC start, UTC end) of every UID."""
    organizer = await sign_up(client, "Rosa")
    org = await create_org(client, organizer)
    ana = await sign_up(client, "Ana")
    truth: Times = {}
    events: list[dict[str, Any]] = []
    now = datetime.now(UTC)
    for tzid, local, length in dst_moments(now):
        event = await create_event(
            client,
            org,
            organizer,
            title={"en": f"{tzid} {local.isoformat()}"},
            starts_at=local,
            # in UTC: adding to an aware local time would drop its fold (which reading)
            ends_at=local.astimezone(UTC) + length,
            timezone=tzid,
        )
        event = await publish_event(client, event, organizer)
        await add_rsvp(conn, event, ana)
        events.append(event)
        starts = local.astimezone(UTC)
        truth[f"event-{event['id']}@caravan"] = (starts, starts + length)
    assert len(truth) > 40
    personal = dict(truth)

    # a ride two hours before an event in Los Angeles
    ride_to = next(
        e
        for e in events
        if e["timezone"] == "America/Los_Angeles"
        and datetime.fromisoformat(e["starts_at"]) > now + timedelta(days=1)
    )
    offer = await offer_ride(client, ride_to, ana)
    departs = datetime.fromisoformat(offer["departs_at"]).astimezone(UTC)
    personal[f"ride-{offer['id']}-out@caravan"] = (departs, departs + timedelta(hours=1))

    # a trip in Madrid from the day before a change to two days after
    madrid = ZoneInfo("Europe/Madrid")
    day = next(
        d
        for d in clock_change_days(
            "Europe/Madrid", now.date() + timedelta(days=3), now.date() + timedelta(days=360)
        )
    )
    change = datetime(day.year, day.month, day.day, tzinfo=madrid)
    trip_starts = change - timedelta(days=1) + timedelta(hours=9)
    trip_ends = change + timedelta(days=2) + timedelta(hours=18)
    trip = await open_trip_for(
        client,
        org,
        organizer,
        starts_at=trip_starts,
        ends_at=trip_ends,
        timezone="Europe/Madrid",
    )
    await accepted(client, trip, ana, organizer)
    personal[f"trip-{trip['id']}@caravan"] = (
        trip_starts.astimezone(UTC),
        trip_ends.astimezone(UTC),
    )
    for hours, visibility in (
        (0.5, "everyone"),
        (1.5, "participants"),
        (3.5, "everyone"),
        (34, "participants"),
    ):
        local = (change.replace(tzinfo=None) + timedelta(hours=hours)).replace(tzinfo=madrid)
        if not exists(local):
            continue
        item = await add_item(
            client,
            trip,
            organizer,
            starts_at=local,
            ends_at=local + timedelta(hours=1),
            visibility=visibility,
        )
        personal[f"itinerary-{item['id']}@caravan"] = (
            local.astimezone(UTC),
            (local + timedelta(hours=1)).astimezone(UTC),
        )
    return {
        "org": org,
        "truth": truth,
        "personal": personal,
        "personal_path": await subscribe(client, ana),
    }


@pytest.fixture
async def dst_feeds(client, conn) -> dict[str, Any]:
    world = await _dst_world(client, conn)
    return {
        "org": (
            await feed(client, f"/v1/orgs/{world['org']['slug']}/calendar.ics"),
            world["truth"],
        ),
        "personal": (await feed(client, world["personal_path"]), world["personal"]),
    }


@pytest.mark.parametrize("parser", PYTHON_PARSERS)
async def test_python_parsers_read_the_zoneinfo_instants_of_every_feed_item(dst_feeds, parser):
    for name, (body, truth) in dst_feeds.items():
        assert PYTHON_PARSERS[parser](body) == truth, name


async def test_icaljs_reads_the_zoneinfo_instants_of_every_feed_item(dst_feeds, icaljs):
    for name, (body, truth) in dst_feeds.items():
        assert times_by_icaljs(icaljs(body)) == truth, name


async def test_the_feeds_write_one_rrule_vtimezone_per_zone_and_no_floating_times(dst_feeds):
    for body, _ in dst_feeds.values():
        text = body.replace(b"\r\n ", b"").decode()
        assert "RDATE" not in text
        for tzid in ZONES:
            assert text.count(f"TZID:{tzid}\r\n") == 1, tzid
        for block in text.split("BEGIN:VEVENT\r\n")[1:]:
            for line in block.split("\r\n"):
                if line.startswith(("DTSTART", "DTEND")):
                    assert ";TZID=" in line.split(":")[0] or line.endswith("Z"), line


# ---------------------------------------------------------------- any text, unchanged

feed_title = st.text(feed_characters, min_size=1, max_size=200)


@pytest.fixture
async def publisher(client) -> dict[str, Any]:
    organizer = await sign_up(client, "Rosa")
    return {"organizer": organizer, "org": await create_org(client, organizer)}


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(title=feed_title, description=feed_text)
async def test_random_unicode_titles_and_descriptions_come_back_unchanged_from_the_event_feed(
    client, publisher, title: str, description: str
):
    event = await create_event(
        client,
        publisher["org"],
        publisher["organizer"],
        title={"en": title},
        description={"en": description},
    )
    await publish_event(client, event, publisher["organizer"])
    body = await feed(client, f"/v1/events/{event['id']}/calendar.ics")
    url = f"{BASE}/v1/events/{event['id']}"
    expected = (title, "\n\n".join(part for part in (description, url) if part))
    for name, read in PYTHON_TEXT_READERS.items():
        assert read(body)[f"event-{event['id']}@caravan"] == expected, name


MIXED = [
    "Acción migrante: ¡pingüinos, corazón; y año nuevo!",
    "Xch'a'w ri ajq'ij: utz awach\nnimalaj matyox\t\\ fin",
    "حقوق المهاجرين حقوق الإنسان " * 5,
    "🌵✊🏽👨‍👩‍👧‍👦🇲🇽 移民の権利 " * 8,
    '"quoted", ;semi; \\back\\ :colon:',
]


async def test_icaljs_reads_mixed_script_titles_and_descriptions_unchanged(
    client, publisher, icaljs
):
    expected = {}
    for text in MIXED:
        event = await create_event(
            client,
            publisher["org"],
            publisher["organizer"],
            title={"en": text[:200]},
            description={"en": text * 3},
        )
        await publish_event(client, event, publisher["organizer"])
        url = f"{BASE}/v1/events/{event['id']}"
        expected[f"event-{event['id']}@caravan"] = (text[:200], f"{text * 3}\n\n{url}")
    body = await feed(client, f"/v1/orgs/{publisher['org']['slug']}/calendar.ics")
    assert texts_by_icaljs(icaljs(body)) == expected
    for name, read in PYTHON_TEXT_READERS.items():
        assert read(body) == expected, name
