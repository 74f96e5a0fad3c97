"""SQL for login sessions (opaque bearer tokens stored as SHA-256 hashes)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg


async def insert_session(
    conn: asyncpg.Connection, account_id: UUID, token_hash: bytes, label: str | None, ttl_hours: int
) -> asyncpg.Record:
    row = await conn.fetchrow(
        """
        INSERT INTO sessions (account_id, token_hash, label, expires_at)
        VALUES ($1, $2, $3, now() + make_interval(hours => $4))
        RETURNING id, label, expires_at
        """,
        account_id,
        token_hash,
        label,
        ttl_hours,
    )
    assert row is not None
    return row


async def select_session_account(
    conn: asyncpg.Connection, token_hash: bytes
) -> asyncpg.Record | None:
    """The live session and its account for a token hash; None when unknown or expired."""
    return await conn.fetchrow(
        """
        SELECT s.id AS session_id, a.id AS account_id, a.display_name
          FROM sessions s
          JOIN accounts a ON a.id = s.account_id
         WHERE s.token_hash = $1
           AND s.expires_at > now()
        """,
        token_hash,
    )


async def select_account_sessions(
    conn: asyncpg.Connection, account_id: UUID, after: tuple[datetime, UUID] | None, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT id, label, expires_at
          FROM sessions
         WHERE account_id = $1
           AND expires_at > now()
           AND ($2::timestamptz IS NULL OR (expires_at, id) < ($2, $3))
         ORDER BY expires_at DESC, id DESC
         LIMIT $4
        """,
        account_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def delete_session(conn: asyncpg.Connection, account_id: UUID, session_id: UUID) -> bool:
    status = await conn.execute(
        "DELETE FROM sessions WHERE id = $1 AND account_id = $2", session_id, account_id
    )
    return status != "DELETE 0"


async def delete_other_sessions(
    conn: asyncpg.Connection, account_id: UUID, keep_session_id: UUID
) -> int:
    status = await conn.execute(
        "DELETE FROM sessions WHERE account_id = $1 AND id <> $2", account_id, keep_session_id
    )
    return int(status.split()[-1])


async def delete_expired_sessions(conn: asyncpg.Connection) -> int:
    """Expired sessions are deleted, not kept: no login history exists."""
    status = await conn.execute("DELETE FROM sessions WHERE expires_at <= now()")
    return int(status.split()[-1])


async def delete_expired_sessions_of(conn: asyncpg.Connection, account_id: UUID) -> None:
    await conn.execute(
        "DELETE FROM sessions WHERE account_id = $1 AND expires_at <= now()", account_id
    )
