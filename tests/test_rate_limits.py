"""Abuse limits: sign-ups, logins, RSVPs, ride bookings and public lists per client (a keyed
hash of the address, never the address) or per account; 429 with Retry-After and RateLimit-*;
body-size limits per route; `limit` capped on every list."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from api.app import create_app
from api.services.rate_limits import ROUTE_RULES
from tests.challenge_helpers import LOW_DIFFICULTY, solved
from tests.conftest import SharedConnection, settings_for
from tests.events_helpers import published_event
from tests.people import PASSWORD, create_org, sign_up
from tests.problems import assert_problem
from tests.rides_helpers import book, offer_ride

CLIENT_A = "203.0.113.7"
CLIENT_B = "198.51.100.23"


class Limited:
    """An app with some limits set low, reached from several client addresses."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._clients: dict[str, httpx.AsyncClient] = {}

    def at(self, address: str) -> httpx.AsyncClient:
        if address not in self._clients:
            transport = httpx.ASGITransport(app=self.app, client=(address, 40000))
            self._clients[address] = httpx.AsyncClient(
                transport=transport, base_url="http://testserver"
            )
        return self._clients[address]

    async def forget(self, http: httpx.AsyncClient) -> None:
        """Close one address's client (a test that uses thousands of addresses)."""
        for address, known in list(self._clients.items()):
            if known is http:
                del self._clients[address]
                await http.aclose()

    async def close(self) -> None:
        for http in self._clients.values():
            await http.aclose()


@asynccontextmanager
async def limited(conn: Any, database_url: str, **env: str) -> AsyncIterator[Limited]:
    app = create_app(settings_for(database_url, **env), pool=SharedConnection(conn))
    world = Limited(app)
    try:
        yield world
    finally:
        await world.close()


def assert_rate_headers(response: httpx.Response, limit: int, remaining: int) -> None:
    assert response.headers["ratelimit-limit"] == str(limit), response.headers
    assert response.headers["ratelimit-remaining"] == str(remaining), response.headers
    assert int(response.headers["ratelimit-reset"]) >= 1


def assert_limited(response: httpx.Response, limit: int, window_s: int) -> None:
    assert_problem(response, 429, "rate-limited", detail_contains="try again")
    retry = int(response.headers["retry-after"])
    assert 1 <= retry <= window_s
    assert_rate_headers(response, limit, 0)
    assert response.headers["ratelimit-reset"] == response.headers["retry-after"]


async def _sign_up(http: httpx.AsyncClient, email: str) -> httpx.Response:
    return await http.post(
        "/v1/accounts", json={"email": email, "display_name": "X", "password": PASSWORD}
    )


# ---------------------------------------------------------------- each limit


def assert_challenge_asked(response: httpx.Response) -> None:
    assert_problem(response, 428, "challenge-required", detail_contains="GET /v1/challenges")
    assert "/v1/challenges" in response.headers["link"]
    assert "/v1/challenges/time-lock" in response.headers["link"]


async def test_sign_ups_past_the_threshold_need_a_solved_challenge(conn, database_url):
    async with limited(
        conn,
        database_url,
        CARAVAN_RATE_SIGNUP="2/3600",
        CARAVAN_CHALLENGE_DIFFICULTY=LOW_DIFFICULTY,
    ) as world:
        a = world.at(CLIENT_A)
        first = await _sign_up(a, "one@example.org")
        assert first.status_code == 201
        assert_rate_headers(first, 2, 1)
        # a refused sign-up (the email is taken) counts too: enumeration is limited as well
        taken = await _sign_up(a, "one@example.org")
        assert_problem(taken, 409, "conflict")
        assert_rate_headers(taken, 2, 0)
        # past the threshold: not refused, but asked to solve a challenge
        assert_challenge_asked(await _sign_up(a, "three@example.org"))
        ok = await a.post(
            "/v1/accounts",
            json={"email": "three@example.org", "display_name": "X", "password": PASSWORD},
            headers=await solved(a),
        )
        assert ok.status_code == 201, ok.text
        # another network is not affected
        assert (await _sign_up(world.at(CLIENT_B), "four@example.org")).status_code == 201


