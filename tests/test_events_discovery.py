"""Discovery: GET /v1/events and GET /v1/orgs/{slug}/events, each filter with a known answer."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.cohost_helpers import cohost
from tests.events_helpers import create_event, in_days, published_event
from tests.people import create_org, join, sign_up
from tests.problems import assert_problem


@pytest.fixture
async def ana(client):
    return await sign_up(client, "Ana")


@pytest.fixture
async def org(client, ana):
    return await create_org(client, ana, "frontera")


def _venue(lat, lon, name="Plaza"):
    return {"name": name, "lat": lat, "lon": lon}


async def _titles(client, headers=None, **params):
    response = await client.get("/v1/events", params=params, headers=headers or {})
    assert response.status_code == 200, response.text
    return [e["title"]["en"] for e in response.json()["items"]]


async def test_upcoming_public_events_are_listed_by_start_time(client, ana, org):
    await published_event(
        client, org, ana, title={"en": "Later"}, starts_at=in_days(9), ends_at=in_days(9, 19)
    )
    await published_event(
        client, org, ana, title={"en": "Sooner"}, starts_at=in_days(2), ends_at=in_days(2, 19)
    )
    await create_event(client, org, ana, title={"en": "Draft"})
    past = in_days(-3)
    await published_event(
        client, org, ana, title={"en": "Past"}, starts_at=past, ends_at=past + timedelta(hours=2)
    )
    assert await _titles(client) == ["Sooner", "Later"]


async def test_an_event_still_going_on_is_listed(client, ana, org, conn):
    event = await published_event(client, org, ana, title={"en": "Encampment"})
    await conn.execute(
        "UPDATE events SET starts_at = now() - interval '1 day', ends_at = now() + interval '1 day' "
        "WHERE id = $1::uuid",
        event["id"],
    )
    assert await _titles(client) == ["Encampment"]


async def test_near_returns_events_within_the_radius_nearest_first_with_distances(client, ana, org):
    await published_event(client, org, ana, title={"en": "Far"}, venue=_venue(33.0, -117.0))
    await published_event(client, org, ana, title={"en": "Here"}, venue=_venue(32.5, -117.0))
    await published_event(client, org, ana, title={"en": "Near"}, venue=_venue(32.6, -117.0))
    await published_event(client, org, ana, title={"en": "CDMX"}, venue=_venue(19.43, -99.13))
    await published_event(
        client,
        org,
        ana,
        title={"en": "Online"},
        venue=None,
        virtual_url="https://meet.example.org/a",
    )

    response = await client.get("/v1/events", params={"near": "32.5,-117.0", "radius_km": 60})
    items = response.json()["items"]
    assert [(e["title"]["en"], e["distance_km"]) for e in items] == [
        ("Here", 0.0),
        ("Near", pytest.approx(11.12, abs=0.01)),
        ("Far", pytest.approx(55.6, abs=0.05)),
    ]
    assert await _titles(client, near="32.5,-117.0", radius_km=20) == ["Here", "Near"]
    no_distance = (await client.get("/v1/events")).json()["items"]
    assert {e["distance_km"] for e in no_distance} == {None}


async def test_near_works_across_the_antimeridian(client, ana, org):
    await published_event(
        client, org, ana, title={"en": "Fiji"}, timezone="Pacific/Fiji", venue=_venue(-17.7, 179.9)
    )
    await published_event(
        client,
        org,
        ana,
        title={"en": "Samoa side"},
        timezone="Pacific/Fiji",
        venue=_venue(-17.7, -179.9),
    )
    assert sorted(await _titles(client, near="-17.7,179.95", radius_km=50)) == [
        "Fiji",
        "Samoa side",
    ]


async def test_q_searches_every_language_of_title_summary_and_description(client, ana, org):
    await published_event(
        client,
        org,
        ana,
        title={"en": "Vigil", "es": "Vigilia"},
        description={"es": "Traigan velas y flores"},
    )
    await published_event(
        client,
        org,
        ana,
        title={"en": "Training", "es": "Taller"},
        summary={"en": "Know your rights"},
    )
    await published_event(client, org, ana, title={"en": "March"})
    assert await _titles(client, q="velas") == ["Vigil"]
    assert await _titles(client, q="VIGILIA") == ["Vigil"]
    assert await _titles(client, q="rights") == ["Training"]
    assert await _titles(client, q="nothing-like-this") == []


async def test_tag_filters_need_every_given_tag(client, ana, org):
    await published_event(client, org, ana, title={"en": "A"}, tags=["asylum", "families"])
    await published_event(client, org, ana, title={"en": "B"}, tags=["asylum"])
    await published_event(client, org, ana, title={"en": "C"}, tags=["Families"])
    assert sorted(await _titles(client, tag="asylum")) == ["A", "B"]
    assert sorted(await _titles(client, tag="families")) == ["A", "C"]
    assert await _titles(client, tag=["asylum", "families"]) == ["A"]


async def test_from_and_to_keep_events_happening_in_the_window(client, ana, org):
    for title, day in (("Day 2", 2), ("Day 5", 5), ("Day 8", 8)):
        await published_event(
            client, org, ana, title={"en": title}, starts_at=in_days(day), ends_at=in_days(day, 19)
        )
    window = {"from": in_days(4).isoformat(), "to": in_days(6).isoformat()}
    assert await _titles(client, **window) == ["Day 5"]
    assert await _titles(client, **{"from": in_days(3).isoformat()}) == ["Day 5", "Day 8"]
    assert await _titles(client, to=in_days(3).isoformat()) == ["Day 2"]


async def test_from_in_the_past_finds_past_events(client, ana, org):
    past = in_days(-10)
    await published_event(
        client, org, ana, title={"en": "Past"}, starts_at=past, ends_at=past + timedelta(hours=1)
    )
    assert await _titles(client) == []
    assert await _titles(client, **{"from": in_days(-30).isoformat()}) == ["Past"]


async def test_kind_filter(client, ana, org):
    await published_event(client, org, ana, title={"en": "Vigil"}, kind="vigil")
    await published_event(client, org, ana, title={"en": "Rally"}, kind="rally")
    await published_event(client, org, ana, title={"en": "Training"}, kind="training")
    assert await _titles(client, kind="vigil") == ["Vigil"]
    assert sorted(await _titles(client, kind=["vigil", "training"])) == ["Training", "Vigil"]


async def test_language_filter_matches_the_events_languages(client, ana, org):
    await published_event(client, org, ana, title={"en": "Bilingual", "es": "Bilingüe"})
    await published_event(client, org, ana, title={"en": "With Mam"}, languages=["mam", "es-MX"])
    await published_event(client, org, ana, title={"en": "English only"})
    assert await _titles(client, language="mam") == ["With Mam"]
    assert sorted(await _titles(client, language="es")) == ["Bilingual", "With Mam"]
    assert await _titles(client, language="ES-mx") == ["With Mam"]


async def test_org_filter_includes_co_hosted_events(client, ana, org):
    bea = await sign_up(client, "Bea")
    other = await create_org(client, bea, "red-cdmx")
    await published_event(client, org, ana, title={"en": "Ours"})
    theirs = await published_event(client, other, bea, title={"en": "Theirs"})
    await published_event(client, other, bea, title={"en": "Theirs alone"})
    await cohost(client, "event", theirs["id"], bea, "frontera", ana)
    assert sorted(await _titles(client, org="frontera")) == ["Ours", "Theirs"]
    assert sorted(await _titles(client, org="red-cdmx")) == ["Theirs", "Theirs alone"]
    assert await _titles(client, org="nobody") == []


async def test_cancelled_events_are_listed_only_on_request(client, ana, org):
    event = await published_event(client, org, ana, title={"en": "Called off"})
    await client.post(
        f"/v1/events/{event['id']}/cancel", json={"reason": "Rain"}, headers=ana.headers
    )
    assert await _titles(client) == []
    assert await _titles(client, include_cancelled="true") == ["Called off"]


async def test_members_only_events_are_listed_only_for_members_of_a_hosting_org(client, ana, org):
    await published_event(client, org, ana, title={"en": "Members"}, visibility="members")
    await published_event(client, org, ana, title={"en": "Public"})
    carla, bea = await sign_up(client, "Carla"), await sign_up(client, "Bea")
    await join(client, org, ana, carla, "member")
    await create_org(client, bea)
    assert await _titles(client) == ["Public"]
    assert await _titles(client, headers=bea.headers) == ["Public"]
    assert sorted(await _titles(client, headers=carla.headers)) == ["Members", "Public"]


async def test_members_only_event_is_a_404_for_outsiders(client, ana, org):
    event = await published_event(client, org, ana, visibility="members")
    bea = await sign_up(client, "Bea")
    assert_problem(await client.get(f"/v1/events/{event['id']}"), 404)
    assert_problem(await client.get(f"/v1/events/{event['id']}", headers=bea.headers), 404)


async def test_private_events_are_never_listed_and_reached_only_by_share_link(client, ana, org):
    carla = await sign_up(client, "Carla")
    await join(client, org, ana, carla, "member")
    event = await published_event(client, org, ana, title={"en": "Private"}, visibility="private")
    assert event["share_url"].startswith("http://127.0.0.1:8000/v1/events/shared/")
    token = event["share_url"].rsplit("/", 1)[1]
    assert len(token) >= 43  # 256 bits
    for headers in ({}, carla.headers):
        assert await _titles(client, headers=headers) == []
        org_list = await client.get("/v1/orgs/frontera/events", headers=headers)
        assert org_list.json()["items"] == []
        assert_problem(await client.get(f"/v1/events/{event['id']}", headers=headers), 404)
    shared = await client.get(f"/v1/events/shared/{token}")
    assert shared.status_code == 200
    assert shared.json()["id"] == event["id"]
    assert shared.json()["share_url"] is None
    assert_problem(await client.get(f"/v1/events/shared/{token[:-1]}x"), 404)


async def test_share_link_is_stored_only_as_a_hash_and_rotation_kills_the_old_one(
    client, ana, org, conn
):
    event = await published_event(client, org, ana, visibility="private")
    token = event["share_url"].rsplit("/", 1)[1]
    stored = await conn.fetchval(
        "SELECT share_token_hash FROM events WHERE id = $1::uuid", event["id"]
    )
    assert token.encode() not in stored and len(stored) == 32
    assert (
        event["share_url"]
        not in (await client.get(f"/v1/events/{event['id']}", headers=ana.headers)).text
    )

    rotated = await client.post(f"/v1/events/{event['id']}/share-link", headers=ana.headers)
    assert rotated.status_code == 200
    new_token = rotated.json()["share_url"].rsplit("/", 1)[1]
    assert new_token != token
    assert_problem(await client.get(f"/v1/events/shared/{token}"), 404)
    assert (await client.get(f"/v1/events/shared/{new_token}")).status_code == 200


async def test_making_an_event_private_returns_a_share_link_once(client, ana, org):
    event = await published_event(client, org, ana, title={"en": "Soon private"})
    response = await client.patch(
        f"/v1/events/{event['id']}", json={"visibility": "private"}, headers=ana.headers
    )
    share_url = response.json()["share_url"]
    assert share_url
    assert await _titles(client) == []
    again = await client.patch(
        f"/v1/events/{event['id']}", json={"capacity": 9}, headers=ana.headers
    )
    assert again.json()["share_url"] is None
    public = await client.patch(
        f"/v1/events/{event['id']}", json={"visibility": "public"}, headers=ana.headers
    )
    assert public.status_code == 200
    assert_problem(await client.get(share_url.split("8000")[1]), 404)


async def test_a_public_event_has_no_share_link_to_rotate(client, ana, org):
    event = await published_event(client, org, ana)
    response = await client.post(f"/v1/events/{event['id']}/share-link", headers=ana.headers)
    assert_problem(response, 409, detail_contains="private")


async def test_a_draft_is_not_reachable_by_its_share_link_until_published(client, ana, org):
    event = await create_event(client, org, ana, visibility="private")
    token = event["share_url"].rsplit("/", 1)[1]
    assert_problem(await client.get(f"/v1/events/shared/{token}"), 404)
    await client.post(f"/v1/events/{event['id']}/publish", headers=ana.headers)
    assert (await client.get(f"/v1/events/shared/{token}")).status_code == 200


async def test_pages_follow_a_cursor_and_a_link_header(client, ana, org):
    for day in (1, 2, 3, 4, 5):
        await published_event(
            client,
            org,
            ana,
            title={"en": f"Day {day}"},
            starts_at=in_days(day),
            ends_at=in_days(day, 19),
        )
    first = await client.get("/v1/events", params={"limit": 2, "kind": "rally"})
    body = first.json()
    assert [e["title"]["en"] for e in body["items"]] == ["Day 1", "Day 2"]
    assert body["next_cursor"]
    link = first.headers["link"]
    assert 'rel="next"' in link and "kind=rally" in link
    url = link.split(">")[0].lstrip("<")
    second = (await client.get(url)).json()
    assert [e["title"]["en"] for e in second["items"]] == ["Day 3", "Day 4"]
    third = (
        await client.get("/v1/events", params={"limit": 2, "cursor": second["next_cursor"]})
    ).json()
    assert [e["title"]["en"] for e in third["items"]] == ["Day 5"]
    assert third["next_cursor"] is None


async def test_pages_by_distance_follow_a_cursor(client, ana, org):
    for km10 in (0, 1, 2, 3):
        await published_event(
            client,
            org,
            ana,
            title={"en": f"{km10 * 10} km"},
            venue=_venue(32.5 + km10 * 0.09, -117.0),
        )
    params = {"near": "32.5,-117.0", "radius_km": 100, "limit": 3}
    first = (await client.get("/v1/events", params=params)).json()
    assert [e["title"]["en"] for e in first["items"]] == ["0 km", "10 km", "20 km"]
    second = (
        await client.get("/v1/events", params={**params, "cursor": first["next_cursor"]})
    ).json()
    assert [e["title"]["en"] for e in second["items"]] == ["30 km"]


async def test_distance_pages_are_exact_however_far_apart_the_events_are(client, ana, org):
    """Pages by distance are looked for in widening rings (api/services/event_search.py): walked
    two at a time, they still list every event inside the radius once, nearest first."""
    distances = [140, 0.3, 33, 1.5, 9, 2.5, 70, 4, 17, 160]  # 160 km lies outside
    for km in distances:
        await published_event(
            client, org, ana, title={"en": f"{km} km"}, venue=_venue(32.5 + km / 111.19, -117.0)
        )
    params = {"near": "32.5,-117.0", "radius_km": 150, "limit": 2}
    seen, cursor = [], None
    while True:
        page_params = {**params, "cursor": cursor} if cursor else params
        response = await client.get("/v1/events", params=page_params)
        body = response.json()
        assert response.status_code == 200, body
        assert len(body["items"]) <= 2
        seen += [e["title"]["en"] for e in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"{km} km" for km in sorted(distances) if km <= 150]


async def test_unchanged_lists_answer_304_to_if_none_match(client, ana, org):
    event = await published_event(client, org, ana)
    first = await client.get("/v1/events")
    etag = first.headers["etag"]
    again = await client.get("/v1/events", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    await client.patch(
        f"/v1/events/{event['id']}", json={"title": {"en": "Renamed"}}, headers=ana.headers
    )
    changed = await client.get("/v1/events", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag


async def test_near_without_a_radius_is_refused(client):
    response = await client.get("/v1/events", params={"near": "32.5,-117"})
    assert_problem(response, 422, "rule-violation", pointer="#/query/radius_km")


async def test_near_out_of_range_or_malformed_is_refused(client):
    for near in ("91,0", "0,181", "abc", "1,2,3", "nan,1"):
        response = await client.get("/v1/events", params={"near": near, "radius_km": 5})
        assert_problem(response, 400, "invalid-request", pointer="#/query/near")


async def test_a_radius_must_be_positive(client):
    response = await client.get("/v1/events", params={"near": "32.5,-117", "radius_km": -1})
    assert_problem(response, 400, "invalid-request", pointer="#/query/radius_km")


async def test_from_after_to_is_refused(client):
    response = await client.get(
        "/v1/events", params={"from": in_days(5).isoformat(), "to": in_days(1).isoformat()}
    )
    assert_problem(response, 422, "rule-violation", pointer="#/query/to")


async def test_unknown_kinds_and_bad_cursors_are_refused(client):
    assert_problem(
        await client.get("/v1/events", params={"kind": "party"}), 400, pointer="#/query/kind"
    )
    assert_problem(
        await client.get("/v1/events", params={"cursor": "nonsense"}), 400, pointer="#/query/cursor"
    )


async def test_org_list_shows_members_only_events_to_members_and_drafts_to_organizers(
    client, ana, org
):
    await published_event(
        client, org, ana, title={"en": "Public"}, starts_at=in_days(1), ends_at=in_days(1, 19)
    )
    await published_event(
        client,
        org,
        ana,
        title={"en": "Members"},
        visibility="members",
        starts_at=in_days(2),
        ends_at=in_days(2, 19),
    )
    await create_event(
        client, org, ana, title={"en": "Draft"}, starts_at=in_days(3), ends_at=in_days(3, 19)
    )
    await published_event(
        client,
        org,
        ana,
        title={"en": "Private"},
        visibility="private",
        starts_at=in_days(4),
        ends_at=in_days(4, 19),
    )
    carla = await sign_up(client, "Carla")
    await join(client, org, ana, carla, "member")

    async def org_titles(headers):
        response = await client.get("/v1/orgs/frontera/events", headers=headers)
        assert response.status_code == 200
        return [e["title"]["en"] for e in response.json()["items"]]

    assert await org_titles({}) == ["Public"]
    assert await org_titles(carla.headers) == ["Public", "Members"]
    assert await org_titles(ana.headers) == ["Public", "Members", "Draft", "Private"]


async def test_org_list_of_an_unknown_org_is_not_found(client):
    assert_problem(await client.get("/v1/orgs/nobody-here/events"), 404)


async def test_demo_events_are_upcoming_published_and_some_protect_their_place(client, conn):
    from uuid import UUID

    from demo.events import load_demo_events

    owner = await sign_up(client, "Demo")
    for slug in ("frontera-unida", "red-de-apoyo-cdmx", "la-rights-network", "acogida-madrid"):
        await create_org(client, owner, slug)
    count = await load_demo_events(conn, UUID(owner.id))
    items = (await client.get("/v1/events", params={"limit": 50})).json()["items"]
    assert len(items) == count == 10
    assert {e["status"] for e in items} == {"published"}
    assert {e["location"]["precision"] for e in items} == {"exact", "area"}
    assert all(len(e["title"]) >= 2 for e in items)
    spanish = await client.get("/v1/events", params={"q": "asilo"})
    assert len(spanish.json()["items"]) == 2


async def test_times_without_an_offset_are_refused_in_filters(client):
    response = await client.get("/v1/events", params={"from": "2030-01-01T10:00:00"})
    assert_problem(response, 400, "invalid-request", pointer="#/query/from")
    response = await client.get("/v1/orgs/frontera/events", params={"to": "2030-01-01T10:00:00"})
    assert_problem(response, 400, "invalid-request", pointer="#/query/to")


@pytest.mark.parametrize("radius_km", ["5e-324", "1e-300", "0.001", "20000"])
async def test_tiny_and_huge_radii_answer(client, ana, org, radius_km):
    await published_event(client, org, ana, title={"en": "Here"}, venue=_venue(32.5, -117.0))
    response = await client.get(
        "/v1/events", params={"near": "32.5,-117.0", "radius_km": radius_km}
    )
    assert response.status_code == 200, response.text
    assert [e["title"]["en"] for e in response.json()["items"]] == ["Here"]
