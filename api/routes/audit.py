"""Owners' accountability views: the organization's audit log and the subpoena drill."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import asyncpg
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from api.config import Settings
from api.pagination import Cursor, Limit, link_header
from api.services import privacy
from api.services.accounts import Caller
from schemas.audit import AuditPage
from schemas.privacy import PrivacyReport

ActionQuery = Annotated[
    str | None,
    QueryParameter(
        min_length=1,
        max_length=60,
        pattern=r"^[a-z_]+(\.[a-z_]+)*$",
        description="Only entries of this action, e.g. `rsvps.exported`",
    ),
]
_NO_STORE = {"Cache-Control": "no-store"}


class AuditController(Controller):
    tags = ["audit"]

    @get("/v1/orgs/{slug:str}/audit-log", opt={"problems": (401, 403, 404)})
    async def list_audit_log(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        slug: FromPath[str],
        action: ActionQuery = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[AuditPage]:
        """Who viewed or exported which list, changed roles, keys and webhooks (owners)."""
        page = await privacy.list_audit_log(
            conn, slug, caller.account_id if caller else None, action, cursor, limit
        )
        query: dict[str, object] = {"limit": limit}
        if action:
            query["action"] = action
        return Response(
            page,
            headers={
                **_NO_STORE,
                **link_header(f"/v1/orgs/{slug}/audit-log", query, page.next_cursor),
            },
        )

    @get(
        "/v1/orgs/{slug:str}/members/{account_id:uuid}/privacy-report",
        opt={"problems": (401, 403, 404)},
    )
    async def get_privacy_report(
        self,
        conn: NamedDependency[asyncpg.Connection],
        settings: NamedDependency[Settings],
        caller: NamedDependency[Caller | None],
        slug: FromPath[str],
        account_id: FromPath[UUID],
    ) -> Response[PrivacyReport]:
        """The subpoena drill (owners): every field held about a member, in what form, and when
        the sensitive ones are purged; never the values."""
        report = await privacy.privacy_report(
            conn, settings, slug, caller.account_id if caller else None, account_id
        )
        return Response(report, headers=_NO_STORE)
