"""Challenges instead of refusals: a crowd on one network gets in by solving proof-of-work
(or waiting out a time-lock token without JavaScript), each solution works once, garbage is a
clear 400, and a script that does not solve gets no more than the free threshold."""

from __future__ import annotations

import base64
import time
import types
from datetime import UTC, datetime

import altcha
import msgspec

from api.config import Settings
from api.services import challenges
from api.worker import run_housekeeping
from db.queries import challenges as challenge_queries
from tests.challenge_helpers import HEADER, LOW_DIFFICULTY, post_solving, solve, solved
from tests.events_helpers import published_event
from tests.people import create_org, sign_up
from tests.problems import assert_problem
from tests.test_rate_limits import CLIENT_A, CLIENT_B, limited

SCRIPT_REQUESTS = 5000
POINTER = f"#/header/{HEADER}"
#: the abuse-limit settings a deployment gets when it sets nothing
DEFAULTS = {f.name: f.default for f in msgspec.structs.fields(Settings)}


def _default(setting: str) -> str:
    count, window = DEFAULTS[setting]
    return f"{count}/{window}"


async def _event(world):
    http = world.at(CLIENT_B)
    organizer = await sign_up(http, "Rosa")
    org = await create_org(http, organizer)
    return await published_event(http, org, organizer)


async def _use_up(http, url: str, free: int) -> None:
    """Send the free RSVPs of a (client, event) so the next one needs a solved challenge."""
    for n in range(free):
        assert (await http.post(url, json={"alias": f"Free {n}"})).status_code == 201


def _later(monkeypatch, seconds: float) -> None:
    """Move the challenge module's clock on (nothing sleeps)."""
    now = time.time() + seconds
    monkeypatch.setattr(challenges, "time", types.SimpleNamespace(time=lambda: now))


# ---------------------------------------------------------------- one solution, once


async def test_a_solved_challenge_lets_a_write_through_once(conn, database_url):
    async with limited(
        conn,
        database_url,
        CARAVAN_RATE_RSVP_CLIENT="1/3600",
        CARAVAN_CHALLENGE_DIFFICULTY=LOW_DIFFICULTY,
    ) as world:
        event = await _event(world)
        url = f"/v1/events/{event['id']}/rsvps"
        a = world.at(CLIENT_A)
        assert (await a.post(url, json={"alias": "First"})).status_code == 201
        asked = await a.post(url, json={"alias": "Second"})
        assert_problem(asked, 428, "challenge-required")
        issued = await a.get("/v1/challenges")
        assert issued.status_code == 200
        assert issued.headers["cache-control"] == "no-store"
        challenge = issued.json()
        assert challenge["algorithm"] == "SHA-256"
        assert challenge["maxnumber"] == int(LOW_DIFFICULTY)
        solution = {HEADER: solve(challenge)}
        ok = await a.post(url, json={"alias": "Second"}, headers=solution)
        assert ok.status_code == 201, ok.text
        again = await a.post(url, json={"alias": "Third"}, headers=solution)
        assert_problem(again, 422, "challenge-failed", pointer=POINTER, detail_contains="used")
    spent = await conn.fetch("SELECT digest FROM spent_challenges")
    assert len(spent) == 1 and len(spent[0]["digest"]) == 32  # a hash, not the challenge


async def test_garbage_in_the_challenge_header_is_a_clear_400_not_a_500(conn, database_url):
    async with limited(
        conn,
        database_url,
        CARAVAN_RATE_RSVP_CLIENT="10/3600",
        CARAVAN_CHALLENGE_DIFFICULTY=LOW_DIFFICULTY,
    ) as world:
        event = await _event(world)
        url = f"/v1/events/{event['id']}/rsvps"
        a = world.at(CLIENT_A)
        await _use_up(a, url, 10)
        garbage: list[str | bytes] = [
            "",
            "!!!",
            "bm90IGpzb24=",  # base64 of "not json"
            "W10=",  # base64 of []
            "eyJudW1iZXIiOiAieCJ9",  # {"number": "x"}
            "A" * 5000,
            b"\xe9t\xe9",
            "tl1.abc.notanumber.sig",
            "tl1.only-two",
        ]
        for value in garbage:
            response = await a.post(url, json={"alias": "X"}, headers={HEADER: value})
            assert_problem(response, 400, "challenge-invalid", pointer=POINTER)


