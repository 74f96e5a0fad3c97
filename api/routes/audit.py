"""Accountability views: the organization's audit log and the subpoena drill (for owners,
and for one RSVP by its manage link)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import asyncpg
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from api import privacy_text
from api.config import Settings
from api.deps import caller_account_id
from api.pagination import Cursor, Limit, link_header
from api.services import audit_log, privacy_drill
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
_ONE_PAGE = "The same report on one page (at most 60 lines), for `Accept: text/plain`"


class AuditController(Controller):
    tags = ["audit"]

    @get("/v1/orgs/{slug:str}/audit-log", opt={"problems": (401, 403, 404)})
    async def list_audit_log(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        slug: FromPath[str],
        action: ActionQuery = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[AuditPage]:
        """Who viewed or exported which list, changed roles, keys and webhooks (owners)."""
        page = await audit_log.list_audit_log(
            conn, slug, caller_account_id(caller), action, cursor, limit
        )
        return Response(
            page,
            headers={
                **_NO_STORE,
                **link_header(request, page.next_cursor),
            },
        )

    @get(
        "/v1/orgs/{slug:str}/members/{account_id:uuid}/privacy-report",
        opt={"problems": (401, 403, 404), "text_plain": _ONE_PAGE},
    )
    async def get_privacy_report(
        self,
        conn: NamedDependency[asyncpg.Connection],
        settings: NamedDependency[Settings],
        caller: NamedDependency[Caller | None],
        slug: FromPath[str],
        account_id: FromPath[UUID],
        request: Request[Any, Any, Any],
    ) -> Response[PrivacyReport]:
        """The subpoena drill (owners): every field held about a member, or about anyone else
        the org holds data on, in what form, and when the sensitive ones are purged; never the
        values. `Accept: text/plain` gives the same on one page (at most 60 lines)."""
        report = await privacy_drill.privacy_report(
            conn, settings, slug, caller_account_id(caller), account_id
        )
        return _negotiated(request, report)

    @get(
        "/v1/rsvps/manage/{token:str}/privacy-report",
        opt={"problems": (404,), "text_plain": _ONE_PAGE},
    )
    async def get_rsvp_privacy_report(
        self,
        conn: NamedDependency[asyncpg.Connection],
        settings: NamedDependency[Settings],
        token: FromPath[str],
        request: Request[Any, Any, Any],
    ) -> Response[PrivacyReport]:
        """What the organization holds about this RSVP, for whoever holds its manage link: the
        fields, their form and purge times, never the values; `Accept: text/plain` for one page."""
        return _negotiated(request, await privacy_drill.rsvp_report(conn, settings, token))


def _negotiated(request: Request[Any, Any, Any], report: PrivacyReport) -> Response[PrivacyReport]:
    headers = {**_NO_STORE, "Vary": "Accept"}
    if privacy_text.wants_text(request.headers.get("accept")):
        page: Response[Any] = Response(
            content=privacy_text.render_text(report),
            media_type=privacy_text.MEDIA_TYPE,
            headers=headers,
        )
        return page
    return Response(report, headers=headers)
