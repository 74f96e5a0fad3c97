"""RSVPs written before aliases were sealed get their alias sealed by housekeeping: the
database then holds no plaintext alias (but the stock one of a deleted account), while the
organizer's list, the member's list and the manage link read as before."""

from __future__ import annotations

import os
from uuid import UUID, uuid4

import asyncpg
import httpx

from api.config import Settings
from api.crypto import Keyring, token_hash
from api.services.rsvp_keys import (
    FORMER_MEMBER,
    MANAGE_PREFIX,
    MANAGE_PURPOSE,
    seal_plaintext_aliases,
)
from api.worker import run_housekeeping
from tests.events_helpers import published_event
from tests.people import create_org, sign_up

LEGACY_ALIAS = "Colibri-Legacy-4417"


async def insert_legacy_rsvp(
    conn: asyncpg.Connection,
    event_id: str,
    account_id: str | None,
    alias: str,
    manage_hash: bytes,
    rsvp_id: UUID | None = None,
) -> UUID:
    """An RSVP as written before aliases were sealed: plaintext alias, no ciphertext."""
    inserted: UUID = await conn.fetchval(
        """
        INSERT INTO rsvps (id, event_id, org_id, account_id, alias, status, guests,
                           language_needs, manage_token_hash)
        SELECT $5, e.id, e.org_id, $2, $3, 'going', 0, '{}', $4 FROM events e WHERE e.id = $1
        RETURNING id
        """,
        UUID(event_id),
        None if account_id is None else UUID(account_id),
        alias,
        manage_hash,
        rsvp_id or uuid4(),
    )
    await conn.execute(
        "UPDATE events SET places_taken = places_taken + 1 WHERE id = $1", UUID(event_id)
    )
    return inserted


async def test_housekeeping_seals_older_plaintext_aliases_and_keeps_them_readable(
    client: httpx.AsyncClient, conn: asyncpg.Connection, settings: Settings
) -> None:
    keyring = Keyring(settings.secret_key)
    organizer = await sign_up(client, "Rosa")
    org = await create_org(client, organizer)
    event = await published_event(client, org, organizer)
    member = await sign_up(client, "Colibri")
    booked = await client.post(f"/v1/events/{event['id']}/rsvps", json={"alias": "Sealed-Ana"})
    assert booked.status_code == 201, booked.text

    legacy_id = uuid4()
    # older rows were given a manage token derived from the master key
    legacy_token = keyring.derived_token(MANAGE_PREFIX, MANAGE_PURPOSE, legacy_id)
    await insert_legacy_rsvp(
        conn, event["id"], member.id, LEGACY_ALIAS, token_hash(legacy_token), legacy_id
    )
    former_id = await insert_legacy_rsvp(conn, event["id"], None, FORMER_MEMBER, os.urandom(32))

    counts = await run_housekeeping(conn, keyring=keyring)
    assert counts["aliases_sealed"] == 1

    legacy = await conn.fetchrow(
        "SELECT alias, alias_ciphertext FROM rsvps WHERE id = $1", legacy_id
    )
    assert legacy["alias"] is None
    assert legacy["alias_ciphertext"] is not None
    assert LEGACY_ALIAS.encode() not in legacy["alias_ciphertext"]
    former = await conn.fetchrow(
        "SELECT alias, alias_ciphertext FROM rsvps WHERE id = $1", former_id
    )
    assert (former["alias"], former["alias_ciphertext"]) == (FORMER_MEMBER, None)
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM rsvps WHERE alias IS NOT NULL AND alias <> $1", FORMER_MEMBER
        )
        == 0
    )

    listed = await client.get(f"/v1/events/{event['id']}/rsvps", headers=organizer.headers)
    assert listed.status_code == 200, listed.text
    assert [a["alias"] for a in listed.json()["items"]] == [
        "Sealed-Ana",
        LEGACY_ALIAS,
        FORMER_MEMBER,
    ]
    mine = await client.get("/v1/me/rsvps", headers=member.headers)
    assert mine.status_code == 200, mine.text
    [item] = mine.json()["items"]
    assert item["rsvp"]["alias"] == LEGACY_ALIAS
    assert item["manage_url"].endswith(f"/v1/rsvps/manage/{legacy_token}")
    managed = await client.get(f"/v1/rsvps/manage/{legacy_token}")
    assert managed.status_code == 200, managed.text
    assert managed.json()["rsvp"]["alias"] == LEGACY_ALIAS

    again = await run_housekeeping(conn, keyring=keyring)
    assert again["aliases_sealed"] == 0


async def test_sealing_older_aliases_goes_in_batches(
    client: httpx.AsyncClient, conn: asyncpg.Connection, settings: Settings
) -> None:
    organizer = await sign_up(client, "Rosa")
    org = await create_org(client, organizer)
    event = await published_event(client, org, organizer)
    for n in range(5):
        await insert_legacy_rsvp(conn, event["id"], None, f"Old-{n}", os.urandom(32))

    assert await seal_plaintext_aliases(conn, Keyring(settings.secret_key), batch=2) == 5
    assert await conn.fetchval("SELECT count(*) FROM rsvps WHERE alias IS NOT NULL") == 0
    listed = await client.get(f"/v1/events/{event['id']}/rsvps", headers=organizer.headers)
    assert sorted(a["alias"] for a in listed.json()["items"]) == [f"Old-{n}" for n in range(5)]
