"""Helpers that read like prose for partner tests: keys are issued, partners sync, people RSVP."""

from __future__ import annotations

from typing import Any

import httpx

from tests.people import Person

#: personal data that must never reach a partner: each RSVP below carries one of these
ALIASES = ("Lupita Reyes-Quintero", "Tomás Xocoyotzin")
CONTACTS = ("lupita.rq@example.org", "+52 664 555 0199")


async def issue_key(
    client: httpx.AsyncClient, org: dict[str, Any], owner: Person, *scopes: str
) -> str:
    """An owner issues a key with these scopes; returns the secret."""
    response = await client.post(
        f"/v1/orgs/{org['slug']}/api-keys",
        json={"name": "Coalition website", "scopes": list(scopes)},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


def as_key(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def sync(
    client: httpx.AsyncClient, key: str, since: str | None = None, limit: int | None = None
) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if since is not None:
        params["since"] = since
    if limit is not None:
        params["limit"] = limit
    response = await client.get("/v1/partner/events", params=params, headers=as_key(key))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def sync_until_quiet(
    client: httpx.AsyncClient, key: str, since: str | None = None, limit: int = 100
) -> tuple[list[dict[str, Any]], str]:
    """Every change after `since`, page by page; the items and the cursor to poll next."""
    items: list[dict[str, Any]] = []
    while True:
        page = await sync(client, key, since, limit)
        items.extend(page["items"])
        since = page["next_cursor"]
        if not page["has_more"]:
            return items, since


async def rsvp_with_personal_data(client: httpx.AsyncClient, event: dict[str, Any]) -> None:
    """Two people say they're coming, with aliases and contacts a partner must never see."""
    for alias, contact in zip(ALIASES, CONTACTS, strict=True):
        response = await client.post(
            f"/v1/events/{event['id']}/rsvps", json={"alias": alias, "contact": contact}
        )
        assert response.status_code == 201, response.text


def assert_no_personal_data(text: str) -> None:
    for secret in (*ALIASES, *CONTACTS):
        assert secret not in text, secret
