"""SQL for the audit log: who read or changed what, when."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg


async def insert_audit_entry(
    conn: asyncpg.Connection,
    org_id: UUID | None,
    actor_id: UUID | None,
    action: str,
    subject_type: str,
    subject_id: UUID | None,
    detail: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        """
        INSERT INTO audit_log (org_id, actor_id, action, subject_type, subject_id, detail)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        org_id,
        actor_id,
        action,
        subject_type,
        subject_id,
        detail or {},
    )
