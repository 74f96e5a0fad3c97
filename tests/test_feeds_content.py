"""What feeds say: change signals, cancellations, places as revealed, windows, filters, size."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from uuid import UUID

import anyio.to_thread
import asyncpg
import httpx
import vobject
from ical.calendar_stream import IcsCalendarStream

from api import response_caches
from api.services import feed_rendering
from tests.calendar_parsers import forget_vobject_zones, unfolded_lines, vevents
from tests.events_helpers import in_days, published_event
from tests.people import create_org, join, sign_up
from tests.test_feeds_helpers import backdate, event_uid, feed, props, rsvp, subscribe, uids

VENUE = {
    "name": "Casa Refugio Secreta",
    "address": "Calle Escondida 77, Colonia Obrera",
    "lat": 32.51234,
    "lon": -117.04321,
}


def _basic_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


async def _world(client: httpx.AsyncClient, **overrides):
    organizer = await sign_up(client, "Rosa")
    org = await create_org(client, organizer)
    event = await published_event(client, org, organizer, **overrides)
    return organizer, org, event


# ---------------------------------------------------------------- change signals


async def test_moving_an_event_raises_sequence_and_last_modified_and_keeps_the_uid(
    client, conn: asyncpg.Connection
):
    organizer, org, event = await _world(client)
    await backdate(conn, "events", event["id"], hours=3)
    path = f"/v1/orgs/{org['slug']}/calendar.ics"
    uid = event_uid(event)
    before = props(await feed(client, path), uid)
    created = datetime.fromisoformat(event["created_at"])
    assert before["CREATED"] == _basic_utc(created)
    assert before["DTSTAMP"] == before["LAST-MODIFIED"]
    starts = datetime.fromisoformat(event["starts_at"]) + timedelta(hours=1)
    moved = await client.patch(
        f"/v1/events/{event['id']}",
        json={
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=2)).isoformat(),
        },
        headers=organizer.headers,
    )
    assert moved.status_code == 200, moved.text
    after_body = await feed(client, path)
    after = props(after_body, uid)
    assert uids(after_body) == {uid}
    assert int(after["SEQUENCE"]) == int(before["SEQUENCE"]) + 1
    assert after["LAST-MODIFIED"] > before["LAST-MODIFIED"]
    assert after["DTSTAMP"] == after["LAST-MODIFIED"]
    assert after["CREATED"] == before["CREATED"]
    assert after["DTSTART"] != before["DTSTART"]
    assert vevents(after_body)[uid].decoded("DTSTART").astimezone(UTC) == starts.astimezone(UTC)


async def test_changing_the_location_policy_raises_sequence_as_the_place_changes(
    client, conn: asyncpg.Connection
):
    organizer, org, event = await _world(client, venue=VENUE, area="Colonia Obrera")
    path = f"/v1/orgs/{org['slug']}/calendar.ics"
    before = props(await feed(client, path), event_uid(event))
    assert before["LOCATION"].startswith("Casa Refugio Secreta")
    protected = await client.patch(
        f"/v1/events/{event['id']}",
        json={"location_policy": "attendees"},
        headers=organizer.headers,
    )
    assert protected.status_code == 200, protected.text
    after = props(await feed(client, path), event_uid(event))
    assert after["LOCATION"] == "Colonia Obrera" and "GEO" not in after
    assert int(after["SEQUENCE"]) > int(before["SEQUENCE"])


async def test_cancelled_events_stay_marked_with_a_higher_sequence_in_the_readers_language(
    client,
):
    organizer, org, event = await _world(client)
    path = f"/v1/orgs/{org['slug']}/calendar.ics"
    uid = event_uid(event)
    before = props(await feed(client, path), uid)
    cancelled = await client.post(
        f"/v1/events/{event['id']}/cancel",
        json={"reason": "Storm warning"},
        headers=organizer.headers,
    )
    assert cancelled.status_code == 200, cancelled.text
    body = await feed(client, path)
    after = props(body, uid)
    assert after["STATUS"] == "CANCELLED"
    assert after["SUMMARY"] == "CANCELLED: Rally"
    assert after["TRANSP"] == "TRANSPARENT"
    assert int(after["SEQUENCE"]) > int(before["SEQUENCE"])
    assert "Cancelled: Storm warning" in str(vevents(body)[uid]["DESCRIPTION"])
    spanish = props(await feed(client, path + "?lang=es"), uid)
    assert spanish["SUMMARY"] == "CANCELADO: Marcha"
    by_header = props(await feed(client, path, **{"Accept-Language": "es-MX,es;q=0.9"}), uid)
    assert by_header["SUMMARY"] == "CANCELADO: Marcha"
    forget_vobject_zones()
    assert vobject.readOne(body.decode()).vevent.status.value == "CANCELLED"
    assert IcsCalendarStream.calendar_from_ics(body.decode()).events[0].status == "CANCELLED"


async def test_cancelled_events_are_kept_at_least_14_days_after_they_would_have_ended(
    client, conn: asyncpg.Connection
):
    organizer, org, _ = await _world(client)
    now = datetime.now(UTC)

    async def past_event(ended_days_ago: float, cancelled_days_ago: float | None) -> str:
        event = await published_event(client, org, organizer)
        ends = now - timedelta(days=ended_days_ago)
        await conn.execute(
            """
            UPDATE events
               SET starts_at = $2, ends_at = $3,
                   status = CASE WHEN $4::timestamptz IS NULL THEN status ELSE 'cancelled' END,
                   cancelled_at = $4
             WHERE id = $1
            """,
            UUID(event["id"]),
            ends - timedelta(hours=2),
            ends,
            None if cancelled_days_ago is None else now - timedelta(days=cancelled_days_ago),
        )
        return event_uid(event)

    ended_20_cancelled_now = await past_event(20, 0)
    ended_45_cancelled_3 = await past_event(45, 3)
    ended_45_cancelled_20 = await past_event(45, 20)
    ended_31 = await past_event(31, None)
    ended_29 = await past_event(29, None)
    body = await feed(client, f"/v1/orgs/{org['slug']}/calendar.ics")
    present = uids(body)
    assert {ended_20_cancelled_now, ended_45_cancelled_3, ended_29} <= present
    assert not {ended_45_cancelled_20, ended_31} & present
    assert props(body, ended_45_cancelled_3)["STATUS"] == "CANCELLED"


async def test_postponed_events_say_so_and_are_tentative(client):
    organizer, org, event = await _world(client)
    postponed = await client.post(f"/v1/events/{event['id']}/postpone", headers=organizer.headers)
    assert postponed.status_code == 200
    body = await feed(client, f"/v1/orgs/{org['slug']}/calendar.ics")
    found = props(body, event_uid(event))
    assert found["SUMMARY"] == "POSTPONED: Rally" and found["STATUS"] == "TENTATIVE"
    assert "new date will be announced" in str(vevents(body)[event_uid(event)]["DESCRIPTION"])
    spanish = props(
        await feed(client, f"/v1/events/{event['id']}/calendar.ics?lang=es"), event_uid(event)
    )
    assert spanish["SUMMARY"] == "POSPUESTO: Marcha"


async def test_events_carry_a_url_a_plain_description_and_no_attendee_organizer_or_alarm(
    client,
):
    _organizer, org, event = await _world(
        client,
        summary={"en": "Bring water"},
        description={"en": "Line 1\nLine 2, with <b>no</b> markup; ok"},
        tags=["asylum", "families"],
    )
    await rsvp(client, event, None, "Someone Private", contact="someone@example.org")
    body = await feed(client, f"/v1/orgs/{org['slug']}/calendar.ics")
    found = props(body, event_uid(event))
    url = f"http://127.0.0.1:8000/v1/events/{event['id']}"
    assert found["URL"] == url
    assert str(vevents(body)[event_uid(event)]["DESCRIPTION"]) == (
        f"Bring water\n\nLine 1\nLine 2, with <b>no</b> markup; ok\n\n{url}"
    )
    assert found["CATEGORIES"] == "rally,asylum,families"
    assert not re.search(rb"^(ATTENDEE|ORGANIZER|BEGIN:VALARM)", body, flags=re.M)
    assert b"Someone Private" not in body and b"someone@example.org" not in body
    assert re.fullmatch(r"event-[0-9a-f-]{36}@caravan", event_uid(event))
    assert org["slug"].encode() not in b"".join(
        line.encode() for line in unfolded_lines(body) if line.startswith("UID:")
    )


# ---------------------------------------------------------------- places as revealed


async def test_a_protected_place_is_the_area_for_others_and_exact_for_confirmed_attendees(
    client,
):
    _organizer, org, event = await _world(
        client, venue=VENUE, area="Colonia Obrera", location_policy="attendees", capacity=1
    )
    uid = event_uid(event)
    ana = await sign_up(client, "Ana")
    ana_rsvp = await rsvp(client, event, ana, "Ana")
    waiting = await rsvp(client, event, None, "Late")
    assert (ana_rsvp["status"], waiting["status"]) == ("going", "waitlisted")
    secret = [str(VENUE["name"]).encode(), b"Escondida", b"32.51234", b"32.512340"]

    public_bodies = [
        await feed(client, f"/v1/orgs/{org['slug']}/calendar.ics"),
        await feed(client, f"/v1/events/{event['id']}/calendar.ics"),
        await feed(client, f"/v1/rsvps/manage/{waiting['manage_token']}/calendar.ics"),
    ]
    for body in public_bodies:
        found = props(body, uid)
        assert found["LOCATION"] == "Colonia Obrera"
        assert "GEO" not in found
        assert not any(part in body for part in secret)

    for body in (
        await feed(client, await subscribe(client, ana)),
        await feed(client, f"/v1/rsvps/manage/{ana_rsvp['manage_token']}/calendar.ics"),
        await feed(client, f"/v1/events/{event['id']}/calendar.ics", **ana.headers),
    ):
        found = props(body, uid)
        assert found["LOCATION"] == "Casa Refugio Secreta\\, Calle Escondida 77\\, Colonia Obrera"
        assert found["GEO"] == "32.512340;-117.043210"


async def test_a_timed_reveal_shows_the_place_to_attendees_with_a_new_sequence(
    client, conn: asyncpg.Connection, monkeypatch
):
    # the rows are moved straight in SQL, as another process would: no cached feed may be
    # served as fresh without a check
    monkeypatch.setattr(response_caches, "FRESH_S", 0.0)
    reveal = in_days(3)
    _organizer, org, event = await _world(
        client, venue=VENUE, area="Colonia Obrera", location_policy="reveal_at", reveal_at=reveal
    )
    ana = await sign_up(client, "Ana")
    going = await rsvp(client, event, ana, "Ana")
    await backdate(conn, "rsvps", going["id"], hours=1)
    path = await subscribe(client, ana)
    before = props(await feed(client, path), event_uid(event))
    assert before["LOCATION"] == "Colonia Obrera"
    revealed_at = (datetime.now(UTC) - timedelta(minutes=5)).replace(microsecond=0)
    await conn.execute(
        "UPDATE events SET reveal_at = $2 WHERE id = $1", UUID(event["id"]), revealed_at
    )
    await conn.execute(
        "UPDATE events SET updated_at = updated_at - interval '1 hour', "
        "sequence = $2 WHERE id = $1",
        UUID(event["id"]),
        int(before["SEQUENCE"]) - 1,  # as if the reveal time had been set long ago
    )
    after = props(await feed(client, path), event_uid(event))
    assert after["LOCATION"].startswith("Casa Refugio Secreta")
    assert "GEO" in after
    assert int(after["SEQUENCE"]) == int(before["SEQUENCE"]) + 1
    assert after["LAST-MODIFIED"] == _basic_utc(revealed_at)
    # the public feed still shows only the area
    public = props(await feed(client, f"/v1/orgs/{org['slug']}/calendar.ics"), event_uid(event))
    assert public["LOCATION"] == "Colonia Obrera"


# ---------------------------------------------------------------- what an org feed lists


async def test_the_org_feed_lists_public_and_co_hosted_events_filtered_by_kind_tag_language(
    client,
):
    organizer = await sign_up(client, "Rosa")
    org = await create_org(client, organizer)
    partner_owner = await sign_up(client, "Pat")
    partner = await create_org(client, partner_owner)
    await join(client, partner, partner_owner, organizer, "organizer")
    vigil = await published_event(
        client, org, organizer, kind="vigil", tags=["asylum"], title={"es": "Vigilia"}
    )
    training = await published_event(
        client, org, organizer, kind="training", tags=["legal"], title={"en": "Know your rights"}
    )
    cohosted = await published_event(client, partner, organizer, kind="march")
    added = await client.post(
        f"/v1/events/{cohosted['id']}/cohosts", json={"org": org["slug"]}, headers=organizer.headers
    )
    assert added.status_code == 201, added.text
    other = await published_event(client, partner, partner_owner)
    path = f"/v1/orgs/{org['slug']}/calendar.ics"
    assert uids(await feed(client, path)) == {
        event_uid(vigil),
        event_uid(training),
        event_uid(cohosted),
    }
    assert event_uid(other) not in uids(await feed(client, path))
    assert uids(await feed(client, path + "?kind=vigil&kind=march")) == {
        event_uid(vigil),
        event_uid(cohosted),
    }
    assert uids(await feed(client, path + "?tag=legal")) == {event_uid(training)}
    # the co-hosted rally is held in English and Spanish
    assert uids(await feed(client, path + "?language=es")) == {
        event_uid(vigil),
        event_uid(cohosted),
    }
    bad = await client.get(path + "?kind=picnic")
    assert bad.status_code == 400


async def test_the_window_is_30_days_back_to_a_year_ahead(client, conn: asyncpg.Connection):
    organizer, org, _ = await _world(client)
    far = await published_event(
        client, org, organizer, starts_at=in_days(370), ends_at=in_days(370) + timedelta(hours=2)
    )
    near = await published_event(
        client, org, organizer, starts_at=in_days(360), ends_at=in_days(360) + timedelta(hours=2)
    )
    present = uids(await feed(client, f"/v1/orgs/{org['slug']}/calendar.ics"))
    assert event_uid(near) in present and event_uid(far) not in present


async def test_feeds_stay_under_1_mb_with_many_long_descriptions(client, conn: asyncpg.Connection):
    _organizer, org, _ = await _world(client)
    long_text = ("Derechos humanos sin fronteras — ñandú 🌵✊🏽 移民の権利, ; \\ " * 400)[:20_000]
    await conn.execute(
        """
        INSERT INTO events (org_id, kind, title, description, languages, starts_at, ends_at,
                            timezone, visibility, status, venue_name, venue_lat, venue_lon,
                            public_lat, public_lon, area)
        SELECT $1, 'rally', jsonb_build_object('es', 'Marcha número ' || n || ' ' || $2),
               jsonb_build_object('es', $3::text), '{es}',
               now() + n * interval '5 hours', now() + n * interval '5 hours' + interval '2 hours',
               (ARRAY['America/Tijuana', 'Europe/Madrid', 'America/Mexico_City',
                      'America/Los_Angeles'])[1 + n % 4],
               'public', 'published', 'Plaza ' || n, 32.5, -117.0, 32.5, -117.0, 'Centro'
          FROM generate_series(1, 1200) AS n
        """,
        UUID(org["id"]),
        "ü" * 150,
        long_text,
    )
    response = await client.get(f"/v1/orgs/{org['slug']}/calendar.ics")
    body = response.content
    assert response.status_code == 200
    assert len(body) < 1_000_000
    assert int(response.headers["content-length"]) == len(body)
    events = vevents(body)
    assert 100 < len(events) <= 1_000
    descriptions = [
        str(event["DESCRIPTION"])
        for event in events.values()
        if str(event["SUMMARY"]).startswith("Marcha número")
    ]
    assert len(descriptions) == len(events) - 1  # and the org's own event
    assert all(len(text) < 2_200 for text in descriptions)
    assert all(text.startswith(long_text[:1_000]) for text in descriptions)
    assert len(IcsCalendarStream.calendar_from_ics(body.decode()).events) == len(events)
    # the soonest events are the ones kept
    starts = sorted(event.decoded("DTSTART") for event in events.values())
    assert starts[0] < datetime.now(UTC) + timedelta(hours=12)

    many_short = await sign_up(client, "Many")
    short_org = await create_org(client, many_short)
    await conn.execute(
        """
        INSERT INTO events (org_id, kind, title, languages, starts_at, ends_at, timezone,
                            visibility, status)
        SELECT $1, 'vigil', jsonb_build_object('en', 'Vigil ' || n), '{en}',
               now() + n * interval '1 hour', now() + n * interval '1 hour' + interval '30 minutes',
               'UTC', 'public', 'published'
          FROM generate_series(1, 1100) AS n
        """,
        UUID(short_org["id"]),
    )
    capped = await feed(client, f"/v1/orgs/{short_org['slug']}/calendar.ics")
    assert len(vevents(capped)) == 1_000


async def test_the_json_and_the_feed_tell_the_same_time_and_status(client):
    _organizer, _org, event = await _world(client)
    body = await feed(client, f"/v1/events/{event['id']}/calendar.ics")
    found = vevents(body)[event_uid(event)]
    assert found.decoded("DTSTART").astimezone(UTC) == datetime.fromisoformat(event["starts_at"])
    assert found.decoded("DTEND").astimezone(UTC) == datetime.fromisoformat(event["ends_at"])
    assert int(found["SEQUENCE"]) == event["sequence"]
    assert str(found["STATUS"]) == "CONFIRMED"


async def test_big_renders_leave_the_event_loop_and_unchanged_events_come_from_the_cache(
    client, conn: asyncpg.Connection, monkeypatch
):
    organizer, org, event = await _world(client)
    await conn.execute(
        """
        INSERT INTO events (org_id, kind, title, languages, starts_at, ends_at, timezone,
                            visibility, status)
        SELECT $1, 'vigil', jsonb_build_object('en', 'Vigil ' || n), '{en}',
               now() + n * interval '1 day', now() + n * interval '1 day' + interval '1 hour',
               'Europe/Madrid', 'public', 'published'
          FROM generate_series(1, 150) AS n
        """,
        UUID(org["id"]),
    )
    rendered: list[str] = []
    threads: list[int] = []
    real_render, real_run_sync = feed_rendering.render_vevent, anyio.to_thread.run_sync

    def counting_render(item):
        rendered.append(item.uid)
        return real_render(item)

    async def spying_run_sync(function, *args, **kwargs):
        threads.append(1)
        return await real_run_sync(function, *args, **kwargs)

    monkeypatch.setattr(feed_rendering, "render_vevent", counting_render)
    monkeypatch.setattr(anyio.to_thread, "run_sync", spying_run_sync)
    feed_rendering.VEVENTS.clear()
    path = f"/v1/orgs/{org['slug']}/calendar.ics"
    first = await feed(client, path)
    assert (len(rendered), len(threads)) == (151, 1)
    assert await feed(client, path) == first
    assert (len(rendered), len(threads)) == (151, 1)  # all from the cache
    moved = await client.patch(
        f"/v1/events/{event['id']}", json={"title": {"en": "Renamed"}}, headers=organizer.headers
    )
    assert moved.status_code == 200
    await feed(client, path)
    assert rendered[151:] == [event_uid(event)] and len(threads) == 1
