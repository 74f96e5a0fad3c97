"""SQL for wrapped data keys (envelope encryption and crypto-shredding)."""

from __future__ import annotations

from uuid import UUID

import asyncpg


async def insert_data_key(
    conn: asyncpg.Connection,
    scope: str,
    scope_id: UUID,
    data_class: str,
    wrapped_key: bytes,
    master_key_id: str,
) -> asyncpg.Record:
    """Insert a data key, or return the existing one when another request won the race.

    DO NOTHING, then a fresh read: an upsert that touches the winner's row would hold that row
    lock to the end of the transaction, queueing every first booking of an event behind it.
    """
    row = await conn.fetchrow(
        """
        INSERT INTO data_keys (scope, scope_id, data_class, wrapped_key, master_key_id)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT ON CONSTRAINT data_keys_scope_class_key DO NOTHING
        RETURNING id, wrapped_key
        """,
        scope,
        scope_id,
        data_class,
        wrapped_key,
        master_key_id,
    )
    if row is None:  # a new statement sees the winner's committed row
        row = await select_data_key(conn, scope, scope_id, data_class)
    assert row is not None
    return row


async def select_data_key(
    conn: asyncpg.Connection, scope: str, scope_id: UUID, data_class: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """
        SELECT id, wrapped_key
          FROM data_keys
         WHERE scope = $1 AND scope_id = $2 AND data_class = $3
        """,
        scope,
        scope_id,
        data_class,
    )


async def destroy_data_key(
    conn: asyncpg.Connection, scope: str, scope_id: UUID, data_class: str
) -> bool:
    status = await conn.execute(
        """
        UPDATE data_keys
           SET wrapped_key = NULL, destroyed_at = now()
         WHERE scope = $1 AND scope_id = $2 AND data_class = $3 AND wrapped_key IS NOT NULL
        """,
        scope,
        scope_id,
        data_class,
    )
    return status != "UPDATE 0"


# ---------------------------------------------------------------- master-key rotation
# Everything derived from CARAVAN_SECRET_KEY that is stored: wrapped data keys, and the keyed
# hashes that find rows by a personal value (email lookups, recovery codes, rate-limit buckets).


async def lock_for_rotation(conn: asyncpg.Connection) -> None:
    """Keep writers of keys and accounts out until the rotating transaction ends."""
    await conn.execute("LOCK TABLE data_keys, accounts IN SHARE ROW EXCLUSIVE MODE")


async def select_live_data_keys(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT id, scope, scope_id, data_class, wrapped_key, master_key_id
          FROM data_keys
         WHERE wrapped_key IS NOT NULL
         ORDER BY id
        """
    )


async def rewrap_data_key(
    conn: asyncpg.Connection, key_id: UUID, wrapped_key: bytes, master_key_id: str
) -> None:
    await conn.execute(
        "UPDATE data_keys SET wrapped_key = $2, master_key_id = $3 "
        "WHERE id = $1 AND wrapped_key IS NOT NULL",
        key_id,
        wrapped_key,
        master_key_id,
    )


async def select_account_emails(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT id, email_ciphertext FROM accounts ORDER BY id")


async def update_email_lookup(conn: asyncpg.Connection, account_id: UUID, lookup: bytes) -> None:
    await conn.execute("UPDATE accounts SET email_lookup = $2 WHERE id = $1", account_id, lookup)


async def delete_keyed_rows(conn: asyncpg.Connection) -> dict[str, int]:
    """Delete the keyed hashes that cannot be recomputed (their inputs are never stored):
    rate-limit windows and recovery codes. Returns rows deleted, and the accounts whose
    recovery codes went."""
    windows = await conn.execute("DELETE FROM rate_limits")
    accounts = 0
    if await conn.fetchval("SELECT to_regclass('recovery_codes') IS NOT NULL"):
        accounts = await conn.fetchval(
            """
            WITH gone AS (DELETE FROM recovery_codes RETURNING account_id)
            SELECT count(DISTINCT account_id)::int FROM gone
            """
        )
    return {"rate_limits": int(windows.split()[-1]), "recovery_code_accounts": accounts}


async def revive_data_key(
    conn: asyncpg.Connection, key_id: UUID, wrapped_key: bytes, master_key_id: str
) -> asyncpg.Record | None:
    """Give a destroyed key slot a fresh key; None when another request revived it first."""
    return await conn.fetchrow(
        """
        UPDATE data_keys
           SET wrapped_key = $2, master_key_id = $3, destroyed_at = NULL, created_at = now()
         WHERE id = $1 AND wrapped_key IS NULL
     RETURNING id, wrapped_key
        """,
        key_id,
        wrapped_key,
        master_key_id,
    )