async def test_a_wrong_forged_or_expired_solution_is_refused_as_such(
    conn, database_url, monkeypatch
):
    async with limited(
        conn,
        database_url,
        CARAVAN_RATE_RSVP_CLIENT="10/3600",
        CARAVAN_CHALLENGE_DIFFICULTY=LOW_DIFFICULTY,
    ) as world:
        event = await _event(world)
        url = f"/v1/events/{event['id']}/rsvps"
        a = world.at(CLIENT_A)
        await _use_up(a, url, 10)
        challenge = (await a.get("/v1/challenges")).json()
        payload = msgspec.json.decode(base64.b64decode(solve(challenge)))

        def sent(**changes: object) -> dict[str, str]:
            body = msgspec.json.encode({**payload, **changes})
            return {HEADER: base64.b64encode(body).decode()}

        cases = {
            "does not solve": sent(number=payload["number"] + 1),
            "not for a challenge this server issued": sent(signature="0" * 64),
            "not for a challenge": sent(algorithm="SHA-1"),
        }
        for words, headers in cases.items():
            response = await a.post(url, json={"alias": "X"}, headers=headers)
            assert_problem(
                response, 422, "challenge-failed", pointer=POINTER, detail_contains=words
            )
        _later(monkeypatch, DEFAULTS["challenge_ttl_s"] + 1)
        late = await a.post(url, json={"alias": "X"}, headers=sent())
        assert_problem(late, 422, "challenge-failed", detail_contains="expired")


async def test_a_time_lock_token_works_once_after_its_wait_without_javascript(
    conn, database_url, monkeypatch
):
    async with limited(
        conn, database_url, CARAVAN_RATE_RSVP_CLIENT="3/3600", CARAVAN_CHALLENGE_WAIT_S="30"
    ) as world:
        event = await _event(world)
        url = f"/v1/events/{event['id']}/rsvps"
        a = world.at(CLIENT_A)
        await _use_up(a, url, 3)
        issued = await a.get("/v1/challenges/time-lock")
        assert issued.status_code == 200
        lock = issued.json()
        assert lock["valid_from"] < lock["expires_at"]
        token = {HEADER: lock["token"]}
        early = await a.post(url, json={"alias": "Second"}, headers=token)
        body = assert_problem(early, 422, "challenge-failed", detail_contains="not valid yet")
        assert 1 <= int(early.headers["retry-after"]) <= 30, body
        _later(monkeypatch, 31)
        ok = await a.post(url, json={"alias": "Second"}, headers=token)
        assert ok.status_code == 201, ok.text
        again = await a.post(url, json={"alias": "Third"}, headers=token)
        assert_problem(again, 422, "challenge-failed", detail_contains="used")
        forged = {HEADER: lock["token"][:-4] + "0000"}
        assert_problem(
            await a.post(url, json={"alias": "X"}, headers=forged), 422, "challenge-failed"
        )


async def test_time_lock_tokens_are_limited_per_client(conn, database_url):
    async with limited(conn, database_url, CARAVAN_RATE_TIME_LOCK="2/3600") as world:
        a = world.at(CLIENT_A)
        for _ in range(2):
            assert (await a.get("/v1/challenges/time-lock")).status_code == 200
        assert_problem(await a.get("/v1/challenges/time-lock"), 429, "rate-limited")
        assert (await world.at(CLIENT_B).get("/v1/challenges/time-lock")).status_code == 200


# ---------------------------------------------------------------- the hard limits left


async def test_clients_that_keep_sending_wrong_solutions_get_429_but_solvers_still_pass(
    conn, database_url
):
    async with limited(
        conn,
        database_url,
        CARAVAN_RATE_RSVP_CLIENT="2/3600",
        CARAVAN_CHALLENGE_DIFFICULTY=LOW_DIFFICULTY,
    ) as world:
        event = await _event(world)
        url = f"/v1/events/{event['id']}/rsvps"
        a = world.at(CLIENT_A)
        for n in range(2):
            assert (await a.post(url, json={"alias": f"G{n}"})).status_code == 201
        wrong = {HEADER: "tl1.abc.123.deadbeef"}
        for _ in range(2):
            assert_problem(await a.post(url, json={"alias": "X"}, headers=wrong), 422)
        blocked = await a.post(url, json={"alias": "X"}, headers=wrong)
        assert_problem(blocked, 429, "rate-limited", detail_contains="wrong challenge solutions")
        assert 1 <= int(blocked.headers["retry-after"]) <= 3600
        # someone on the same network who solves the challenge still gets in
        ok = await a.post(url, json={"alias": "Honest"}, headers=await solved(a))
        assert ok.status_code == 201, ok.text


async def test_solved_requests_stop_at_a_far_higher_ceiling(conn, database_url):
    async with limited(
        conn,
        database_url,
        CARAVAN_RATE_RSVP_CLIENT="1/3600",
        CARAVAN_RATE_CEILING_FACTOR="3",
        CARAVAN_CHALLENGE_DIFFICULTY=LOW_DIFFICULTY,
    ) as world:
        event = await _event(world)
        url = f"/v1/events/{event['id']}/rsvps"
        a = world.at(CLIENT_A)
        assert (await a.post(url, json={"alias": "Free"})).status_code == 201
        for n in range(3):
            ok = await a.post(url, json={"alias": f"S{n}"}, headers=await solved(a))
            assert ok.status_code == 201, ok.text
        over = await a.post(url, json={"alias": "S3"}, headers=await solved(a))
        assert_problem(over, 429, "rate-limited", detail_contains="try again")
        assert over.headers["ratelimit-limit"] == "3"


