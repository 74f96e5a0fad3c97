"""SQL for accounts."""

from __future__ import annotations

from uuid import UUID

import asyncpg


async def insert_account(
    conn: asyncpg.Connection,
    account_id: UUID,
    email_lookup: bytes,
    email_ciphertext: bytes,
    display_name: str,
    password_hash: str,
) -> asyncpg.Record | None:
    """Insert an account; None when the email is taken."""
    return await conn.fetchrow(
        """
        INSERT INTO accounts (id, email_lookup, email_ciphertext, display_name, password_hash)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT ON CONSTRAINT accounts_email_lookup_key DO NOTHING
        RETURNING id, email_ciphertext, display_name, created_at
        """,
        account_id,
        email_lookup,
        email_ciphertext,
        display_name,
        password_hash,
    )


async def select_account(conn: asyncpg.Connection, account_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """
        SELECT id, email_ciphertext, display_name, password_hash, created_at
          FROM accounts
         WHERE id = $1
        """,
        account_id,
    )


async def select_account_by_email(
    conn: asyncpg.Connection, email_lookup: bytes
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, display_name, password_hash FROM accounts WHERE email_lookup = $1",
        email_lookup,
    )


async def update_account(
    conn: asyncpg.Connection,
    account_id: UUID,
    display_name: str | None,
    email_lookup: bytes | None,
    email_ciphertext: bytes | None,
) -> asyncpg.Record | None:
    """Update the given fields (None keeps the value); None when the new email is taken."""
    try:
        async with conn.transaction():
            return await conn.fetchrow(
                """
                UPDATE accounts
                   SET display_name     = coalesce($2, display_name),
                       email_lookup     = coalesce($3, email_lookup),
                       email_ciphertext = coalesce($4, email_ciphertext),
                       updated_at       = now()
                 WHERE id = $1
             RETURNING id, email_ciphertext, display_name, created_at
                """,
                account_id,
                display_name,
                email_lookup,
                email_ciphertext,
            )
    except asyncpg.UniqueViolationError:
        return None


async def update_password_hash(
    conn: asyncpg.Connection, account_id: UUID, password_hash: str
) -> None:
    await conn.execute(
        "UPDATE accounts SET password_hash = $2, updated_at = now() WHERE id = $1",
        account_id,
        password_hash,
    )


async def delete_account(conn: asyncpg.Connection, account_id: UUID) -> bool:
    """Delete the account row; sessions, memberships, inbox, TOTP and recovery codes cascade."""
    status = await conn.execute("DELETE FROM accounts WHERE id = $1", account_id)
    return status != "DELETE 0"


async def delete_account_data_keys(
    conn: asyncpg.Connection, account_id: UUID, data_class: str | None = None
) -> int:
    """Delete the account's data keys (one class, or all): what they sealed can never be read."""
    status = await conn.execute(
        """
        DELETE FROM data_keys
         WHERE scope = 'account' AND scope_id = $1
           AND ($2::text IS NULL OR data_class = $2)
        """,
        account_id,
        data_class,
    )
    return int(status.split()[-1])


# ---------------------------------------------------------------- two-factor authentication


async def select_totp(conn: asyncpg.Connection, account_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT secret_ciphertext, is_enabled FROM account_totp WHERE account_id = $1",
        account_id,
    )


async def upsert_pending_totp(
    conn: asyncpg.Connection, account_id: UUID, secret_ciphertext: bytes
) -> bool:
    """Store a new, unconfirmed secret; False when two-factor is already on (nothing changes)."""
    status = await conn.execute(
        """
        INSERT INTO account_totp AS t (account_id, secret_ciphertext)
        VALUES ($1, $2)
        ON CONFLICT (account_id) DO UPDATE
           SET secret_ciphertext = excluded.secret_ciphertext
         WHERE NOT t.is_enabled
        """,
        account_id,
        secret_ciphertext,
    )
    return status != "INSERT 0 0"


async def enable_totp(conn: asyncpg.Connection, account_id: UUID) -> None:
    await conn.execute(
        "UPDATE account_totp SET is_enabled = true WHERE account_id = $1", account_id
    )


async def delete_totp(conn: asyncpg.Connection, account_id: UUID) -> None:
    await conn.execute("DELETE FROM account_totp WHERE account_id = $1", account_id)
    await conn.execute("DELETE FROM recovery_codes WHERE account_id = $1", account_id)


async def replace_recovery_codes(
    conn: asyncpg.Connection, account_id: UUID, code_hashes: list[bytes]
) -> None:
    await conn.execute("DELETE FROM recovery_codes WHERE account_id = $1", account_id)
    await conn.execute(
        """
        INSERT INTO recovery_codes (account_id, code_hash)
        SELECT $1, h FROM unnest($2::bytea[]) AS h
        """,
        account_id,
        code_hashes,
    )


async def use_recovery_code(conn: asyncpg.Connection, account_id: UUID, code_hash: bytes) -> bool:
    """Spend a recovery code: True (and the code is gone) when it was one of the account's."""
    status = await conn.execute(
        "DELETE FROM recovery_codes WHERE account_id = $1 AND code_hash = $2",
        account_id,
        code_hash,
    )
    return status != "DELETE 0"


async def count_recovery_codes(conn: asyncpg.Connection, account_id: UUID) -> int:
    count = await conn.fetchval(
        "SELECT count(*) FROM recovery_codes WHERE account_id = $1", account_id
    )
    return int(count)
