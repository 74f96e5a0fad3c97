"""Sealing and opening sensitive fields with per-(scope, data class) data keys."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from api.crypto import Keyring
from db.queries import data_keys


def key_aad(scope: str, scope_id: UUID, data_class: str) -> bytes:
    # Binding the wrapped key to its row stops a key being swapped onto another scope.
    return f"{scope}:{scope_id}:{data_class}".encode()


async def data_key(
    conn: asyncpg.Connection, keyring: Keyring, scope: str, scope_id: UUID, data_class: str
) -> bytes | None:
    """The live data key, created on first use; None once it has been destroyed (shredded)."""
    aad = key_aad(scope, scope_id, data_class)
    row = await data_keys.select_data_key(conn, scope, scope_id, data_class)
    if row is None:
        _, wrapped = keyring.new_wrapped_data_key(aad)
        row = await data_keys.insert_data_key(
            conn, scope, scope_id, data_class, wrapped, keyring.master_key_id
        )
    if row["wrapped_key"] is None:
        return None
    return keyring.unwrap(row["wrapped_key"], aad)


async def _fresh_key_after_shredding(
    conn: asyncpg.Connection, keyring: Keyring, scope: str, scope_id: UUID, data_class: str
) -> bytes:
    """New data arriving after a purge (an event moved to new dates) gets a brand-new key; the
    shredded one stays gone, so nothing sealed before the purge becomes readable again."""
    aad = key_aad(scope, scope_id, data_class)
    row = await data_keys.select_data_key(conn, scope, scope_id, data_class)
    assert row is not None
    _, wrapped = keyring.new_wrapped_data_key(aad)
    revived = await data_keys.revive_data_key(conn, row["id"], wrapped, keyring.master_key_id)
    if revived is None:  # revived concurrently: use that one
        revived = await data_keys.select_data_key(conn, scope, scope_id, data_class)
        assert revived is not None and revived["wrapped_key"] is not None
    return keyring.unwrap(revived["wrapped_key"], aad)


async def live_data_key(
    conn: asyncpg.Connection, keyring: Keyring, scope: str, scope_id: UUID, data_class: str
) -> bytes:
    """The key new data is sealed with: the live one, created on first use or afresh after
    the old one was shredded."""
    key = await data_key(conn, keyring, scope, scope_id, data_class)
    if key is None:
        key = await _fresh_key_after_shredding(conn, keyring, scope, scope_id, data_class)
    return key


async def seal(
    conn: asyncpg.Connection,
    keyring: Keyring,
    scope: str,
    scope_id: UUID,
    data_class: str,
    plaintext: str | None,
) -> bytes | None:
    if plaintext is None:
        return None
    key = await live_data_key(conn, keyring, scope, scope_id, data_class)
    return keyring.encrypt(key, plaintext, key_aad(scope, scope_id, data_class))


async def open_sealed(
    conn: asyncpg.Connection,
    keyring: Keyring,
    scope: str,
    scope_id: UUID,
    data_class: str,
    blob: bytes | None,
) -> str | None:
    """Plaintext, or None when there is nothing or its key was shredded."""
    if blob is None:
        return None
    row = await data_keys.select_data_key(conn, scope, scope_id, data_class)
    if row is None or row["wrapped_key"] is None:
        return None
    aad = key_aad(scope, scope_id, data_class)
    return keyring.decrypt(keyring.unwrap(row["wrapped_key"], aad), blob, aad)
