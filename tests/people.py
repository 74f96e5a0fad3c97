"""Helpers that read like prose: people sign up, log in, and act through the API."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

PASSWORD = "a long enough password"
_counter = itertools.count()


class Person:
    """Someone with an account and a bearer token."""

    def __init__(self, account: dict[str, Any], token: str, email: str) -> None:
        self.account = account
        self.id: str = account["id"]
        self.token = token
        self.email = email
        self.headers = {"Authorization": f"Bearer {token}"}


async def sign_up(client: httpx.AsyncClient, name: str = "Ana") -> Person:
    email = f"{name.lower().replace(' ', '.')}.{next(_counter)}@example.org"
    created = await client.post(
        "/v1/accounts", json={"email": email, "display_name": name, "password": PASSWORD}
    )
    assert created.status_code == 201, created.text
    login = await client.post("/v1/sessions", json={"email": email, "password": PASSWORD})
    assert login.status_code == 201, login.text
    return Person(created.json(), login.json()["token"], email)


async def create_org(
    client: httpx.AsyncClient, owner: Person, slug: str | None = None
) -> dict[str, Any]:
    slug = slug or f"org-{next(_counter)}"
    response = await client.post(
        "/v1/orgs",
        json={"slug": slug, "name": f"Org {slug}", "timezone": "America/Tijuana"},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def join(
    client: httpx.AsyncClient, org: dict[str, Any], by: Person, who: Person, role: str
) -> None:
    response = await client.post(
        f"/v1/orgs/{org['slug']}/members",
        json={"email": who.email, "role": role},
        headers=by.headers,
    )
    assert response.status_code == 201, response.text
