"""SQL for single-use challenges: a solved one is remembered by a hash until it expires."""

from __future__ import annotations

from datetime import datetime

import asyncpg


async def spend_challenge(conn: asyncpg.Connection, digest: bytes, expires_at: datetime) -> bool:
    """Remember a solved challenge; False when it was already spent."""
    row = await conn.fetchval(
        """
        INSERT INTO spent_challenges (digest, expires_at)
        VALUES ($1, $2)
        ON CONFLICT (digest) DO NOTHING
        RETURNING true
        """,
        digest,
        expires_at,
    )
    return row is True


async def delete_expired_challenges(conn: asyncpg.Connection) -> int:
    status = await conn.execute("DELETE FROM spent_challenges WHERE expires_at <= now()")
    return int(status.split()[-1])