async def test_logins_past_the_per_client_threshold_need_a_solved_challenge(conn, database_url):
    async with limited(
        conn,
        database_url,
        CARAVAN_RATE_LOGIN_CLIENT="3/60",
        CARAVAN_CHALLENGE_DIFFICULTY=LOW_DIFFICULTY,
    ) as world:
        a = world.at(CLIENT_A)
        person = await sign_up(a, "Ana")  # one login
        for n in range(2):
            wrong = await a.post(
                "/v1/sessions", json={"email": f"nobody{n}@example.org", "password": "x" * 12}
            )
            assert_problem(wrong, 401, "login-failed")
            assert_rate_headers(wrong, 3, 1 - n)
        login = {"email": person.email, "password": PASSWORD}
        assert_challenge_asked(await a.post("/v1/sessions", json=login))
        right = await a.post("/v1/sessions", json=login, headers=await solved(a))
        assert right.status_code == 201, right.text
        other = await world.at(CLIENT_B).post("/v1/sessions", json=login)
        assert other.status_code == 201


async def test_rsvps_are_limited_per_client_and_event_and_per_account(conn, database_url):
    async with limited(
        conn,
        database_url,
        CARAVAN_RATE_RSVP_CLIENT="3/3600",
        CARAVAN_RATE_RSVP_ACCOUNT="2/3600",
        CARAVAN_CHALLENGE_DIFFICULTY=LOW_DIFFICULTY,
    ) as world:
        a, b = world.at(CLIENT_A), world.at(CLIENT_B)
        organizer = await sign_up(b, "Rosa")
        org = await create_org(b, organizer)
        events = [await published_event(b, org, organizer) for _ in range(4)]
        flooded = f"/v1/events/{events[0]['id']}/rsvps"
        # anonymous RSVPs from one network to one event
        for n in range(3):
            ok = await a.post(flooded, json={"alias": f"G{n}"})
            assert ok.status_code == 201
            assert_rate_headers(ok, 3, 2 - n)
        assert_challenge_asked(await a.post(flooded, json={"alias": "G3"}))
        # flooding one event does not slow RSVPs from the same network to another
        for n in range(3):
            other = await a.post(f"/v1/events/{events[1]['id']}/rsvps", json={"alias": f"H{n}"})
            assert other.status_code == 201, other.text
        # one account from several networks: its own, tighter, hard limit
        ana = await sign_up(b, "Ana")
        for n, address in enumerate(("192.0.2.1", "192.0.2.2")):
            ok = await world.at(address).post(
                f"/v1/events/{events[n + 2]['id']}/rsvps",
                json={"alias": "Ana"},
                headers=ana.headers,
            )
            assert ok.status_code == 201, ok.text
        third = await world.at("192.0.2.3").post(
            f"/v1/events/{events[0]['id']}/rsvps", json={"alias": "Ana"}, headers=ana.headers
        )
        assert_limited(third, 2, 3600)
        assert "this account" in third.json()["detail"]


async def test_ride_bookings_are_limited_per_account(conn, database_url):
    async with limited(conn, database_url, CARAVAN_RATE_BOOKING_ACCOUNT="1/3600") as world:
        http = world.at(CLIENT_A)
        organizer = await sign_up(http, "Rosa")
        org = await create_org(http, organizer)
        event = await published_event(http, org, organizer)
        offers = [await offer_ride(http, event, await sign_up(http, f"D{n}")) for n in range(2)]
        rider = await sign_up(http, "Luis")
        first = await book(http, offers[0], rider)
        assert first.status_code == 201
        assert_rate_headers(first, 1, 0)
        assert_limited(await book(http, offers[1], rider), 1, 3600)


