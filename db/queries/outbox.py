"""SQL for the outbox: a row per change, written in the changing transaction."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg


async def insert_outbox_entry(
    conn: asyncpg.Connection,
    org_id: UUID | None,
    topic: str,
    subject_id: UUID,
    payload: dict[str, Any],
) -> None:
    """Record a change (e.g. topic 'event.updated'); payloads are thin: ids, types, counts."""
    await conn.execute(
        "INSERT INTO outbox (org_id, topic, subject_id, payload) VALUES ($1, $2, $3, $4)",
        org_id,
        topic,
        subject_id,
        payload,
    )
