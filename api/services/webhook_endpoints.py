"""The webhook API: endpoints, their deliveries, redelivery and test messages."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from api.config import Settings
from api.crypto import Keyring
from api.errors import Conflict, NotFound
from api.pagination import decode_cursor, split_page
from api.services import encryption
from api.services.api_keys import Partner, require_org_access
from api.services.ssrf import check_registered_url
from api.services.webhook_signing import SECRET_CLASS, message_body, message_id, new_secret
from db.queries import webhooks as q
from db.queries.audit import insert_audit_entry
from schemas.webhooks import (
    WebhookDelivery,
    WebhookDeliveryPage,
    WebhookEndpoint,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointPage,
    WebhookEndpointPatch,
)

TEST_TYPE = "webhook.test"


def _endpoint(row: asyncpg.Record) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=row["id"],
        url=row["url"],
        description=row["description"],
        event_types=list(row["event_types"]),
        enabled=row["disabled_at"] is None,
        disabled_reason=row["disabled_reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _delivery(row: asyncpg.Record) -> WebhookDelivery:
    return WebhookDelivery(
        id=row["id"],
        webhook_id=row["message_id"],
        event_type=row["event_type"],
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"] if row["status"] == "pending" else None,
        last_attempt_at=row["last_attempt_at"],
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        succeeded_at=row["succeeded_at"],
    )


def check_endpoint_url(url: str, settings: Settings) -> str:
    return check_registered_url(url, settings.outbound_allow_loopback, "receive webhooks")


def _types(types: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(types))


async def _require(
    conn: asyncpg.Connection, slug: str, account_id: UUID | None, partner: Partner | None
) -> asyncpg.Record:
    return await require_org_access(conn, slug, account_id, partner, scope="webhooks:manage")


async def create_endpoint(
    conn: asyncpg.Connection,
    keyring: Keyring,
    settings: Settings,
    slug: str,
    account_id: UUID | None,
    partner: Partner | None,
    data: WebhookEndpointCreate,
) -> WebhookEndpointCreated:
    """A new endpoint; the secret is sealed with the org's key and returned this once."""
    org = await _require(conn, slug, account_id, partner)
    url = check_endpoint_url(data.url, settings)
    secret = new_secret()
    sealed = await encryption.seal(conn, keyring, "org", org["id"], SECRET_CLASS, secret)
    assert sealed is not None
    row = await q.insert_endpoint(
        conn, org["id"], url, data.description.strip(), _types(data.event_types), sealed
    )
    await insert_audit_entry(
        conn, org["id"], account_id, "webhook.created", "webhook_endpoint", row["id"]
    )
    return WebhookEndpointCreated(secret=secret, endpoint=_endpoint(row))


async def list_endpoints(
    conn: asyncpg.Connection,
    slug: str,
    account_id: UUID | None,
    partner: Partner | None,
    cursor: str | None,
    limit: int,
) -> WebhookEndpointPage:
    org = await _require(conn, slug, account_id, partner)
    after = decode_cursor(cursor, tuple[datetime, UUID])
    rows = await q.select_endpoints(conn, org["id"], after, limit + 1)
    page, next_cursor = split_page(rows, limit, lambda r: (r["created_at"], r["id"]))
    return WebhookEndpointPage(items=[_endpoint(r) for r in page], next_cursor=next_cursor)


async def _endpoint_row(
    conn: asyncpg.Connection, org_id: UUID, endpoint_id: UUID, *, for_update: bool = False
) -> asyncpg.Record:
    row = await q.select_endpoint(conn, org_id, endpoint_id, for_update=for_update)
    if row is None:
        raise NotFound("This organization has no webhook endpoint with this id.")
    return row


async def get_endpoint(
    conn: asyncpg.Connection,
    slug: str,
    account_id: UUID | None,
    partner: Partner | None,
    endpoint_id: UUID,
) -> WebhookEndpoint:
    org = await _require(conn, slug, account_id, partner)
    return _endpoint(await _endpoint_row(conn, org["id"], endpoint_id))


async def update_endpoint(
    conn: asyncpg.Connection,
    settings: Settings,
    slug: str,
    account_id: UUID | None,
    partner: Partner | None,
    endpoint_id: UUID,
    data: WebhookEndpointPatch,
) -> WebhookEndpoint:
    org = await _require(conn, slug, account_id, partner)
    row = await _endpoint_row(conn, org["id"], endpoint_id, for_update=True)
    url = check_endpoint_url(data.url, settings) if isinstance(data.url, str) else row["url"]
    row = await q.update_endpoint(
        conn,
        endpoint_id,
        url,
        data.description.strip() if isinstance(data.description, str) else row["description"],
        _types(data.event_types) if isinstance(data.event_types, list) else row["event_types"],
        data.enabled if isinstance(data.enabled, bool) else row["disabled_at"] is None,
    )
    return _endpoint(row)


async def delete_endpoint(
    conn: asyncpg.Connection,
    slug: str,
    account_id: UUID | None,
    partner: Partner | None,
    endpoint_id: UUID,
) -> None:
    org = await _require(conn, slug, account_id, partner)
    if not await q.delete_endpoint(conn, org["id"], endpoint_id):
        raise NotFound("This organization has no webhook endpoint with this id.")
    await insert_audit_entry(
        conn, org["id"], account_id, "webhook.deleted", "webhook_endpoint", endpoint_id
    )


async def list_deliveries(
    conn: asyncpg.Connection,
    slug: str,
    account_id: UUID | None,
    partner: Partner | None,
    endpoint_id: UUID,
    cursor: str | None,
    limit: int,
) -> WebhookDeliveryPage:
    """The delivery log, newest first: status, tries, next try (never the receiver's body)."""
    org = await _require(conn, slug, account_id, partner)
    await _endpoint_row(conn, org["id"], endpoint_id)
    after = decode_cursor(cursor, tuple[datetime, UUID])
    rows = await q.select_deliveries(conn, endpoint_id, after, limit + 1)
    page, next_cursor = split_page(rows, limit, lambda r: (r["created_at"], r["id"]))
    return WebhookDeliveryPage(items=[_delivery(r) for r in page], next_cursor=next_cursor)


async def redeliver(
    conn: asyncpg.Connection,
    slug: str,
    account_id: UUID | None,
    partner: Partner | None,
    endpoint_id: UUID,
    delivery_id: UUID,
) -> WebhookDelivery:
    """Try a failed delivery again now (same webhook-id, fresh backoff)."""
    org = await _require(conn, slug, account_id, partner)
    await _endpoint_row(conn, org["id"], endpoint_id)
    row = await q.redeliver(conn, endpoint_id, delivery_id)
    if row is None:
        if await q.select_delivery(conn, endpoint_id, delivery_id) is None:
            raise NotFound("This endpoint has no delivery with this id.")
        raise Conflict("Only a failed delivery can be sent again; this one is not failed.")
    return _delivery(row)


async def send_test(
    conn: asyncpg.Connection,
    slug: str,
    account_id: UUID | None,
    partner: Partner | None,
    endpoint_id: UUID,
) -> WebhookDelivery:
    """Queue a `webhook.test` message to the endpoint; the worker sends it like any other."""
    org = await _require(conn, slug, account_id, partner)
    endpoint = await _endpoint_row(conn, org["id"], endpoint_id)
    delivery_id = uuid.uuid4()
    body = message_body(TEST_TYPE, datetime.now(UTC), {"endpoint_id": str(endpoint["id"])})
    row = await q.insert_delivery(
        conn, delivery_id, endpoint["id"], org["id"], message_id(delivery_id), TEST_TYPE, body
    )
    return _delivery(row)
