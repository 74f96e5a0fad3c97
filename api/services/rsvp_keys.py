"""The event's RSVP data key: it seals aliases and contacts and derives manage tokens.

Manage tokens are derived from the RSVP id with that key, so a retried request can be answered
with the same token and a member's list can show the link again, across master-key rotations
(which rewrap the key unchanged) until the purge destroys the key; they are stored only as
SHA-256.
"""

from __future__ import annotations

import hmac
from uuid import UUID

import asyncpg

from api.config import Settings
from api.crypto import Keyring, token_hash
from api.services import encryption
from db.queries import rsvps as q

MANAGE_PREFIX = "cvn_rsvp"
MANAGE_PURPOSE = "rsvp-manage"
#: the data class of the event's RSVP data key: it seals aliases and contacts and derives
#: manage tokens; the purge destroys it with the list (see api/services/retention.py)
CONTACT_CLASS = "rsvp_contact"
#: shown for an alias whose key is gone (the row itself goes with it in the same purge)
ERASED_ALIAS = "(erased)"
#: the stock alias of a deleted account's RSVPs (see api/services/account_deletion.py); it
#: names nobody, so it stays plaintext
FORMER_MEMBER = "Former member"
#: how many older RSVPs one transaction seals
SEAL_BATCH = 500


def manage_token(key: bytes, rsvp_id: UUID) -> str:
    """The manage token of an RSVP, from its event's RSVP data key."""
    return Keyring.keyed_token(key, MANAGE_PREFIX, MANAGE_PURPOSE, rsvp_id)


def contact_aad(event_id: UUID) -> bytes:
    return encryption.key_aad("event", event_id, CONTACT_CLASS)


async def rsvp_key(conn: asyncpg.Connection, keyring: Keyring, event_id: UUID) -> bytes | None:
    """The event's RSVP data key; None once the purge destroyed it."""
    return await encryption.data_key(conn, keyring, "event", event_id, CONTACT_CLASS)


def open_alias(keyring: Keyring, key: bytes | None, record: asyncpg.Record) -> str:
    """The alias of an RSVP row: sealed, or plaintext in rows older than sealing."""
    if record["alias_ciphertext"] is None:
        return str(record["alias"])
    if key is None:
        return ERASED_ALIAS
    return keyring.decrypt(key, record["alias_ciphertext"], contact_aad(record["event_id"]))


def row_manage_token(keyring: Keyring, key: bytes | None, record: asyncpg.Record) -> str | None:
    """The manage token of a listed RSVP (rows older than sealing were given one derived from
    the master key, and keep it once housekeeping seals their alias); None rather than a link
    that would not open (such an old row after a master-key rotation)."""
    candidates = []
    if record["alias_ciphertext"] is not None and key is not None:
        candidates.append(manage_token(key, record["id"]))
    candidates.append(keyring.derived_token(MANAGE_PREFIX, MANAGE_PURPOSE, record["id"]))
    for token in candidates:
        if hmac.compare_digest(token_hash(token), record["manage_token_hash"]):
            return token
    return None


def manage_url(settings: Settings, token: str) -> str:
    return f"{settings.public_url}/v1/rsvps/manage/{token}"


async def seal_plaintext_aliases(
    conn: asyncpg.Connection, keyring: Keyring, batch: int = SEAL_BATCH
) -> int:
    """Seal the plaintext aliases of RSVPs written before aliases were sealed, with their
    event's RSVP data key, so the purge's key destruction covers them too (the stock alias of
    a deleted account stays); in transactions of `batch` rows. How many were sealed."""
    sealed = 0
    while True:
        async with conn.transaction():
            rows = await q.select_plaintext_aliases(conn, FORMER_MEMBER, batch)
            keys: dict[UUID, bytes] = {}
            ciphertexts = []
            for row in rows:
                event_id = row["event_id"]
                if event_id not in keys:
                    keys[event_id] = await encryption.live_data_key(
                        conn, keyring, "event", event_id, CONTACT_CLASS
                    )
                ciphertexts.append(
                    keyring.encrypt(keys[event_id], row["alias"], contact_aad(event_id))
                )
            if rows:
                sealed += await q.update_sealed_aliases(
                    conn, [row["id"] for row in rows], ciphertexts
                )
        if len(rows) < batch:
            return sealed
