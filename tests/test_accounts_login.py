"""Login says the same thing and does the same work whether or not the account exists.

Not a timing test: both paths are shown to run exactly one argon2 verification, against hashes
of the same cost, and to answer byte-identical bodies; the time argon2 takes is what matters."""

from __future__ import annotations

from typing import Any

import pytest

from tests.people import sign_up
from tests.problems import assert_problem

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
