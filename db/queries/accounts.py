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
