"""Webhook endpoints of an org: register, change, remove, see deliveries, redeliver, test."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from api.config import Settings
from api.crypto import Keyring
from api.deps import caller_account_id
from api.pagination import Cursor, Limit, link_header
from api.services import webhook_endpoints
from api.services.accounts import Caller
from api.services.api_keys import Partner
from schemas.webhooks import (
    WebhookDelivery,
    WebhookDeliveryPage,
    WebhookEndpoint,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointPage,
    WebhookEndpointPatch,
)

_BASE = "/v1/orgs/{slug:str}/webhooks"
_ONE = _BASE + "/{endpoint_id:uuid}"
_PROBLEMS = (401, 403, 404)


def _headers(partner: Partner | None) -> dict[str, str]:
    return partner.rate_headers() if partner else {}


class WebhookController(Controller):
    tags = ["webhooks"]

    @get(_BASE, opt={"problems": _PROBLEMS})
    async def list_webhooks(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        partner: NamedDependency[Partner | None],
        slug: FromPath[str],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[WebhookEndpointPage]:
        """The org's webhook endpoints (organizers, or a key with webhooks:manage)."""
        page = await webhook_endpoints.list_endpoints(
            conn, slug, caller_account_id(caller), partner, cursor, limit
        )
        headers = {
            **_headers(partner),
            **link_header(request, page.next_cursor),
        }
        return Response(page, headers=headers)

    @post(_BASE, opt={"problems": (*_PROBLEMS, 422)})
    async def create_webhook(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        partner: NamedDependency[Partner | None],
        keyring: NamedDependency[Keyring],
        settings: NamedDependency[Settings],
        slug: FromPath[str],
        data: JSONBody[WebhookEndpointCreate],
    ) -> Response[WebhookEndpointCreated]:
        """Register an https endpoint for the chosen event types; its signing secret is
        returned this once."""
        created = await webhook_endpoints.create_endpoint(
            conn, keyring, settings, slug, caller_account_id(caller), partner, data
        )
        headers = {"Cache-Control": "private, no-store", **_headers(partner)}
        return Response(created, status_code=201, headers=headers)

    @get(_ONE, opt={"problems": _PROBLEMS})
    async def get_webhook(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        partner: NamedDependency[Partner | None],
        slug: FromPath[str],
        endpoint_id: FromPath[UUID],
    ) -> Response[WebhookEndpoint]:
        """One endpoint (never its secret)."""
        endpoint = await webhook_endpoints.get_endpoint(
            conn, slug, caller_account_id(caller), partner, endpoint_id
        )
        return Response(endpoint, headers=_headers(partner))

    @patch(_ONE, opt={"problems": (*_PROBLEMS, 422)})
    async def update_webhook(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        partner: NamedDependency[Partner | None],
        settings: NamedDependency[Settings],
        slug: FromPath[str],
        endpoint_id: FromPath[UUID],
        data: JSONBody[WebhookEndpointPatch],
    ) -> Response[WebhookEndpoint]:
        """Change an endpoint's URL, event types or description; `enabled: true` re-enables it."""
        endpoint = await webhook_endpoints.update_endpoint(
            conn, settings, slug, caller_account_id(caller), partner, endpoint_id, data
        )
        return Response(endpoint, headers=_headers(partner))

    @delete(_ONE, opt={"problems": _PROBLEMS})
    async def delete_webhook(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        partner: NamedDependency[Partner | None],
        slug: FromPath[str],
        endpoint_id: FromPath[UUID],
    ) -> None:
        """Remove an endpoint and its delivery log."""
        await webhook_endpoints.delete_endpoint(
            conn, slug, caller_account_id(caller), partner, endpoint_id
        )

    @get(_ONE + "/deliveries", opt={"problems": _PROBLEMS})
    async def list_webhook_deliveries(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        partner: NamedDependency[Partner | None],
        slug: FromPath[str],
        endpoint_id: FromPath[UUID],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[WebhookDeliveryPage]:
        """The endpoint's deliveries, newest first: status, tries and the next try."""
        page = await webhook_endpoints.list_deliveries(
            conn, slug, caller_account_id(caller), partner, endpoint_id, cursor, limit
        )
        headers = {
            **_headers(partner),
            **link_header(request, page.next_cursor),
        }
        return Response(page, headers=headers)

    @post(
        _ONE + "/deliveries/{delivery_id:uuid}/redeliver",
        status_code=202,
        opt={"problems": (*_PROBLEMS, 409)},
    )
    async def redeliver_webhook(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        partner: NamedDependency[Partner | None],
        slug: FromPath[str],
        endpoint_id: FromPath[UUID],
        delivery_id: FromPath[UUID],
    ) -> Response[WebhookDelivery]:
        """Send a failed delivery again (same webhook-id), as soon as the worker can."""
        delivery = await webhook_endpoints.redeliver(
            conn, slug, caller_account_id(caller), partner, endpoint_id, delivery_id
        )
        return Response(delivery, status_code=202, headers=_headers(partner))

    @post(_ONE + "/test", status_code=202, opt={"problems": _PROBLEMS})
    async def test_webhook(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        partner: NamedDependency[Partner | None],
        slug: FromPath[str],
        endpoint_id: FromPath[UUID],
    ) -> Response[WebhookDelivery]:
        """Queue a signed `webhook.test` message to the endpoint; see it in the delivery log."""
        delivery = await webhook_endpoints.send_test(
            conn, slug, caller_account_id(caller), partner, endpoint_id
        )
        return Response(delivery, status_code=202, headers=_headers(partner))
