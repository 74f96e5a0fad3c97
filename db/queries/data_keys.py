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
    """Insert a data key, or return the existing one when another request won the race."""
    row = await conn.fetchrow(
        """
        INSERT INTO data_keys AS d (scope, scope_id, data_class, wrapped_key, master_key_id)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT ON CONSTRAINT data_keys_scope_class_key
        DO UPDATE SET scope = d.scope
        RETURNING id, wrapped_key
        """,
        scope,
        scope_id,
        data_class,
        wrapped_key,
        master_key_id,
    )
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