# ---------------------------------------------------------------- the outcome


async def test_five_hundred_people_on_one_network_all_rsvp_with_default_limits(conn, database_url):
    async with limited(
        conn,
        database_url,
        CARAVAN_RATE_RSVP_CLIENT=_default("rate_rsvp_per_client"),
        CARAVAN_CHALLENGE_DIFFICULTY=LOW_DIFFICULTY,
    ) as world:
        event = await _event(world)
        url = f"/v1/events/{event['id']}/rsvps"
        venue_wifi = world.at(CLIENT_A)
        challenged = 0
        for n in range(500):
            response, solved_one = await post_solving(
                venue_wifi, url, json_body={"alias": f"Attendee {n}"}
            )
            assert response.status_code == 201, (n, response.text)
            challenged += solved_one
        # the first ones came in free; everyone after solved a challenge, nobody was refused
        free = DEFAULTS["rate_rsvp_per_client"][0]
        assert challenged == 500 - free
    going = await conn.fetchval("SELECT count(*) FROM rsvps WHERE event_id = $1", event["id"])
    assert going == 500


async def test_a_script_that_does_not_solve_gets_at_most_the_threshold_in(conn, database_url):
    async with limited(
        conn,
        database_url,
        CARAVAN_RATE_RSVP_CLIENT=_default("rate_rsvp_per_client"),
        CARAVAN_CHALLENGE_DIFFICULTY=LOW_DIFFICULTY,
    ) as world:
        event = await _event(world)
        other = await _event(world)
        url = f"/v1/events/{event['id']}/rsvps"
        script = world.at(CLIENT_A)
        statuses: dict[int, int] = {}
        for n in range(SCRIPT_REQUESTS):
            response = await script.post(url, json={"alias": f"Bot {n}"})
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        threshold = DEFAULTS["rate_rsvp_per_client"][0]
        assert statuses == {201: threshold, 428: SCRIPT_REQUESTS - threshold}
        # a real attendee on the same network still gets in by solving
        honest, asked = await post_solving(script, url, json_body={"alias": "Real person"})
        assert honest.status_code == 201 and asked
        # and RSVPs to another event from that network are untouched
        elsewhere = await script.post(f"/v1/events/{other['id']}/rsvps", json={"alias": "Ana"})
        assert elsewhere.status_code == 201
    taken = await conn.fetchval("SELECT count(*) FROM rsvps WHERE event_id = $1", event["id"])
    assert taken == threshold + 1


# ---------------------------------------------------------------- housekeeping and contract


def test_challenges_are_solved_and_verified_by_the_altcha_reference_library(app):
    settings = msgspec.structs.replace(app.state.settings, challenge_difficulty=2000)
    keyring = app.state.keyring
    issued = challenges.issue(settings, keyring)
    found = altcha.solve_challenge_v1(
        issued.challenge, issued.salt, issued.algorithm, issued.maxnumber
    )
    assert found is not None
    payload = {
        "algorithm": issued.algorithm,
        "challenge": issued.challenge,
        "number": found.number,
        "salt": issued.salt,
        "signature": issued.signature,
    }
    encoded = base64.b64encode(msgspec.json.encode(payload)).decode()
    ok, error = altcha.verify_solution_v1(encoded, challenges._key(keyring))
    assert ok, error
    # and our own solver's output is what the library would send
    assert (
        msgspec.json.decode(base64.b64decode(solve(msgspec.to_builtins(issued))))["number"]
        == found.number
    )


async def test_housekeeping_forgets_spent_challenges_once_they_expire(conn):
    past = datetime(2020, 1, 1, tzinfo=UTC)
    future = datetime(2999, 1, 1, tzinfo=UTC)
    assert await challenge_queries.spend_challenge(conn, b"\x01" * 32, past)
    assert await challenge_queries.spend_challenge(conn, b"\x02" * 32, future)
    assert not await challenge_queries.spend_challenge(conn, b"\x02" * 32, future)
    counts = await run_housekeeping(conn)
    assert counts["spent_challenges"] == 1
    left = await conn.fetch("SELECT digest FROM spent_challenges")
    assert [row["digest"] for row in left] == [b"\x02" * 32]


def test_the_contract_names_the_challenge_endpoint_header_and_problem(app):
    spec = app.openapi_schema.to_schema()
    assert "/v1/challenges" in spec["paths"] and "/v1/challenges/time-lock" in spec["paths"]
    for path in (
        "/v1/events/{event_id}/rsvps",
        "/v1/accounts",
        "/v1/sessions",
        "/v1/ride-offers/{offer_id}/bookings",
        "/v1/trips/{trip_id}/applications",
    ):
        operation = spec["paths"][path]["post"]
        headers = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
        assert HEADER in headers, path
        asked = operation["responses"]["428"]
        assert "problems/challenge-required" in asked["description"], path
        assert "GET /v1/challenges" in asked["description"], path
