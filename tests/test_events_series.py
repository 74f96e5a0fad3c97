"""Series: weekly vigils and monthly trainings, each occurrence a real event."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.events_helpers import add_rsvp, event_body
from tests.people import create_org, sign_up
from tests.problems import assert_problem

LA = ZoneInfo("America/Los_Angeles")


@pytest.fixture
async def ana(client):
    return await sign_up(client, "Ana")


@pytest.fixture
async def org(client, ana):
    return await create_org(client, ana, "la-rights")


def _vigil(**overrides):
    # a Tuesday evening in October; US daylight saving time ends on Sunday 3 November 2030
    starts = datetime(2030, 10, 22, 18, 0, tzinfo=LA)
    fields = {
        "kind": "vigil",
        "title": {"en": "Tuesday vigil", "es": "Vigilia de los martes"},
        "timezone": "America/Los_Angeles",
        "starts_at": starts,
        "ends_at": starts.replace(hour=19, minute=30),
        "venue": {"name": "Placita Olvera", "lat": 34.0573, "lon": -118.2376},
        "area": "Downtown LA",
    }
    return event_body(**{**fields, **overrides})


async def _series(client, org, by, **body):
    response = await client.post(
        f"/v1/orgs/{org['slug']}/series",
        json={"template": _vigil(), "frequency": "weekly", "count": 4, **body},
        headers=by.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


def _local(occurrence, key="starts_at"):
    return datetime.fromisoformat(occurrence[key]).astimezone(LA)


async def test_weekly_series_keeps_the_local_time_across_daylight_saving(client, ana, org):
    series = await _series(client, org, ana, publish=True)
    occurrences = series["occurrences"]
    assert [o["series_index"] for o in occurrences] == [1, 2, 3, 4]
    assert [_local(o).strftime("%a %d %b %H:%M") for o in occurrences] == [
        "Tue 22 Oct 18:00",
        "Tue 29 Oct 18:00",
        "Tue 05 Nov 18:00",
        "Tue 12 Nov 18:00",
    ]
    assert [o["starts_at"][11:16] for o in occurrences] == ["01:00", "01:00", "02:00", "02:00"]
    assert {_local(o, "ends_at").strftime("%H:%M") for o in occurrences} == {"19:30"}
    assert {o["status"] for o in occurrences} == {"published"}
    assert {o["series_id"] for o in occurrences} == {series["id"]}
    listed = await client.get(
        "/v1/events", params={"from": "2030-10-01T00:00:00Z", "org": "la-rights"}
    )
    assert [e["series_index"] for e in listed.json()["items"]] == [1, 2, 3, 4]


async def test_series_occurrences_are_drafts_unless_published(client, ana, org):
    series = await _series(client, org, ana)
    assert {o["status"] for o in series["occurrences"]} == {"draft"}
    assert_problem(await client.get(f"/v1/series/{series['id']}"), 404)
    mine = await client.get(f"/v1/series/{series['id']}", headers=ana.headers)
    assert len(mine.json()["occurrences"]) == 4


async def test_monthly_series_until_a_date_uses_the_last_day_of_short_months(client, ana, org):
    starts = datetime(2031, 1, 31, 10, 0, tzinfo=LA)
    template = _vigil(kind="training", starts_at=starts, ends_at=starts.replace(hour=12))
    response = await client.post(
        "/v1/orgs/la-rights/series",
        json={
            "template": template,
            "frequency": "monthly",
            "until_date": "2031-04-30",
            "publish": True,
        },
        headers=ana.headers,
    )
    assert response.status_code == 201, response.text
    series = response.json()
    assert series["until_date"] == "2031-04-30" and series["count"] is None
    assert [_local(o).strftime("%d %b %H:%M") for o in series["occurrences"]] == [
        "31 Jan 10:00",
        "28 Feb 10:00",
        "31 Mar 10:00",
        "30 Apr 10:00",
    ]


async def test_every_other_week_until_a_date(client, ana, org):
    series = await _series(client, org, ana, interval=2, count=None, until_date="2030-11-30")
    assert [_local(o).strftime("%d %b") for o in series["occurrences"]] == [
        "22 Oct",
        "05 Nov",
        "19 Nov",
    ]


async def test_the_series_view_shows_the_rule_and_the_visible_occurrences(client, ana, org):
    series = await _series(client, org, ana, publish=True)
    response = await client.get(f"/v1/series/{series['id']}", headers={"Accept-Language": "es"})
    body = response.json()
    assert (body["frequency"], body["interval"], body["count"]) == ("weekly", 1, 4)
    assert body["org"] == "la-rights" and body["timezone"] == "America/Los_Angeles"
    assert [o["display"]["title"] for o in body["occurrences"]] == ["Vigilia de los martes"] * 4


async def test_editing_this_and_following_changes_later_occurrences_only(client, ana, org):
    series = await _series(client, org, ana, publish=True)
    second = series["occurrences"][1]
    new_start = _local(second).replace(hour=19)
    response = await client.patch(
        f"/v1/series/{series['id']}/occurrences/2",
        params={"scope": "this_and_following"},
        json={
            "title": {"en": "Tuesday vigil (new time)"},
            "starts_at": new_start.isoformat(),
            "ends_at": new_start.replace(hour=20).isoformat(),
            "capacity": 50,
        },
        headers=ana.headers,
    )
    assert response.status_code == 200, response.text
    occurrences = response.json()["occurrences"]
    assert [o["title"]["en"] for o in occurrences] == [
        "Tuesday vigil",
        "Tuesday vigil (new time)",
        "Tuesday vigil (new time)",
        "Tuesday vigil (new time)",
    ]
    assert [_local(o).strftime("%d %b %H:%M") for o in occurrences] == [
        "22 Oct 18:00",
        "29 Oct 19:00",
        "05 Nov 19:00",
        "12 Nov 19:00",
    ]
    assert [_local(o, "ends_at").strftime("%H:%M") for o in occurrences] == [
        "19:30",
        "20:00",
        "20:00",
        "20:00",
    ]
    assert [o["capacity"] for o in occurrences] == [None, 50, 50, 50]
    assert occurrences[0]["sequence"] == series["occurrences"][0]["sequence"]
    before = [o["sequence"] for o in series["occurrences"]]
    assert [o["sequence"] for o in occurrences] == [before[0]] + [s + 1 for s in before[1:]]


async def test_editing_only_this_occurrence_leaves_the_others(client, ana, org):
    series = await _series(client, org, ana, publish=True)
    response = await client.patch(
        f"/v1/series/{series['id']}/occurrences/3",
        json={"venue": {"name": "City Hall steps", "lat": 34.0537, "lon": -118.2428}},
        headers=ana.headers,
    )
    names = [o["location"]["name"] for o in response.json()["occurrences"]]
    assert names == ["Placita Olvera", "Placita Olvera", "City Hall steps", "Placita Olvera"]


async def test_one_occurrence_is_cancelled_alone_and_skipped_by_later_edits(client, ana, org):
    series = await _series(client, org, ana, publish=True)
    third = series["occurrences"][2]
    cancelled = await client.post(
        f"/v1/events/{third['id']}/cancel", json={"reason": "Holiday"}, headers=ana.headers
    )
    assert cancelled.status_code == 200
    response = await client.patch(
        f"/v1/series/{series['id']}/occurrences/1",
        params={"scope": "this_and_following"},
        json={"description": {"en": "Bring candles"}},
        headers=ana.headers,
    )
    occurrences = response.json()["occurrences"]
    assert [o["status"] for o in occurrences] == [
        "published",
        "published",
        "cancelled",
        "published",
    ]
    assert [o["description"] for o in occurrences] == [
        {"en": "Bring candles"},
        {"en": "Bring candles"},
        {},
        {"en": "Bring candles"},
    ]
    listed = await client.get("/v1/events", params={"from": "2030-10-01T00:00:00Z"})
    assert [e["series_index"] for e in listed.json()["items"]] == [1, 2, 4]


async def test_a_refused_edit_of_one_later_occurrence_changes_none(client, ana, org, conn):
    series = await _series(client, org, ana, publish=True, template=_vigil(capacity=10))
    await add_rsvp(conn, series["occurrences"][3], guests=7)
    response = await client.patch(
        f"/v1/series/{series['id']}/occurrences/2",
        params={"scope": "this_and_following"},
        json={"capacity": 5},
        headers=ana.headers,
    )
    assert_problem(response, 409, detail_contains="8 places are going")
    now = (await client.get(f"/v1/series/{series['id']}")).json()["occurrences"]
    assert [o["capacity"] for o in now] == [10, 10, 10, 10]


async def test_reveal_times_follow_each_occurrence(client, ana, org):
    template = _vigil(
        location_policy="reveal_at",
        reveal_at=datetime(2030, 10, 22, 12, 0, tzinfo=LA).isoformat(),
    )
    series = await _series(client, org, ana, template=template, publish=True)
    reveals = [datetime.fromisoformat(o["reveal_at"]) for o in series["occurrences"]]
    starts = [datetime.fromisoformat(o["starts_at"]) for o in series["occurrences"]]
    assert {str(s - r) for s, r in zip(starts, reveals, strict=True)} == {"6:00:00"}
    assert {
        o["location"]["precision"]
        for o in (await client.get(f"/v1/series/{series['id']}")).json()["occurrences"]
    } == {"area"}


async def test_series_bad_input_is_refused(client, ana, org):
    url = "/v1/orgs/la-rights/series"

    async def post(**body):
        return await client.post(url, json=body, headers=ana.headers)

    assert_problem(await post(template=_vigil(), frequency="weekly"), 422, pointer="#/count")
    assert_problem(
        await post(template=_vigil(), frequency="weekly", count=201), 400, pointer="#/count"
    )
    assert_problem(
        await post(template=_vigil(), frequency="daily", count=2), 400, pointer="#/frequency"
    )
    assert_problem(
        await post(template=_vigil(), frequency="weekly", until_date="2030-01-01"),
        422,
        pointer="#/until_date",
    )
    assert_problem(
        await post(template=_vigil(), frequency="weekly", until_date="2040-01-01"),
        422,
        pointer="#/until_date",
        detail_contains="at most 200",
    )
    broken = _vigil(ends_at=_vigil()["starts_at"])
    assert_problem(
        await post(template=broken, frequency="weekly", count=2), 422, pointer="#/template/ends_at"
    )
    assert_problem(
        await post(template=_vigil(timezone="Nowhere/Land"), frequency="weekly", count=2),
        422,
        pointer="#/template/timezone",
    )


async def test_only_organizers_create_and_edit_series(client, ana, org):
    bea = await sign_up(client, "Bea")
    response = await client.post(
        "/v1/orgs/la-rights/series",
        json={"template": _vigil(), "frequency": "weekly", "count": 2},
        headers=bea.headers,
    )
    assert_problem(response, 403)
    series = await _series(client, org, ana, publish=True)
    response = await client.patch(
        f"/v1/series/{series['id']}/occurrences/1",
        json={"title": {"en": "Mine now"}},
        headers=bea.headers,
    )
    assert_problem(response, 403)
    missing = await client.patch(
        f"/v1/series/{series['id']}/occurrences/9", json={}, headers=ana.headers
    )
    assert_problem(missing, 404)
