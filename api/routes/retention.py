"""An org's retention windows (owners) and the receipts its purges left (organizers)."""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar import Controller, Request, Response, get, patch
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from api.config import Settings
from api.deps import caller_account_id
from api.pagination import Cursor, Limit, link_header
from api.services import retention
from api.services.accounts import Caller
from schemas.retention import PurgeReceiptPage, RetentionPatch, RetentionSettings

_PROBLEMS = (401, 403, 404)


class RetentionController(Controller):
    tags = ["retention"]

    @get("/v1/orgs/{slug:str}/retention", opt={"problems": _PROBLEMS})
    async def get_retention(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        settings: NamedDependency[Settings],
        slug: FromPath[str],
    ) -> RetentionSettings:
        """How long the org's personal data is kept after events, rides and trips (owners)."""
        return await retention.get_retention(conn, settings, slug, caller_account_id(caller))

    @patch("/v1/orgs/{slug:str}/retention", opt={"problems": (*_PROBLEMS, 422)})
    async def update_retention(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        settings: NamedDependency[Settings],
        slug: FromPath[str],
        data: JSONBody[RetentionPatch],
    ) -> RetentionSettings:
        """Shorten the org's windows, never beyond the server's defaults (owners)."""
        return await retention.update_retention(
            conn, settings, slug, caller_account_id(caller), data
        )

    @get("/v1/orgs/{slug:str}/purge-receipts", opt={"problems": _PROBLEMS})
    async def list_purge_receipts(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        slug: FromPath[str],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[PurgeReceiptPage]:
        """What each purge erased, newest first: kind of data, rows, event or trip, when
        (organizers and owners)."""
        page = await retention.list_receipts(conn, slug, caller_account_id(caller), cursor, limit)
        return Response(
            page,
            headers=link_header(request, page.next_cursor),
        )
