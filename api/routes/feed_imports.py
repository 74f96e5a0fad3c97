"""Calendar imports of an org: register partners' public iCal feeds and follow their runs."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from api.config import Settings
from api.deps import caller_account_id
from api.pagination import Cursor, Limit, link_header
from api.services import feed_imports
from api.services.accounts import Caller
from api.services.api_keys import Partner
from schemas.imports import (
    FeedImport,
    FeedImportCreate,
    FeedImportPage,
    FeedImportPatch,
    FeedImportRunPage,
)

_BASE = "/v1/orgs/{slug:str}/feed-imports"
_ONE = _BASE + "/{import_id:uuid}"
_PROBLEMS = (401, 403, 404)


def _headers(partner: Partner | None) -> dict[str, str]:
    return partner.rate_headers() if partner else {}


class FeedImportController(Controller):
    tags = ["feed imports"]

    @get(_BASE, opt={"problems": _PROBLEMS})
    async def list_feed_imports(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        partner: NamedDependency[Partner | None],
        slug: FromPath[str],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[FeedImportPage]:
        """The org's calendar imports (organizers, or a key with imports:manage)."""
        page = await feed_imports.list_imports(
            conn, slug, caller_account_id(caller), partner, cursor, limit
        )
        headers = {
            **_headers(partner),
            **link_header(request, page.next_cursor),
        }
        return Response(page, headers=headers)

    @post(_BASE, opt={"problems": (*_PROBLEMS, 409, 422)})
    async def create_feed_import(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        partner: NamedDependency[Partner | None],
        settings: NamedDependency[Settings],
        slug: FromPath[str],
        data: JSONBody[FeedImportCreate],
    ) -> Response[FeedImport]:
        """Import a partner's public iCal feed (https); its events appear as imported events."""
        created = await feed_imports.create_import(
            conn, settings, slug, caller_account_id(caller), partner, data
        )
        return Response(created, status_code=201, headers=_headers(partner))

    @get(_ONE, opt={"problems": _PROBLEMS})
    async def get_feed_import(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        partner: NamedDependency[Partner | None],
        slug: FromPath[str],
        import_id: FromPath[UUID],
    ) -> Response[FeedImport]:
        """One calendar import and how its last run went."""
        found = await feed_imports.get_import(
            conn, slug, caller_account_id(caller), partner, import_id
        )
        return Response(found, headers=_headers(partner))

    @patch(_ONE, opt={"problems": (*_PROBLEMS, 409, 422)})
    async def update_feed_import(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        partner: NamedDependency[Partner | None],
        settings: NamedDependency[Settings],
        slug: FromPath[str],
        import_id: FromPath[UUID],
        data: JSONBody[FeedImportPatch],
    ) -> Response[FeedImport]:
        """Change the URL, name or schedule, or pause the import."""
        changed = await feed_imports.update_import(
            conn, settings, slug, caller_account_id(caller), partner, import_id, data
        )
        return Response(changed, headers=_headers(partner))

    @delete(_ONE, opt={"problems": _PROBLEMS})
    async def delete_feed_import(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        partner: NamedDependency[Partner | None],
        slug: FromPath[str],
        import_id: FromPath[UUID],
    ) -> None:
        """Stop importing; the events it mirrored are removed."""
        await feed_imports.delete_import(conn, slug, caller_account_id(caller), partner, import_id)

    @post(_ONE + "/run", status_code=202, opt={"problems": _PROBLEMS})
    async def run_feed_import(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        partner: NamedDependency[Partner | None],
        slug: FromPath[str],
        import_id: FromPath[UUID],
    ) -> Response[FeedImport]:
        """Fetch at the worker's next round instead of waiting for the schedule."""
        scheduled = await feed_imports.schedule_import(
            conn, slug, caller_account_id(caller), partner, import_id
        )
        return Response(scheduled, status_code=202, headers=_headers(partner))

    @get(_ONE + "/runs", opt={"problems": _PROBLEMS})
    async def list_feed_import_runs(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        partner: NamedDependency[Partner | None],
        slug: FromPath[str],
        import_id: FromPath[UUID],
        cursor: Cursor = None,
        limit: Limit = 20,
    ) -> Response[FeedImportRunPage]:
        """The import's runs, newest first: counts added/updated/removed/rejected, or the error."""
        page = await feed_imports.list_runs(
            conn, slug, caller_account_id(caller), partner, import_id, cursor, limit
        )
        return Response(page, headers=_headers(partner))
