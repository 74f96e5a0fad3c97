"""Login says the same thing and does the same work whether or not the account exists, and
failed logins never lock the owner out.

Not a timing test: both paths are shown to run exactly one argon2 verification, against hashes
of the same cost, and to answer byte-identical bodies; the time argon2 takes is what matters.
Guesses count per (email, client) and, slowly, per email; past either, a client must solve a
challenge before each further attempt, while a client that never failed goes straight in."""

from __future__ import annotations

from typing import Any

import pytest

from tests.challenge_helpers import LOW_DIFFICULTY, post_solving, solved
from tests.people import PASSWORD, sign_up
from tests.problems import assert_problem
from tests.test_rate_limits import limited
from tests.test_two_factor_helpers import Phone, log_in, turn_on_two_factor

ROUNDS = 20


class CountingHasher:
    """Wraps argon2's PasswordHasher: counts verifications and records each hash's parameters."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.verified: list[str] = []

    def verify(self, stored: str, password: str) -> bool:
        self.verified.append(stored.rsplit("$", 2)[0])  # $argon2id$v=19$m=…,t=…,p=…
        return self.inner.verify(stored, password)  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def hasher(app):
    passwords = app.state.passwords
    counting = CountingHasher(passwords._hasher)
    passwords._hasher = counting
    yield counting
    passwords._hasher = counting.inner


async def test_unknown_email_and_wrong_password_do_the_same_work(client, conn, hasher, settings):
    person = await sign_up(client, "Ana")
    stored = await conn.fetchval(
        "SELECT password_hash FROM accounts WHERE id = $1::uuid", person.id
    )
    stored_params = stored.rsplit("$", 2)[0]
    answers: dict[str, list[tuple[int, bytes, tuple[str, ...]]]] = {"unknown": [], "wrong": []}
    calls: dict[str, list[int]] = {"unknown": [], "wrong": []}
    params: dict[str, set[str]] = {"unknown": set(), "wrong": set()}
    for n in range(ROUNDS):
        for path, email in (("unknown", f"nobody.{n}@example.org"), ("wrong", person.email)):
            if path == "wrong" and n % (settings.login_attempts_per_window - 1) == 0:
                # keep the per-email failure limit out of the way: this is about the failure path
                await conn.execute("DELETE FROM rate_limits")
            before = len(hasher.verified)
            response = await client.post(
                "/v1/sessions", json={"email": email, "password": f"wrong password {n}"}
            )
            assert_problem(response, 401, "login-failed")
            calls[path].append(len(hasher.verified) - before)
            params[path].update(hasher.verified[before:])
            answers[path].append(
                (response.status_code, response.content, tuple(sorted(response.headers)))
            )
    # exactly one argon2 verification per attempt, on both paths
    assert calls["unknown"] == calls["wrong"] == [1] * ROUNDS
    # against hashes of the same cost (the dummy hash uses the real parameters)
    assert params["unknown"] == params["wrong"] == {stored_params}
    # and the same answer, byte for byte, with the same headers
    assert {a for a in answers["unknown"]} == {a for a in answers["wrong"]}
    assert len(set(answers["unknown"])) == 1


async def test_a_successful_login_also_verifies_once(client, hasher):
    person = await sign_up(client, "Ana")
    before = len(hasher.verified)
    response = await client.post(
        "/v1/sessions", json={"email": person.email, "password": "a long enough password"}
    )
    assert response.status_code == 201
    assert len(hasher.verified) - before == 1


# ---------------------------------------------------------------- nobody can keep the owner out


async def test_a_thousand_wrong_passwords_from_elsewhere_do_not_keep_the_owner_out(
    conn, database_url, monkeypatch
):
    phone = Phone(monkeypatch)
    async with limited(
        conn,
        database_url,
        CARAVAN_RATE_LOGIN_CLIENT="20/60",  # the deployed default, not test mode's
        CARAVAN_CHALLENGE_DIFFICULTY=LOW_DIFFICULTY,
    ) as world:
        home = world.at("203.0.113.50")
        owner = await sign_up(home, "Rosa")
        await turn_on_two_factor(home, owner, phone)
        statuses: set[int] = set()
        for n in range(1000):
            attacker = world.at(f"10.{n // 250}.{n % 250}.1")
            response, _ = await post_solving(
                attacker,
                "/v1/sessions",
                json_body={"email": owner.email, "password": f"guess number {n}"},
            )
            statuses.add(response.status_code)
            await world.forget(attacker)
        # and one persistent guesser that solves every challenge it is given
        persistent = world.at("198.51.100.7")
        solved_any = False
        for n in range(30):
            response, asked = await post_solving(
                persistent, "/v1/sessions", json_body={"email": owner.email, "password": f"{n}"}
            )
            statuses.add(response.status_code)
            solved_any |= asked
        assert solved_any
        assert statuses == {401}  # every guess was answered, and every one was wrong
        # the owner, from their own network, with password and code: in at once
        response = await log_in(home, owner, totp_code=phone.code())
        assert response.status_code == 201, response.text


async def test_a_client_that_keeps_failing_for_an_email_must_solve_a_challenge_each_time(
    conn, database_url
):
    async with limited(
        conn,
        database_url,
        CARAVAN_LOGIN_ATTEMPTS="3",
        CARAVAN_CHALLENGE_DIFFICULTY=LOW_DIFFICULTY,
    ) as world:
        guesser, home = world.at("198.51.100.1"), world.at("203.0.113.50")
        owner = await sign_up(home, "Rosa")
        other = await sign_up(home, "Luis")
        for n in range(3):
            assert_problem(await log_in(guesser, owner, password=f"guess {n}"), 401, "login-failed")
        # not locked out: asked for work before each further attempt
        asked = await log_in(guesser, owner, password="guess 3")
        assert_problem(asked, 428, "challenge-required", detail_contains="this email")
        assert "/v1/challenges" in asked.headers["link"]
        wrong = await guesser.post(
            "/v1/sessions",
            json={"email": owner.email, "password": "guess 4"},
            headers=await solved(guesser),
        )
        assert_problem(wrong, 401, "login-failed")
        assert_problem(await log_in(guesser, owner), 428, "challenge-required")
        # the same network with the right password and a solved challenge gets in
        right = await guesser.post(
            "/v1/sessions",
            json={"email": owner.email, "password": PASSWORD},
            headers=await solved(guesser),
        )
        assert right.status_code == 201, right.text
        # other emails from that network, and the owner from their own, were never held back
        assert (await log_in(guesser, other)).status_code == 201
        assert (await log_in(home, owner)).status_code == 201


async def test_while_an_email_is_under_wide_attack_a_client_that_failed_once_must_solve(
    conn, database_url
):
    async with limited(
        conn,
        database_url,
        CARAVAN_LOGIN_GLOBAL_FAILURES="5",
        CARAVAN_CHALLENGE_DIFFICULTY=LOW_DIFFICULTY,
    ) as world:
        home = world.at("203.0.113.50")
        owner = await sign_up(home, "Rosa")
        for n in range(5):
            wrong = await log_in(world.at(f"10.0.0.{n}"), owner, password=f"guess {n}")
            assert_problem(wrong, 401, "login-failed")
        # one failure was enough for a client once five came from everywhere
        assert_problem(await log_in(world.at("10.0.0.1"), owner), 428, "challenge-required")
        fresh = world.at("10.0.0.99")
        assert_problem(await log_in(fresh, owner, password="guess"), 401, "login-failed")
        assert_problem(await log_in(fresh, owner, password="guess"), 428, "challenge-required")
        # a client that never failed (the owner's) signs in at once
        assert (await log_in(home, owner)).status_code == 201
