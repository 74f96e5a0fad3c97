"""Helpers that read like prose: a phone's authenticator app, and people turning two-factor on."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from api.services import two_factor
from tests.people import PASSWORD, Person


class Phone:
    """An authenticator app holding a TOTP secret, on a clock the test moves by 30 s steps."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, step: int = 59_000_000) -> None:
        self.secret = b""
        self.step = step
        monkeypatch.setattr(two_factor, "time_step", lambda at=None: self.step)

    def scan(self, enrolment: dict[str, Any]) -> None:
        self.secret = two_factor.decode_secret(enrolment["secret"])

    def code(self, offset: int = 0) -> str:
        """The code the app shows now (or `offset` steps later or earlier)."""
        return two_factor.totp(self.secret, self.step + offset)

    def tick(self, steps: int = 1) -> None:
        self.step += steps


async def turn_on_two_factor(client: httpx.AsyncClient, person: Person, phone: Phone) -> list[str]:
    """Enrol and confirm with a first code; returns the recovery codes. Moves the clock one
    step on, so the next code is a fresh one."""
    started = await client.post("/v1/me/two-factor", headers=person.headers)
    assert started.status_code == 201, started.text
    phone.scan(started.json())
    confirmed = await client.post(
        "/v1/me/two-factor/confirm", json={"code": phone.code()}, headers=person.headers
    )
    assert confirmed.status_code == 200, confirmed.text
    phone.tick()
    codes: list[str] = confirmed.json()["codes"]
    return codes


async def log_in(client: httpx.AsyncClient, person: Person, **extra: Any) -> httpx.Response:
    return await client.post(
        "/v1/sessions", json={"email": person.email, "password": PASSWORD, **extra}
    )


async def relog(client: httpx.AsyncClient, person: Person, phone: Phone) -> Person:
    """Log in again with a fresh code; the person now carries the new session's token."""
    response = await log_in(client, person, totp_code=phone.code())
    assert response.status_code == 201, response.text
    phone.tick()
    return Person(person.account, response.json()["token"], person.email)
