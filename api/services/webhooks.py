"""Webhooks after Standard Webhooks v1: endpoints, the outbox fan-out, and signed deliveries.

Every change writes an outbox row in its own transaction. The worker fans each row out once
(`FOR UPDATE SKIP LOCKED`, then marked dispatched) into one delivery per subscribed endpoint,
with a thin body serialised once: ids, status, counts, never a name or a contact. Events follow
the partner rules: only public, published events of the endpoint's org (own or co-hosted) are
announced; one that stops being visible is sent as `event.deleted` with a `reason`.

Deliveries are claimed with `FOR UPDATE SKIP LOCKED` and stay locked while they are sent, so
any number of workers share them; a worker that dies mid-delivery releases its lock with its
connection and the delivery is tried again under the same `webhook-id` (receivers deduplicate
by it). Only 2xx is success; 410 disables the endpoint; other failures back off exponentially
with jitter for more than three days, then the endpoint is disabled. Receivers' bodies are never
read or kept.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import random
import secrets
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import msgspec

from api.config import Settings
from api.crypto import DecryptionError, Keyring
from api.errors import Conflict, NotFound
from api.pagination import decode_cursor, split_page
from api.services import encryption
from api.services.api_keys import Partner, require_org_access
from api.services.ssrf import (
    BlockedTarget,
    OutboundPolicy,
    check_registered_url,
    guarded_client,
)
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

SECRET_CLASS = "webhook_secret"
SECRET_PREFIX = "whsec_"
TEST_TYPE = "webhook.test"
EVENT_TOPICS = ("event.created", "event.updated", "event.cancelled", "event.deleted")
#: retry delays after each failed try (seconds): 10 tries over about 3 days
DEFAULT_SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 50400.0, 72000.0, 86400.0)
MAX_RETRY_AFTER_S = 86400.0


@dataclass(frozen=True)
class DeliveryPolicy:
    """How deliveries are sent and retried; tests shorten the schedule and the timeout."""

    schedule: Sequence[float] = DEFAULT_SCHEDULE
    jitter: float = 0.2
    timeout_s: float = 15.0
    batch: int = 10
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, failures: int, retry_after: float | None) -> float | None:
        """Seconds until the next try after `failures` failed tries; None when none is left."""
        if failures > len(self.schedule):
            return None
        base = self.schedule[failures - 1]
        delay = base * (1 + self.rng.uniform(-self.jitter, self.jitter))
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER_S))
        return delay


# ---------------------------------------------------------------- signing


def new_secret() -> str:
    """`whsec_` + base64 of 32 random bytes (Standard Webhooks asks for 24 to 64)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: str) -> str:
    """The webhook-signature header: `v1,` + base64(HMAC-SHA256(key, "id.timestamp.body"))."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    mac = hmac.new(key, f"{message_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def _body(event_type: str, moment: datetime, data: dict[str, Any]) -> str:
    return msgspec.json.encode(
        {"type": event_type, "timestamp": moment.astimezone(UTC).isoformat(), "data": data}
    ).decode()


# ---------------------------------------------------------------- endpoints (the API)


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
    body = _body(TEST_TYPE, datetime.now(UTC), {"endpoint_id": str(endpoint["id"])})
    row = await q.insert_delivery(
        conn, delivery_id, endpoint["id"], org["id"], _message_id(delivery_id), TEST_TYPE, body
    )
    return _delivery(row)


# ---------------------------------------------------------------- fan-out (the worker)


def _message_id(delivery_id: UUID) -> str:
    return f"msg_{delivery_id.hex}"


def subscribed(event_types: Sequence[str], event_type: str) -> bool:
    return event_type in event_types or (event_type.startswith("ride.") and "ride.*" in event_types)


def _visible_to(event: asyncpg.Record, org_id: UUID) -> bool:
    hosted = event["org_id"] == org_id or org_id in event["cohost_ids"]
    return hosted and event["visibility"] == "public" and event["status"] != "draft"


def _hidden_reason(event: asyncpg.Record | None, org_id: UUID) -> str:
    if event is None:
        return "deleted"
    if not (event["org_id"] == org_id or org_id in event["cohost_ids"]):
        return "org_removed"
    return "not_public"


def _thin(payload: Mapping[str, Any], subject_id: UUID) -> dict[str, Any]:
    """Ids and whole numbers only, whatever else the writer put in the outbox row."""
    thin: dict[str, Any] = {"id": str(subject_id)}
    for key, value in payload.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, int) or (
            key.endswith("id") and isinstance(value, str) and _is_uuid(value)
        ):
            thin[key] = value
    return thin


def _is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True


async def _event_messages(
    conn: asyncpg.Connection, row: asyncpg.Record, public_url: str
) -> list[tuple[UUID, str, dict[str, Any]]]:
    """(org, type, data) for an event change, per org whose partners may hear of it."""
    event_id = row["subject_id"]
    event = await q.select_event_state(conn, event_id)
    announced = set(await q.select_announced_orgs(conn, event_id))
    orgs = set(announced)
    if event is not None:
        orgs |= {event["org_id"], *event["cohost_ids"]}
    # an org with no live endpoint hears nothing, so nothing is announced to it either: its
    # first endpoint later starts with `event.created`
    listening = {e["org_id"] for e in await q.select_live_endpoints(conn, list(orgs))}
    messages = []
    for org_id in sorted(orgs & listening):
        if event is not None and _visible_to(event, org_id):
            if org_id not in announced:
                event_type = "event.created"
                await q.insert_announcement(conn, org_id, event_id)
            elif event["status"] == "cancelled" and row["topic"] == "event.cancelled":
                event_type = "event.cancelled"
            else:
                event_type = "event.updated"
            data = {
                "id": str(event_id),
                "org": event["org_slug"],
                "status": event["status"],
                "sequence": event["sequence"],
                "change_seq": event["change_seq"],
                "url": f"{public_url}/v1/events/{event_id}",
            }
        elif org_id in announced:
            event_type = "event.deleted"
            data = {"id": str(event_id), "reason": _hidden_reason(event, org_id)}
            await q.delete_announcement(conn, org_id, event_id)
        else:
            continue
        messages.append((org_id, event_type, data))
    return messages


async def _counts_messages(
    conn: asyncpg.Connection, row: asyncpg.Record, public_url: str
) -> list[tuple[UUID, str, dict[str, Any]]]:
    event = await q.select_event_state(conn, row["subject_id"])
    if event is None or event["hide_counts"]:
        return []
    payload = row["payload"] or {}
    data = {
        "event_id": str(event["id"]),
        "shift_id": payload.get("shift_id") if _is_uuid(str(payload.get("shift_id"))) else None,
        "going": int(payload.get("going") or 0),
        "waitlisted": int(payload.get("waitlisted") or 0),
        "url": f"{public_url}/v1/events/{event['id']}",
    }
    hosts = [event["org_id"], *event["cohost_ids"]]
    return [(o, "rsvp.counts_changed", data) for o in hosts if _visible_to(event, o)]


async def _public_context(conn: asyncpg.Connection, row: asyncpg.Record) -> bool:
    """Trip and ride messages go out only about public trips and partner-visible events."""
    payload = row["payload"] or {}
    trip_id = row["subject_id"] if row["topic"].startswith("trip.") else payload.get("trip_id")
    event_id = payload.get("event_id") if row["topic"].startswith("ride.") else None
    if trip_id and _is_uuid(str(trip_id)):
        trip = await q.select_trip_state(conn, UUID(str(trip_id)))
        if trip is None or trip["visibility"] != "public" or trip["status"] == "draft":
            return False
    if event_id and _is_uuid(str(event_id)):
        event = await q.select_event_state(conn, UUID(str(event_id)))
        if event is None or not _visible_to(event, row["org_id"]):
            return False
    return True


async def fan_out(conn: asyncpg.Connection, public_url: str, *, limit: int = 200) -> int:
    """Turn undispatched outbox rows into deliveries (one transaction); returns rows handled."""
    async with conn.transaction():
        rows = await q.claim_outbox(conn, limit)
        for row in rows:
            topic = row["topic"]
            if topic in EVENT_TOPICS:
                messages = await _event_messages(conn, row, public_url)
            elif topic == "rsvp.counts_changed":
                messages = await _counts_messages(conn, row, public_url)
            elif (topic == "trip.updated" or topic.startswith("ride.")) and row["org_id"]:
                messages = []
                if await _public_context(conn, row):
                    data = _thin(row["payload"] or {}, row["subject_id"])
                    messages = [(row["org_id"], topic, data)]
            else:
                messages = []
            if messages:
                endpoints = await q.select_live_endpoints(conn, [m[0] for m in messages])
                for org_id, event_type, data in messages:
                    body = _body(event_type, row["created_at"], data)
                    for endpoint in endpoints:
                        if endpoint["org_id"] == org_id and subscribed(
                            endpoint["event_types"], event_type
                        ):
                            delivery_id = uuid.uuid4()
                            await q.insert_delivery(
                                conn,
                                delivery_id,
                                endpoint["id"],
                                org_id,
                                _message_id(delivery_id),
                                event_type,
                                body,
                            )
        if rows:
            await q.mark_dispatched(conn, [r["id"] for r in rows])
    return len(rows)


# ---------------------------------------------------------------- delivery (the worker)


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


async def send_once(
    client: httpx.AsyncClient,
    url: str,
    secret: str,
    message_id: str,
    body: str,
    *,
    timeout_s: float,
) -> Outcome:
    """POST the body once, signed for this moment; the response body is never read."""
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "user-agent": "Caravan-Webhooks/1.0",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }
    try:
        async with asyncio.timeout(timeout_s):
            async with client.stream("POST", url, content=body.encode(), headers=headers) as r:
                code = r.status_code
                retry_after = _retry_after(r.headers.get("retry-after"))
    except TimeoutError:
        return Outcome(None, f"no answer within {timeout_s:g} s")
    except BlockedTarget as exc:
        return Outcome(None, f"refused: {exc}")
    except httpx.TimeoutException:
        return Outcome(None, f"no answer within {timeout_s:g} s")
    except httpx.HTTPError as exc:
        return Outcome(None, f"could not connect ({type(exc).__name__})")
    if 200 <= code < 300:
        return Outcome(code, None)
    return Outcome(code, f"HTTP {code}", retry_after if code in (429, 503) else None)


async def _record(
    conn: asyncpg.Connection, delivery: asyncpg.Record, outcome: Outcome, policy: DeliveryPolicy
) -> None:
    if outcome.ok:
        await q.record_attempt(
            conn,
            delivery["id"],
            status="succeeded",
            status_code=outcome.status_code,
            error=None,
            retry_in_s=None,
        )
        return
    if outcome.status_code == 410:
        await q.record_attempt(
            conn,
            delivery["id"],
            status="failed",
            status_code=410,
            error=outcome.error,
            retry_in_s=None,
        )
        await q.disable_endpoint(conn, delivery["endpoint_id"], "the receiver answered 410 Gone")
        return
    delay = policy.delay(delivery["round_attempts"] + 1, outcome.retry_after)
    await q.record_attempt(
        conn,
        delivery["id"],
        status="pending" if delay is not None else "failed",
        status_code=outcome.status_code,
        error=outcome.error,
        retry_in_s=delay,
    )
    if delay is None:
        await q.disable_endpoint(conn, delivery["endpoint_id"], "every retry of a delivery failed")
        await insert_audit_entry(
            conn,
            delivery["org_id"],
            None,
            "webhook.disabled",
            "webhook_endpoint",
            delivery["endpoint_id"],
            {"reason": "every retry failed"},
        )


async def deliver_due(
    conn: asyncpg.Connection,
    keyring: Keyring,
    outbound: OutboundPolicy,
    policy: DeliveryPolicy,
    *,
    inner: httpx.AsyncBaseTransport | None = None,
) -> int:
    """Claim due deliveries, send them concurrently, record the outcomes; one transaction, so a
    worker killed on the way leaves them pending. Returns how many were tried."""
    timeout = httpx.Timeout(policy.timeout_s, connect=min(5.0, policy.timeout_s))
    async with conn.transaction():
        claimed = await q.claim_due_deliveries(conn, policy.batch)
        if not claimed:
            return 0
        secrets_by_endpoint: dict[UUID, str | None] = {}
        for delivery in claimed:
            if delivery["endpoint_id"] not in secrets_by_endpoint:
                try:
                    secrets_by_endpoint[delivery["endpoint_id"]] = await encryption.open_sealed(
                        conn,
                        keyring,
                        "org",
                        delivery["org_id"],
                        SECRET_CLASS,
                        delivery["secret_ciphertext"],
                    )
                except DecryptionError:
                    secrets_by_endpoint[delivery["endpoint_id"]] = None
        async with guarded_client(outbound, timeout=timeout, inner=inner) as client:

            async def attempt(delivery: asyncpg.Record) -> Outcome:
                secret = secrets_by_endpoint[delivery["endpoint_id"]]
                if secret is None:
                    return Outcome(None, "the signing secret is no longer available")
                return await send_once(
                    client,
                    delivery["url"],
                    secret,
                    delivery["message_id"],
                    delivery["body"],
                    timeout_s=policy.timeout_s,
                )

            async def in_order(group: list[asyncpg.Record]) -> list[Outcome]:
                outcomes: list[Outcome] = []
                for delivery in group:
                    outcomes.append(await attempt(delivery))
                    if outcomes[-1].status_code == 410:
                        break  # the endpoint is gone: the rest stay pending, unsent
                return outcomes

            # endpoints in parallel; one endpoint's messages one after another, in order
            groups: dict[UUID, list[asyncpg.Record]] = {}
            for delivery in claimed:
                groups.setdefault(delivery["endpoint_id"], []).append(delivery)
            results = await asyncio.gather(*(in_order(g) for g in groups.values()))
        for group, outcomes in zip(groups.values(), results, strict=True):
            for delivery, outcome in zip(group, outcomes, strict=False):
                await _record(conn, delivery, outcome, policy)
    return len(claimed)


async def run_webhooks(
    pool: Any,
    settings: Settings,
    keyring: Keyring,
    *,
    policy: DeliveryPolicy | None = None,
    outbound: OutboundPolicy | None = None,
) -> int:
    """One worker round: fan the outbox out, then send what is due. Returns work done."""
    policy = policy or DeliveryPolicy()
    outbound = outbound or OutboundPolicy(allow_loopback=settings.outbound_allow_loopback)
    async with pool.acquire() as conn:
        done = await fan_out(conn, settings.public_url)
    async with pool.acquire() as conn:
        done += await deliver_due(conn, keyring, outbound, policy)
    return done
