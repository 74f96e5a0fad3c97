"""Sending webhook deliveries: signed, retried with backoff, shared between workers.

Deliveries are claimed with `FOR UPDATE SKIP LOCKED` and stay locked while they are sent, so
any number of workers share them; a worker that dies mid-delivery releases its lock with its
connection and the delivery is tried again under the same `webhook-id` (receivers deduplicate
by it). Only 2xx is success; 410 disables the endpoint; other failures back off exponentially
with jitter for more than three days, then the endpoint is disabled. Receivers' bodies are never
read or kept.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from api.config import Settings
from api.crypto import DecryptionError, Keyring
from api.services import encryption
from api.services.ssrf import BlockedTarget, OutboundPolicy, guarded_client
from api.services.webhook_fanout import fan_out
from api.services.webhook_signing import SECRET_CLASS, sign
from db.queries import webhooks as q
from db.queries.audit import insert_audit_entry

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
