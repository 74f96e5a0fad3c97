"""Matching with known geometry: offers and requests at known great-circle distances, ranked by
distance then time fit, with distances within 0.5% of an independent haversine."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.people import sign_up
from tests.problems import assert_problem
from tests.rides_helpers import booked, haversine_km, offer_ride, ride_world

# Where the rider stands; the offers' pickups lie on the ~2 km grid, so their area points are
# exactly these coordinates.
HOME = (32.5149, -117.0382)
POINTS = {
    "near": (32.52, -117.04),  # ~0.6 km
    "east": (32.52, -116.96),  # ~7.3 km
    "north": (32.64, -117.04),  # ~13.9 km
    "far": (32.80, -117.20),  # ~35 km, outside a 20 km radius
}


def _pickup(lat: float, lon: float) -> dict:
    return {"address": "Somewhere exact", "lat": lat, "lon": lon}


async def test_offers_come_nearest_first_with_great_circle_distances(client):
    w = await ride_world(client)
    starts = datetime.fromisoformat(w["event"]["starts_at"])
    offers = {}
    drivers = {}
    for name, (lat, lon) in POINTS.items():
        drivers[name] = await sign_up(client, name.title())
        offers[name] = await offer_ride(
            client,
            w["event"],
            drivers[name],
            pickup=_pickup(lat, lon),
            departs_at=starts - timedelta(hours=2),
        )
        assert (offers[name]["area_lat"], offers[name]["area_lon"]) == (lat, lon)
    response = await client.get(
        f"/v1/events/{w['event']['id']}/ride-offers",
        params={"near": f"{HOME[0]},{HOME[1]}", "radius_km": 20},
        headers=w["rider"].headers,
    )
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [i["id"] for i in items] == [offers[n]["id"] for n in ("near", "east", "north")]
    for item, name in zip(items, ("near", "east", "north"), strict=True):
        expected = haversine_km(*HOME, *POINTS[name])
        assert abs(item["distance_km"] - expected) <= 0.005 * expected, (name, item, expected)
    # one degree of latitude along a meridian: 111.19 km on the mean-radius sphere
    wide = await client.get(
        f"/v1/events/{w['event']['id']}/ride-offers",
        params={"near": "31.80,-117.20", "radius_km": 200},
        headers=w["rider"].headers,
    )
    by_id = {i["id"]: i["distance_km"] for i in wide.json()["items"]}
    assert abs(by_id[offers["far"]["id"]] - 111.19) <= 0.005 * 111.19


async def test_same_area_offers_rank_by_time_fit_and_filters_apply(client):
    w = await ride_world(client)
    starts = datetime.fromisoformat(w["event"]["starts_at"])
    early = await offer_ride(
        client,
        w["event"],
        await sign_up(client, "Early"),
        pickup=_pickup(*POINTS["near"]),
        departs_at=starts - timedelta(hours=4),
    )
    late = await offer_ride(
        client,
        w["event"],
        await sign_up(client, "Late"),
        pickup=_pickup(*POINTS["near"]),
        departs_at=starts - timedelta(hours=1),
    )
    small = await offer_ride(
        client,
        w["event"],
        await sign_up(client, "Small"),
        seats=1,
        pickup=_pickup(*POINTS["east"]),
        departs_at=starts - timedelta(hours=2),
    )
    url = f"/v1/events/{w['event']['id']}/ride-offers"
    near = f"{HOME[0]},{HOME[1]}"
    window = {
        "depart_from": (starts - timedelta(hours=5)).isoformat(),
        "depart_to": (starts - timedelta(minutes=30)).isoformat(),
    }
    # window middle: 2h45m before; late is 1h45m off it, early 1h15m
    ranked = await client.get(
        url, params={"near": near, "radius_km": 20, **window}, headers=w["rider"].headers
    )
    assert [i["id"] for i in ranked.json()["items"]] == [early["id"], late["id"], small["id"]]
    # a window ending at 30 minutes before: late is closest to a lone `depart_to`
    lone = await client.get(
        url,
        params={"near": near, "radius_km": 20, "depart_to": window["depart_to"]},
        headers=w["rider"].headers,
    )
    assert [i["id"] for i in lone.json()["items"]] == [late["id"], early["id"], small["id"]]
    two_seats = await client.get(
        url, params={"near": near, "radius_km": 20, "seats": 2}, headers=w["rider"].headers
    )
    assert small["id"] not in [i["id"] for i in two_seats.json()["items"]]
    narrow = await client.get(
        url,
        params={"depart_from": (starts - timedelta(hours=2, minutes=30)).isoformat()},
        headers=w["rider"].headers,
    )
    assert [i["id"] for i in narrow.json()["items"]] == [small["id"], late["id"]]
    paged = await client.get(
        url, params={"near": near, "radius_km": 20, "limit": 2}, headers=w["rider"].headers
    )
    first = paged.json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    assert 'rel="next"' in paged.headers["link"]
    rest = await client.get(
        url,
        params={"near": near, "radius_km": 20, "limit": 2, "cursor": first["next_cursor"]},
        headers=w["rider"].headers,
    )
    assert [i["id"] for i in first["items"] + rest.json()["items"]] == [
        early["id"],
        late["id"],
        small["id"],
    ]
    backwards = await client.get(
        url,
        params={"depart_from": window["depart_to"], "depart_to": window["depart_from"]},
        headers=w["rider"].headers,
    )
    assert_problem(backwards, 422, "rule-violation", pointer="#/query/depart_to")


async def test_a_driver_sees_the_requests_that_fit_nearest_first(client):
    w = await ride_world(client)
    starts = datetime.fromisoformat(w["event"]["starts_at"])
    departs = starts - timedelta(hours=2)
    offer = await offer_ride(
        client, w["event"], w["driver"], seats=2, pickup=_pickup(*HOME), departs_at=departs
    )
    origin = (offer["area_lat"], offer["area_lon"])
    url = f"/v1/events/{w['event']['id']}/ride-requests"

    async def ask(name: str, point: tuple[float, float], **overrides) -> dict:
        body = {
            "seats": 1,
            "area": name,
            "lat": point[0],
            "lon": point[1],
            "earliest_at": (departs - timedelta(hours=1)).isoformat(),
            "latest_at": (departs + timedelta(hours=1)).isoformat(),
        }
        body.update(overrides)
        rider = await sign_up(client, name)
        response = await client.post(url, json=body, headers=rider.headers)
        assert response.status_code == 201, response.text
        return {**response.json(), "rider": rider}

    north = await ask("North", POINTS["north"])
    east = await ask("East", POINTS["east"])
    await ask("Far", POINTS["far"])
    await ask("Crowd", POINTS["near"], seats=3)
    await ask(
        "Tooearly",
        POINTS["near"],
        earliest_at=(departs - timedelta(hours=5)).isoformat(),
        latest_at=(departs - timedelta(hours=3)).isoformat(),
    )
    skewed = await ask(
        "Skewed",
        POINTS["east"],
        earliest_at=(departs - timedelta(minutes=10)).isoformat(),
        latest_at=(departs + timedelta(hours=3)).isoformat(),
    )
    response = await client.get(
        f"/v1/ride-offers/{offer['id']}/matching-requests",
        params={"radius_km": 20},
        headers=w["driver"].headers,
    )
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    # East and Skewed share a grid point: East's window is centred on the departure
    assert [i["id"] for i in items] == [east["id"], skewed["id"], north["id"]]
    for item, point in zip(items, (POINTS["east"], POINTS["east"], POINTS["north"]), strict=True):
        expected = haversine_km(*origin, *point)
        assert abs(item["distance_km"] - expected) <= 0.005 * expected
    assert all(i["is_mine"] is False for i in items)
    # once East books, their request no longer shows as a fit
    await booked(client, offer, east["rider"])
    after = await client.get(
        f"/v1/ride-offers/{offer['id']}/matching-requests",
        params={"radius_km": 20},
        headers=w["driver"].headers,
    )
    assert [i["id"] for i in after.json()["items"]] == [skewed["id"], north["id"]]
    not_driver = await client.get(
        f"/v1/ride-offers/{offer['id']}/matching-requests", headers=w["rider"].headers
    )
    assert_problem(not_driver, 403, "forbidden")