async def test_public_lists_are_limited_per_client(conn, database_url):
    async with limited(conn, database_url, CARAVAN_RATE_LISTING="3/60") as world:
        a = world.at(CLIENT_A)
        for path in ("/v1/events", "/v1/orgs", "/v1/events"):
            response = await a.get(path)
            assert response.status_code == 200
            assert "ratelimit-limit" in response.headers
        assert_limited(await a.get("/v1/orgs"), 3, 60)
        assert (await world.at(CLIENT_B).get("/v1/events")).status_code == 200
        # routes without a limit carry no RateLimit headers
        health = await a.get("/healthz")
        assert "ratelimit-limit" not in health.headers


async def test_no_client_address_is_stored_anywhere(conn, database_url):
    async with limited(conn, database_url, CARAVAN_RATE_LISTING="100/60") as world:
        a = world.at(CLIENT_A)
        await sign_up(a, "Ana")
        await a.get("/v1/events")
        await a.post("/v1/sessions", json={"email": "nobody@example.org", "password": "x" * 12})
    buckets = await conn.fetch("SELECT bucket FROM rate_limits")
    assert len(buckets) >= 3
    for row in buckets:
        assert len(row["bucket"]) == 32  # an HMAC-SHA-256, nothing else
        assert CLIENT_A.encode() not in row["bucket"]
    # and no table holds the address in any column, as text or bytes
    tables = await conn.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
    )
    for t in tables:
        found = await conn.fetchval(
            f'SELECT count(*) FROM "{t["tablename"]}" x WHERE x::text LIKE $1 OR x::text LIKE $2',
            f"%{CLIENT_A}%",
            f"%{CLIENT_A.encode().hex()}%",  # bytea columns print as hex
        )
        assert found == 0, t["tablename"]


# ---------------------------------------------------------------- bodies and lists


async def test_rsvp_and_booking_bodies_have_small_limits(client):
    organizer = await sign_up(client, "Rosa")
    org = await create_org(client, organizer)
    event = await published_event(client, org, organizer)
    padding = " " * 9000
    big = await client.post(
        f"/v1/events/{event['id']}/rsvps",
        content=b'{"alias": "A"' + padding.encode() + b"}",
        headers={"content-type": "application/json"},
    )
    assert_problem(big, 413, "body-too-large")
    offer = await offer_ride(client, event, await sign_up(client, "Driver"))
    rider = await sign_up(client, "Rider")
    booking = await client.post(
        f"/v1/ride-offers/{offer['id']}/bookings",
        content=b'{"seats": 1' + b" " * 1100 + b"}",
        headers={**rider.headers, "content-type": "application/json"},
    )
    assert_problem(booking, 413, "body-too-large")
    login = await client.post(
        "/v1/sessions",
        content=b'{"email": "a@b.org"' + b" " * 17_000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert_problem(login, 413, "body-too-large")
    # the same RSVP without the padding is fine
    ok = await client.post(f"/v1/events/{event['id']}/rsvps", json={"alias": "A"})
    assert ok.status_code == 201


def _template(path: str) -> str:
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", path)


def test_every_limited_route_exists(app):
    routes = {
        (method, _template(route.path))
        for route in app.routes
        for handler in getattr(route, "route_handlers", [])
        for method in handler.http_methods
    }
    for key in ROUTE_RULES:
        assert key in routes, key


def test_every_list_caps_limit_at_200(app):
    spec = app.openapi_schema.to_schema()
    lists = 0
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method != "get":
                continue
            params = {p["name"]: p for p in operation.get("parameters", [])}
            ok = operation["responses"].get("200", {}).get("content", {})
            schema = next(iter(ok.values()), {}).get("schema", {})
            ref = schema.get("$ref", "")
            component = spec["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
            if "next_cursor" in component.get("properties", {}):
                lists += 1
                assert "limit" in params, path
            if "limit" in params:
                assert params["limit"]["schema"]["maximum"] == 200, path
    assert lists >= 20
