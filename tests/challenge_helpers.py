"""Solving challenges as a browser would: fetch one, brute-force SHA-256, send the solution."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

HEADER = "Caravan-Challenge"
#: tests keep proof-of-work cheap; the default is sized for a phone
LOW_DIFFICULTY = "2000"


def solve(challenge: dict[str, Any]) -> str:
    """The Caravan-Challenge value for an ALTCHA challenge, as the ALTCHA widget builds it."""
    salt, target = challenge["salt"], challenge["challenge"]
    for number in range(challenge["maxnumber"] + 1):
        if hashlib.sha256(f"{salt}{number}".encode()).hexdigest() == target:
            payload = {
                "algorithm": challenge["algorithm"],
                "challenge": target,
                "number": number,
                "salt": salt,
                "signature": challenge["signature"],
                "took": 1,
            }
            return base64.b64encode(json.dumps(payload).encode()).decode()
    raise AssertionError("no number solves this challenge")


async def solved(http: httpx.AsyncClient) -> dict[str, str]:
    """Headers carrying a fresh solved challenge."""
    response = await http.get("/v1/challenges")
    assert response.status_code == 200, response.text
    return {HEADER: solve(response.json())}


async def post_solving(
    http: httpx.AsyncClient, url: str, *, json_body: Any, headers: dict[str, str] | None = None
) -> tuple[httpx.Response, bool]:
    """POST as a well-behaved client: when asked (428), solve a challenge and send it again.
    Returns the final response and whether a challenge was solved."""
    response = await http.post(url, json=json_body, headers=headers or {})
    if response.status_code != 428:
        return response, False
    assert "/v1/challenges" in response.headers["link"]
    again = await http.post(url, json=json_body, headers={**(headers or {}), **await solved(http)})
    return again, True


@asynccontextmanager
async def at_address(app: Any, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app` whose connection comes from `address` (as ASGI's scope client)."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
