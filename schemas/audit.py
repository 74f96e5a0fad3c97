"""The organization's audit log as its owners read it."""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from msgspec import Meta, Struct

from schemas.common import NextCursor

AuditAction = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=60,
        pattern=r"^[a-z_]+(\.[a-z_]+)*$",
        description="An action such as `rsvps.exported` or `member.role_changed`",
        examples=["rsvps.exported"],
    ),
]


class AuditActor(Struct, kw_only=True):
    """Who acted; null when the system did (a purge) or the account was deleted since."""

    account_id: Annotated[UUID, Meta(examples=["9b2f0c1e-6a4d-4f7e-9a51-0c3e2b7d8f10"])]
    display_name: Annotated[str, Meta(examples=["Rosa"])]


class AuditEntry(Struct, kw_only=True):
    """Who viewed or exported which list, changed a role, a key or a webhook, and when."""

    id: Annotated[int, Meta(examples=[1042])]
    action: AuditAction
    actor: AuditActor | None
    subject_type: Annotated[str, Meta(examples=["event"])]
    subject_id: Annotated[UUID | None, Meta(examples=["4f0c2b1e-6a4d-4f7e-9a51-0c3e2b7d8f10"])]
    detail: Annotated[dict[str, Any], Meta(examples=[{"rows": 42}])]
    created_at: Annotated[datetime, Meta(examples=["2026-12-05T17:00:00Z"])]


class AuditPage(Struct):
    """A page of the audit log, newest first."""

    items: list[AuditEntry]
    next_cursor: NextCursor = None
