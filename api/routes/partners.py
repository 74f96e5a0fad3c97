"""Partners: API keys (owners), the incremental sync feed, and the OSDI view of public events."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import asyncpg
from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from api.config import Settings
from api.errors import Unauthorized
from api.pagination import Cursor, Limit, link_header
from api.services import api_keys, osdi, partner_sync
from api.services.accounts import Caller
from api.services.api_keys import Partner
from schemas.partners import (
    ApiKey,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPage,
    OsdiEvent,
    OsdiEventPage,
    PartnerEventPage,
)

Since = Annotated[
    str | None,
    QueryParameter(
        max_length=200,
        description="`next_cursor` of the previous answer; absent: everything from the start",
    ),
]
OrgFilter = Annotated[
    str | None, QueryParameter(max_length=50, description="Hosted or co-hosted by this org")
]
_NO_STORE = {"Cache-Control": "private, no-store"}


def _headers(partner: Partner | None, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**(extra or {}), **(partner.rate_headers() if partner else {})}


class ApiKeyController(Controller):
    tags = ["partners"]

    @get("/v1/orgs/{slug:str}/api-keys", opt={"problems": (401, 403, 404)})
    async def list_api_keys(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        slug: FromPath[str],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[ApiKeyPage]:
        """The org's partner API keys, revoked ones included (owners); never the secrets."""
        page = await api_keys.list_keys(conn, slug, account.account_id, cursor, limit)
        return Response(
            page,
            headers=link_header(request, page.next_cursor),
        )

    @post("/v1/orgs/{slug:str}/api-keys", opt={"problems": (401, 403, 404, 422)})
    async def create_api_key(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        slug: FromPath[str],
        data: JSONBody[ApiKeyCreate],
    ) -> Response[ApiKeyCreated]:
        """Issue a scoped API key for a partner (owners); the key is shown this once."""
        created = await api_keys.create_key(conn, slug, account.account_id, data)
        return Response(created, status_code=201, headers=_NO_STORE)

    @delete(
        "/v1/orgs/{slug:str}/api-keys/{key_id:uuid}",
        status_code=200,
        opt={"problems": (401, 403, 404)},
    )
    async def revoke_api_key(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        slug: FromPath[str],
        key_id: FromPath[UUID],
    ) -> ApiKey:
        """Revoke a key at once (owners); requests with it get 401 from now on."""
        return await api_keys.revoke_key(conn, slug, account.account_id, key_id)


class PartnerController(Controller):
    tags = ["partners"]

    @get("/v1/partner/events", opt={"problems": (401, 403), "auth": "required"})
    async def sync_partner_events(
        self,
        conn: NamedDependency[asyncpg.Connection],
        partner: NamedDependency[Partner | None],
        settings: NamedDependency[Settings],
        since: Since = None,
        limit: Limit = 100,
    ) -> Response[PartnerEventPage]:
        """Everything that changed after `since` for the key's org (its public events and those
        it co-hosts), oldest first, with tombstones for events the key may no longer show
        (API key with events:read; counts by status with events:counts)."""
        if partner is None:
            raise Unauthorized("Send a partner API key: `Authorization: Bearer cvn_key_…`.")
        page = await partner_sync.sync_events(conn, partner, settings.public_url, since, limit)
        return Response(page, headers=_headers(partner, _NO_STORE))

    @get("/v1/osdi/events", media_type=osdi.MEDIA_TYPE, opt={"problems": (401, 403, 404)})
    async def list_osdi_events(
        self,
        conn: NamedDependency[asyncpg.Connection],
        partner: NamedDependency[Partner | None],
        settings: NamedDependency[Settings],
        languages: NamedDependency[list[str]],
        org: OrgFilter = None,
        cursor: Cursor = None,
        limit: Limit = 25,
    ) -> Response[OsdiEventPage]:
        """Upcoming public events as OSDI (HAL+JSON `osdi:events`), one per shift; an API key
        limits them to its org's and adds counts with events:counts."""
        page = await osdi.list_osdi_events(
            conn,
            partner,
            settings.public_url,
            languages,
            org_slug=org,
            cursor=cursor,
            limit=limit,
        )
        return Response(page, media_type=osdi.MEDIA_TYPE, headers=_headers(partner))

    @get(
        "/v1/osdi/events/{osdi_id:uuid}",
        media_type=osdi.MEDIA_TYPE,
        opt={"problems": (401, 403, 404)},
    )
    async def get_osdi_event(
        self,
        conn: NamedDependency[asyncpg.Connection],
        partner: NamedDependency[Partner | None],
        settings: NamedDependency[Settings],
        languages: NamedDependency[list[str]],
        osdi_id: FromPath[UUID],
    ) -> Response[OsdiEvent]:
        """One OSDI event: by a shift's id, or by the id of an event without shifts."""
        item = await osdi.get_osdi_event(conn, partner, settings.public_url, languages, osdi_id)
        return Response(item, media_type=osdi.MEDIA_TYPE, headers=_headers(partner))
