"""SQL for partner API keys: stored as hashes, scoped, revocable."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

KEY_COLUMNS = "k.id, k.org_id, k.name, k.hint, k.scopes, k.created_at, k.last_used_on, k.revoked_at"


async def insert_api_key(
    conn: asyncpg.Connection,
    org_id: UUID,
    name: str,
    key_hash: bytes,
    hint: str,
    scopes: Sequence[str],
    created_by: UUID,
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""
        INSERT INTO api_keys AS k (org_id, name, key_hash, hint, scopes, created_by)
        VALUES ($1, $2, $3, $4, $5, $6)
        RETURNING {KEY_COLUMNS}
        """,
        org_id,
        name,
        key_hash,
        hint,
        list(scopes),
        created_by,
    )
    assert row is not None
    return row


async def select_api_keys(
    conn: asyncpg.Connection, org_id: UUID, after: tuple[datetime, UUID] | None, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""
        SELECT {KEY_COLUMNS}
          FROM api_keys k
         WHERE k.org_id = $1
           AND ($2::timestamptz IS NULL OR (k.created_at, k.id) > ($2, $3))
         ORDER BY k.created_at, k.id
         LIMIT $4
        """,
        org_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def revoke_api_key(
    conn: asyncpg.Connection, org_id: UUID, key_id: UUID
) -> asyncpg.Record | None:
    """Revoke the key (idempotent); None when the org has no such key."""
    return await conn.fetchrow(
        f"""
        UPDATE api_keys k
           SET revoked_at = coalesce(k.revoked_at, now())
         WHERE k.id = $1 AND k.org_id = $2
        RETURNING {KEY_COLUMNS}
        """,
        key_id,
        org_id,
    )


async def select_live_key(conn: asyncpg.Connection, key_hash: bytes) -> asyncpg.Record | None:
    """The unrevoked key with this hash and its org's slug."""
    return await conn.fetchrow(
        """
        SELECT k.id, k.org_id, k.scopes, k.last_used_on, o.slug AS org_slug
          FROM api_keys k
          JOIN orgs o ON o.id = k.org_id
         WHERE k.key_hash = $1 AND k.revoked_at IS NULL
        """,
        key_hash,
    )


async def mark_used_today(conn: asyncpg.Connection, key_id: UUID) -> None:
    await conn.execute(
        """
        UPDATE api_keys SET last_used_on = current_date
         WHERE id = $1 AND last_used_on IS DISTINCT FROM current_date
        """,
        key_id,
    )
