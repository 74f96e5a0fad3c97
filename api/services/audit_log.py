"""The org's audit log, for its owners."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from api.guards import require_org_role
from api.pagination import decode_cursor, split_page
from db.queries import privacy as q
from schemas.audit import AuditActor, AuditEntry, AuditPage


async def list_audit_log(
    conn: asyncpg.Connection,
    slug: str,
    account_id: UUID | None,
    action: str | None,
    cursor: str | None,
    limit: int,
) -> AuditPage:
    """The org's audit log for its owners, newest first, optionally of one action."""
    org = await require_org_role(conn, slug, account_id, "owner")
    after = decode_cursor(cursor, tuple[int])
    rows = await q.select_audit_entries(
        conn, org["id"], action, after[0] if after else None, limit + 1
    )
    page, next_cursor = split_page(rows, limit, lambda r: (r["id"],))
    return AuditPage(
        items=[
            AuditEntry(
                id=r["id"],
                action=r["action"],
                actor=None
                if r["actor_id"] is None
                else AuditActor(account_id=r["actor_id"], display_name=r["actor_name"]),
                subject_type=r["subject_type"],
                subject_id=r["subject_id"],
                detail=r["detail"],
                created_at=r["created_at"],
            )
            for r in page
        ],
        next_cursor=next_cursor,
    )
