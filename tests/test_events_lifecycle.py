"""Events from draft to published, postponed and cancelled; edits, sequence and bad input."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from tests.events_helpers import add_rsvp, create_event, event_body, in_days, published_event
from tests.people import create_org, join, sign_up
from tests.problems import assert_problem


async def test_organizer_creates_a_draft_that_only_organizers_see(client):
    ana = await sign_up(client, "Ana")
    org = await create_org(client, ana)
    event = await create_event(client, org, ana)
    assert event["status"] == "draft"
    assert event["org"] == org["slug"]
    assert event["languages"] == ["en", "es"]
    assert event["location"]["precision"] == "exact"

    assert (await client.get(f"/v1/events/{event['id']}", headers=ana.headers)).status_code == 200
    stranger = await sign_up(client, "Bea")
    assert_problem(await client.get(f"/v1/events/{event['id']}", headers=stranger.headers), 404)
    assert_problem(await client.get(f"/v1/events/{event['id']}"), 404)


async def test_published_event_is_visible_to_anyone(client):
    ana = await sign_up(client, "Ana")
    org = await create_org(client, ana)
    event = await published_event(client, org, ana)
    assert event["status"] == "published"
    assert event["published_at"] is not None

    response = await client.get(f"/v1/events/{event['id']}")
    assert response.status_code == 200
    assert response.json()["title"] == {"en": "Rally", "es": "Marcha"}


async def test_members_cannot_create_events(client):
    ana = await sign_up(client, "Ana")
    org = await create_org(client, ana)
    member = await sign_up(client, "Carla")
    await join(client, org, ana, member, "member")
    response = await client.post(
        f"/v1/orgs/{org['slug']}/events", json=event_body(), headers=member.headers
    )
    assert_problem(response, 403)


async def test_anonymous_callers_cannot_create_events(client):
    ana = await sign_up(client, "Ana")
    org = await create_org(client, ana)
    response = await client.post(f"/v1/orgs/{org['slug']}/events", json=event_body())
    assert_problem(response, 401)


async def _organizer_with_org(client):
    ana = await sign_up(client, "Ana")
    return ana, await create_org(client, ana)


async def _post(client, event, action, by, **body):
    return await client.post(
        f"/v1/events/{event['id']}/{action}", json=body or None, headers=by.headers
    )


# ---------------------------------------------------------------- transitions


async def test_publishing_twice_is_refused(client):
    ana, org = await _organizer_with_org(client)
    event = await published_event(client, org, ana)
    assert_problem(await _post(client, event, "publish", ana), 409, detail_contains="already")


async def test_postponed_event_keeps_its_place_in_lists_and_new_times_republish_it(client):
    ana, org = await _organizer_with_org(client)
    event = await published_event(client, org, ana)
    response = await _post(client, event, "postpone", ana)
    assert response.status_code == 200
    postponed = response.json()
    assert postponed["status"] == "postponed"
    assert postponed["sequence"] == event["sequence"] + 1
    listed = (await client.get("/v1/events")).json()["items"]
    assert [e["status"] for e in listed] == ["postponed"]

    later = in_days(14)
    response = await client.patch(
        f"/v1/events/{event['id']}",
        json={"starts_at": later.isoformat(), "ends_at": (later + timedelta(hours=3)).isoformat()},
        headers=ana.headers,
    )
    assert response.status_code == 200, response.text
    republished = response.json()
    assert republished["status"] == "published"
    assert republished["starts_at"] == later.isoformat().replace("+00:00", "Z")
    assert republished["sequence"] > postponed["sequence"]


async def test_postponed_event_refuses_publish_without_new_times(client):
    ana, org = await _organizer_with_org(client)
    event = await published_event(client, org, ana)
    await _post(client, event, "postpone", ana)
    assert_problem(
        await _post(client, event, "publish", ana), 409, "conflict", detail_contains="starts_at"
    )


async def test_draft_cannot_be_postponed(client):
    ana, org = await _organizer_with_org(client)
    event = await create_event(client, org, ana)
    assert_problem(await _post(client, event, "postpone", ana), 409, detail_contains="draft")


async def test_postponing_twice_is_refused(client):
    ana, org = await _organizer_with_org(client)
    event = await published_event(client, org, ana)
    await _post(client, event, "postpone", ana)
    assert_problem(await _post(client, event, "postpone", ana), 409, detail_contains="already")


async def test_cancel_needs_a_reason_and_shows_it(client):
    ana, org = await _organizer_with_org(client)
    event = await published_event(client, org, ana)
    assert_problem(await _post(client, event, "cancel", ana), 400)
    assert_problem(await _post(client, event, "cancel", ana, reason="   "), 400, pointer="#/reason")
    response = await _post(client, event, "cancel", ana, reason="Storm warning")
    assert response.status_code == 200
    cancelled = response.json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancel_reason"] == "Storm warning"
    assert cancelled["sequence"] == event["sequence"] + 1
    public = (await client.get(f"/v1/events/{event['id']}")).json()
    assert public["status"] == "cancelled"


async def test_cancelled_event_refuses_publish(client):
    ana, org = await _organizer_with_org(client)
    event = await published_event(client, org, ana)
    await _post(client, event, "cancel", ana, reason="Permit denied")
    assert_problem(
        await _post(client, event, "publish", ana), 409, "conflict", detail_contains="final"
    )


async def test_cancelled_event_refuses_postpone_cancel_and_edits(client):
    ana, org = await _organizer_with_org(client)
    event = await published_event(client, org, ana)
    await _post(client, event, "cancel", ana, reason="Permit denied")
    assert_problem(await _post(client, event, "postpone", ana), 409, detail_contains="final")
    assert_problem(
        await _post(client, event, "cancel", ana, reason="again"), 409, detail_contains="final"
    )
    response = await client.patch(
        f"/v1/events/{event['id']}", json={"title": {"en": "New"}}, headers=ana.headers
    )
    assert_problem(response, 409, detail_contains="final")


async def test_postponed_event_can_be_cancelled(client):
    ana, org = await _organizer_with_org(client)
    event = await published_event(client, org, ana)
    await _post(client, event, "postpone", ana)
    response = await _post(client, event, "cancel", ana, reason="Not happening after all")
    assert response.json()["status"] == "cancelled"


async def test_draft_is_deleted_not_cancelled(client):
    ana, org = await _organizer_with_org(client)
    event = await create_event(client, org, ana)
    assert_problem(
        await _post(client, event, "cancel", ana, reason="x"), 409, detail_contains="delete"
    )
    response = await client.delete(f"/v1/events/{event['id']}", headers=ana.headers)
    assert response.status_code == 204
    assert_problem(await client.get(f"/v1/events/{event['id']}", headers=ana.headers), 404)


async def test_published_event_cannot_be_deleted(client):
    ana, org = await _organizer_with_org(client)
    event = await published_event(client, org, ana)
    response = await client.delete(f"/v1/events/{event['id']}", headers=ana.headers)
    assert_problem(response, 409, "conflict", detail_contains="cancel it instead")
    assert (await client.get(f"/v1/events/{event['id']}")).status_code == 200


async def test_cancelled_event_cannot_be_deleted(client):
    ana, org = await _organizer_with_org(client)
    event = await published_event(client, org, ana)
    await _post(client, event, "cancel", ana, reason="Permit denied")
    response = await client.delete(f"/v1/events/{event['id']}", headers=ana.headers)
    assert_problem(response, 409, detail_contains="never deleted")


async def test_members_of_the_org_cannot_change_the_event(client):
    ana, org = await _organizer_with_org(client)
    member = await sign_up(client, "Carla")
    await join(client, org, ana, member, "member")
    event = await published_event(client, org, ana)
    assert_problem(await _post(client, event, "postpone", member), 403)
    response = await client.patch(
        f"/v1/events/{event['id']}", json={"capacity": 5}, headers=member.headers
    )
    assert_problem(response, 403)
    response = await client.post(f"/v1/events/{event['id']}/cancel", json={"reason": "x"})
    assert_problem(response, 401)


async def test_other_orgs_organizers_cannot_see_or_touch_a_draft(client):
    ana, org = await _organizer_with_org(client)
    event = await create_event(client, org, ana)
    bea = await sign_up(client, "Bea")
    await create_org(client, bea)
    assert_problem(await _post(client, event, "publish", bea), 404)
    response = await client.delete(f"/v1/events/{event['id']}", headers=bea.headers)
    assert_problem(response, 404)


# ---------------------------------------------------------------- edits, sequence, outbox


async def test_calendar_visible_changes_bump_sequence_and_others_only_change_seq(client):
    ana, org = await _organizer_with_org(client)
    event = await published_event(client, org, ana)
    retitled = (
        await client.patch(
            f"/v1/events/{event['id']}",
            json={"title": {"en": "March for families", "es": "Marcha por las familias"}},
            headers=ana.headers,
        )
    ).json()
    assert retitled["sequence"] == event["sequence"] + 1
    assert retitled["change_seq"] > event["change_seq"]
    assert retitled["display"]["title"] == "March for families"

    tagged = (
        await client.patch(
            f"/v1/events/{event['id']}", json={"tags": ["Asylum", "asylum"]}, headers=ana.headers
        )
    ).json()
    assert tagged["tags"] == ["asylum"]
    assert tagged["sequence"] == retitled["sequence"]
    assert tagged["change_seq"] > retitled["change_seq"]

    moved = (
        await client.patch(
            f"/v1/events/{event['id']}",
            json={"venue": {"name": "Parque Teniente Guerrero", "lat": 32.53, "lon": -117.04}},
            headers=ana.headers,
        )
    ).json()
    assert moved["sequence"] == tagged["sequence"] + 1
    assert moved["location"]["name"] == "Parque Teniente Guerrero"
    assert moved["location"]["address"] is None


async def test_a_patch_that_changes_nothing_keeps_the_event_as_it_was(client):
    ana, org = await _organizer_with_org(client)
    event = await published_event(client, org, ana)
    same = (
        await client.patch(f"/v1/events/{event['id']}", json={"kind": "rally"}, headers=ana.headers)
    ).json()
    assert (same["sequence"], same["change_seq"]) == (event["sequence"], event["change_seq"])


async def test_every_change_writes_an_outbox_row_in_the_same_transaction(client, conn):
    ana, org = await _organizer_with_org(client)
    event = await published_event(client, org, ana)
    await client.patch(f"/v1/events/{event['id']}", json={"capacity": 30}, headers=ana.headers)
    await _post(client, event, "cancel", ana, reason="Permit denied")
    draft = await create_event(client, org, ana)
    await client.delete(f"/v1/events/{draft['id']}", headers=ana.headers)
    rows = await conn.fetch(
        "SELECT topic, subject_id::text AS subject, payload FROM outbox WHERE topic LIKE 'event.%' "
        "ORDER BY id"
    )
    assert [(r["topic"], r["subject"]) for r in rows] == [
        ("event.created", event["id"]),
        ("event.updated", event["id"]),
        ("event.updated", event["id"]),
        ("event.cancelled", event["id"]),
        ("event.created", draft["id"]),
        ("event.deleted", draft["id"]),
    ]
    assert rows[3]["payload"]["sequence"] == event["sequence"] + 1


async def test_moving_postponing_and_cancelling_notify_going_and_waitlisted_people(client, conn):
    ana, org = await _organizer_with_org(client)
    event = await published_event(client, org, ana, capacity=1)
    going, waiting, gone = [await sign_up(client, n) for n in ("Dora", "Eli", "Fer")]
    await add_rsvp(conn, event, going)
    await add_rsvp(conn, event, waiting, status="waitlisted")
    await add_rsvp(conn, event, gone, status="cancelled")
    anonymous_rsvp = await add_rsvp(conn, event, None, status="waitlisted", alias="Tía")

    later = in_days(9)
    await client.patch(
        f"/v1/events/{event['id']}",
        json={"starts_at": later.isoformat(), "ends_at": (later + timedelta(hours=1)).isoformat()},
        headers=ana.headers,
    )
    await _post(client, event, "postpone", ana)
    await _post(client, event, "cancel", ana, reason="Permit denied")

    rows = await conn.fetch(
        "SELECT account_id::text AS account_id, rsvp_id, kind, payload FROM notifications "
        "WHERE event_id = $1 ORDER BY created_at, kind",
        UUID(event["id"]),
    )
    by_kind: dict[str, set] = {}
    for r in rows:
        by_kind.setdefault(r["kind"], set()).add(r["account_id"] or r["rsvp_id"])
    expected = {going.id, waiting.id, anonymous_rsvp}
    assert by_kind == {
        "event.moved": expected,
        "event.postponed": expected,
        "event.cancelled": expected,
    }
    cancelled = next(r for r in rows if r["kind"] == "event.cancelled")
    assert cancelled["payload"]["reason"] == "Permit denied"
    assert "Plaza Santa Cecilia" not in str([r["payload"] for r in rows])


async def test_a_title_change_notifies_nobody(client, conn):
    ana, org = await _organizer_with_org(client)
    event = await published_event(client, org, ana)
    await add_rsvp(conn, event, await sign_up(client, "Dora"))
    await client.patch(
        f"/v1/events/{event['id']}", json={"title": {"en": "Vigil"}}, headers=ana.headers
    )
    assert await conn.fetchval("SELECT count(*) FROM notifications") == 0


# ---------------------------------------------------------------- capacity


async def test_capacity_below_the_places_going_is_refused_with_the_count(client, conn):
    ana, org = await _organizer_with_org(client)
    event = await published_event(client, org, ana, capacity=10)
    await add_rsvp(conn, event, guests=3)
    await add_rsvp(conn, event, guests=1)
    response = await client.patch(
        f"/v1/events/{event['id']}", json={"capacity": 5}, headers=ana.headers
    )
    assert_problem(
        response, 409, "conflict", pointer="#/capacity", detail_contains="6 places are going"
    )
    ok = await client.patch(f"/v1/events/{event['id']}", json={"capacity": 6}, headers=ana.headers)
    assert ok.json()["counts"] == {
        "going": 6,
        "waitlisted": 0,
        "spots_left": 0,
        "language_needs": {},
    }


async def test_raising_capacity_promotes_the_waitlist_in_arrival_order(client, conn):
    ana, org = await _organizer_with_org(client)
    event = await published_event(client, org, ana, capacity=2)
    await add_rsvp(conn, event, guests=1)
    first = await add_rsvp(conn, event, status="waitlisted", guests=1)
    second = await add_rsvp(conn, event, status="waitlisted")
    response = await client.patch(
        f"/v1/events/{event['id']}", json={"capacity": 4}, headers=ana.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["counts"]["going"] == 4
    assert response.json()["counts"]["waitlisted"] == 1
    statuses = {r["id"]: r["status"] for r in await conn.fetch("SELECT id, status FROM rsvps")}
    assert statuses[first] == "going"
    assert statuses[second] == "waitlisted"


async def test_removing_the_capacity_admits_everyone_waiting(client, conn):
    ana, org = await _organizer_with_org(client)
    event = await published_event(client, org, ana, capacity=1)
    await add_rsvp(conn, event)
    await add_rsvp(conn, event, status="waitlisted", guests=4)
    response = await client.patch(
        f"/v1/events/{event['id']}", json={"capacity": None}, headers=ana.headers
    )
    counts = response.json()["counts"]
    assert counts == {"going": 6, "waitlisted": 0, "spots_left": None, "language_needs": {}}


# ---------------------------------------------------------------- counts and languages


async def test_counts_show_places_and_language_needs_but_no_attendee(client, conn):
    ana, org = await _organizer_with_org(client)
    event = await published_event(client, org, ana, capacity=40)
    await add_rsvp(conn, event, alias="Abuela Rosa", guests=3, language_needs=["mam"])
    await add_rsvp(conn, event, alias="Juan K.", language_needs=["Mam", "es"])
    response = await client.get(f"/v1/events/{event['id']}")
    body = response.json()
    # the one person who needs Spanish is left out of what the public sees
    assert body["counts"] == {
        "going": 5,
        "waitlisted": 0,
        "spots_left": 35,
        "language_needs": {"mam": 5},
    }
    mine = (await client.get(f"/v1/events/{event['id']}", headers=ana.headers)).json()
    assert mine["counts"]["language_needs"] == {"mam": 5, "es": 1}
    for text in (response.text, (await client.get("/v1/events")).text):
        for alias in ("Abuela Rosa", "Juan K."):
            assert alias not in text


async def test_spots_left_is_zero_while_a_group_waits_for_a_free_place(client, conn):
    ana, org = await _organizer_with_org(client)
    event = await published_event(client, org, ana, capacity=4)
    await add_rsvp(conn, event, guests=2)
    await add_rsvp(conn, event, status="waitlisted", guests=2)
    listed = (await client.get("/v1/events")).json()["items"]
    shown = (await client.get(f"/v1/events/{event['id']}")).json()
    for counts in (listed[0]["counts"], shown["counts"]):
        # one place is free, but it is held for the group of 3 first in line
        assert (counts["going"], counts["waitlisted"], counts["spots_left"]) == (3, 3, 0)


async def test_hidden_counts_are_shown_to_organizers_only(client, conn):
    ana, org = await _organizer_with_org(client)
    event = await published_event(client, org, ana, capacity=40, hide_counts=True)
    await add_rsvp(conn, event)
    assert (await client.get(f"/v1/events/{event['id']}")).json()["counts"] is None
    listed = (await client.get("/v1/events")).json()["items"]
    assert listed[0]["counts"] is None
    mine = (await client.get(f"/v1/events/{event['id']}", headers=ana.headers)).json()
    assert mine["counts"]["going"] == 1


async def test_display_texts_follow_lang_then_accept_language_then_the_first_language(client):
    ana, org = await _organizer_with_org(client)
    event = await published_event(
        client,
        org,
        ana,
        title={"es": "Vigilia", "en": "Vigil"},
        summary={"es": "Con velas", "en": "With candles"},
    )
    url = f"/v1/events/{event['id']}"
    assert event["languages"] == ["es", "en"]
    assert (await client.get(url)).json()["display"] == {
        "lang": "es",
        "title": "Vigilia",
        "summary": "Con velas",
        "description": "",
    }
    english = await client.get(url, headers={"Accept-Language": "en-US,en;q=0.9"})
    assert english.json()["display"]["title"] == "Vigil"
    chosen = await client.get(url, params={"lang": "es"}, headers={"Accept-Language": "en"})
    assert chosen.json()["display"]["lang"] == "es"
    unknown = await client.get(url, params={"lang": "fr"})
    assert unknown.json()["display"]["title"] == "Vigilia"


async def test_languages_list_the_event_languages_first(client):
    ana, org = await _organizer_with_org(client)
    event = await create_event(client, org, ana, languages=["mam", "es"])
    assert event["languages"] == ["mam", "es", "en"]
    assert event["display"]["lang"] == "mam"
    assert event["display"]["title"] == "Rally"  # no Mam title: any given text


# ---------------------------------------------------------------- bad input


async def _create(client, org, by, **overrides):
    return await client.post(
        f"/v1/orgs/{org['slug']}/events", json=event_body(**overrides), headers=by.headers
    )


async def test_an_event_that_ends_before_it_starts_is_refused(client):
    ana, org = await _organizer_with_org(client)
    starts = in_days(3)
    response = await _create(
        client, org, ana, starts_at=starts, ends_at=starts - timedelta(hours=1)
    )
    assert_problem(response, 422, "rule-violation", pointer="#/ends_at")


async def test_an_unknown_timezone_is_refused(client):
    ana, org = await _organizer_with_org(client)
    response = await _create(client, org, ana, timezone="America/Atlantis")
    assert_problem(response, 422, "rule-violation", pointer="#/timezone")


async def test_a_latitude_out_of_range_is_refused(client):
    ana, org = await _organizer_with_org(client)
    response = await _create(client, org, ana, venue={"name": "X", "lat": 91, "lon": 0})
    assert_problem(response, 400, "invalid-request", pointer="#/venue/lat")
    response = await _create(client, org, ana, venue={"name": "X", "lat": 0, "lon": -180.5})
    assert_problem(response, 400, "invalid-request", pointer="#/venue/lon")


async def test_half_a_coordinate_is_refused(client):
    ana, org = await _organizer_with_org(client)
    response = await _create(client, org, ana, venue={"name": "X", "lat": 32.5})
    assert_problem(response, 422, "rule-violation", pointer="#/venue/lon")


async def test_a_negative_capacity_is_refused(client):
    ana, org = await _organizer_with_org(client)
    response = await _create(client, org, ana, capacity=-1)
    assert_problem(response, 400, "invalid-request", pointer="#/capacity")
    event = await create_event(client, org, ana)
    response = await client.patch(
        f"/v1/events/{event['id']}", json={"capacity": -5}, headers=ana.headers
    )
    assert_problem(response, 400, pointer="#/capacity")


async def test_reveal_at_policy_needs_a_reveal_time_and_only_it_may_have_one(client):
    ana, org = await _organizer_with_org(client)
    response = await _create(client, org, ana, location_policy="reveal_at")
    assert_problem(response, 422, "rule-violation", pointer="#/reveal_at")
    response = await _create(client, org, ana, location_policy="public", reveal_at=in_days(6))
    assert_problem(response, 422, "rule-violation", pointer="#/reveal_at")


async def test_a_protected_location_needs_a_public_area(client):
    ana, org = await _organizer_with_org(client)
    response = await _create(client, org, ana, location_policy="attendees", area=None)
    assert_problem(response, 422, pointer="#/area")


async def test_times_without_an_offset_are_refused(client):
    ana, org = await _organizer_with_org(client)
    response = await _create(client, org, ana, starts_at="2027-01-10T10:00:00")
    assert_problem(response, 400, "invalid-request", pointer="#/starts_at")


async def test_unknown_fields_and_kinds_are_refused(client):
    ana, org = await _organizer_with_org(client)
    assert_problem(await _create(client, org, ana, legal_name="x"), 400, pointer="#/legal_name")
    assert_problem(await _create(client, org, ana, kind="party"), 400, pointer="#/kind")


async def test_a_patch_is_checked_against_the_whole_event(client):
    ana, org = await _organizer_with_org(client)
    event = await create_event(client, org, ana)
    response = await client.patch(
        f"/v1/events/{event['id']}",
        json={"ends_at": event["starts_at"]},
        headers=ana.headers,
    )
    assert_problem(response, 422, pointer="#/ends_at")
    response = await client.patch(
        f"/v1/events/{event['id']}", json={"timezone": "Mars/Olympus"}, headers=ana.headers
    )
    assert_problem(response, 422, pointer="#/timezone")


async def test_an_event_in_an_unknown_org_is_not_found(client):
    ana = await sign_up(client, "Ana")
    response = await client.post(
        "/v1/orgs/no-such-org/events", json=event_body(), headers=ana.headers
    )
    assert_problem(response, 404)
