"""Co-hosting as two organizations do it: one invites, an organizer of the other accepts."""

from __future__ import annotations

from typing import Any

import httpx

from tests.people import Person


async def invite(
    client: httpx.AsyncClient, kind: str, thing_id: str, by: Person, slug: str, **extra: Any
) -> httpx.Response:
    return await client.post(
        f"/v1/{kind}s/{thing_id}/cohosts", json={"org": slug, **extra}, headers=by.headers
    )


async def cohost(
    client: httpx.AsyncClient,
    kind: str,
    thing_id: str,
    host: Person,
    slug: str,
    accepted_by: Person,
    **extra: Any,
) -> dict[str, Any]:
    """`host` invites the org `slug` to co-host the event or trip; `accepted_by` accepts."""
    invited = await invite(client, kind, thing_id, host, slug, **extra)
    assert invited.status_code == 201, invited.text
    assert invited.json()["status"] == "pending"
    accepted = await client.post(
        f"/v1/{kind}s/{thing_id}/cohosts/{slug}/accept", headers=accepted_by.headers
    )
    assert accepted.status_code == 200, accepted.text
    return accepted.json()  # type: ignore[no-any-return]
