"""SQL for Idempotency-Key records: a retried write finds the resource the first one made."""

from __future__ import annotations

from uuid import UUID

import asyncpg


async def claim_idempotency_key(
    conn: asyncpg.Connection, scope_hash: bytes, resource_id: UUID, request_hash: bytes
) -> bool:
    """Claim the key for a resource about to be created; False when a live record exists.

    A concurrent claim of the same key waits here until the first transaction ends, then
    either finds its record (replay) or, if it rolled back, claims the key itself. An expired
    record is taken over as if it were not there.
    """
    row = await conn.fetchrow(
        """
        INSERT INTO idempotency_keys AS k (scope_hash, resource_id, request_hash)
        VALUES ($1, $2, $3)
        ON CONFLICT (scope_hash) DO UPDATE
           SET resource_id  = EXCLUDED.resource_id,
               request_hash = EXCLUDED.request_hash,
               created_at   = now(),
               expires_at   = now() + interval '24 hours'
         WHERE k.expires_at <= now()
        RETURNING k.resource_id
        """,
        scope_hash,
        resource_id,
        request_hash,
    )
    return row is not None


async def select_idempotency_key(
    conn: asyncpg.Connection, scope_hash: bytes
) -> asyncpg.Record | None:
    """The live record of a key (the resource it made and the hash of the first body)."""
    return await conn.fetchrow(
        """
        SELECT resource_id, request_hash
          FROM idempotency_keys
         WHERE scope_hash = $1 AND expires_at > now()
        """,
        scope_hash,
    )
