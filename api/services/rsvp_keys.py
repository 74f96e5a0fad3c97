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

MANAGE_PREFIX = "cvn_rsvp"
MANAGE_PURPOSE = "rsvp-manage"
#: the data class of the event's RSVP data key: it seals aliases and contacts and derives
#: manage tokens; the purge destroys it with the list (see api/services/retention.py)
CONTACT_CLASS = "rsvp_contact"
#: shown for an alias whose key is gone (the row itself goes with it in the same purge)
ERASED_ALIAS = "(erased)"


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
    the master key); None rather than a link that would not open (such an old row after a
    master-key rotation)."""
    if record["alias_ciphertext"] is None:
        token = keyring.derived_token(MANAGE_PREFIX, MANAGE_PURPOSE, record["id"])
    elif key is None:
        return None
    else:
        token = manage_token(key, record["id"])
    return token if hmac.compare_digest(token_hash(token), record["manage_token_hash"]) else None


def manage_url(settings: Settings, token: str) -> str:
    return f"{settings.public_url}/v1/rsvps/manage/{token}"
