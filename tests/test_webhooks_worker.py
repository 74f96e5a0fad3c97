"""Webhook delivery by `caravan worker` processes: killed mid-delivery, or many at once."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.crypto import Keyring
from api.services import webhook_delivery, webhook_fanout
from api.worker import run_partner_jobs
from db.pool import connect, create_pool
from tests.conftest import settings_for
from tests.events_helpers import published_event
from tests.people import create_org, sign_up
from tests.test_webhooks_helpers import FAST, LOOPBACK, LoopbackServer, Reply, register_endpoint

pytestmark = pytest.mark.concurrency


@contextlib.asynccontextmanager
async def live_app(database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, Any, Any]]:
    """A client on an app with a real pool, allowed to call loopback receivers."""
    settings = settings_for(database_url, CARAVAN_OUTBOUND_ALLOW_LOOPBACK="1")
    pool = await create_pool(database_url, min_size=1, max_size=6)
    app = create_app(settings, pool=pool)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client:
            yield client, pool, settings
    finally:
        await pool.close()


async def test_a_worker_killed_mid_delivery_loses_nothing(live_client, live_database_url):
    release = asyncio.Event()

    async def receive(request: Any) -> Reply:
        if len(receiver.received) == 1:
            await release.wait()  # hold the first try open until its worker is gone
        return Reply(200)

    async with (
        live_app(live_database_url) as (client, pool, settings),
        LoopbackServer(receive) as receiver,
    ):
        keyring = Keyring(settings.secret_key)
        owner = await sign_up(client, "Owner")
        org = await create_org(client, owner)
        await register_endpoint(client, org, owner, receiver.url, ["event.created"])
        await published_event(client, org, owner)
        async with pool.acquire() as conn:
            await webhook_fanout.fan_out(conn, settings.public_url)

        doomed = await connect(live_database_url)
        task = asyncio.create_task(webhook_delivery.deliver_due(doomed, keyring, LOOPBACK, FAST))
        await asyncio.wait_for(receiver.arrived.wait(), 10)
        doomed.terminate()  # the worker's connection dies mid-flight ...
        task.cancel()  # ... and so does the worker
        with contextlib.suppress(BaseException):
            await task
        release.set()

        delivered = 0
        stop = time.monotonic() + 10
        async with pool.acquire() as conn:
            row = await conn.fetchrow("SELECT status, attempts FROM webhook_deliveries")
            assert (row["status"], row["attempts"]) == ("pending", 0)
            while not delivered and time.monotonic() < stop:
                # the dead worker's lock goes when the server notices; then another takes over
                delivered = await webhook_delivery.deliver_due(conn, keyring, LOOPBACK, FAST)
                await asyncio.sleep(0.05)
            row = await conn.fetchrow("SELECT status, attempts FROM webhook_deliveries")
        assert (row["status"], row["attempts"]) == ("succeeded", 1)

    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(ids) == 2 and ids[0] == ids[1]  # the duplicate is recognisable by webhook-id


async def test_many_workers_send_each_delivery_once(live_client, live_database_url):
    async with (
        live_app(live_database_url) as (client, pool, settings),
        LoopbackServer(lambda _: Reply(200, delay=0.05)) as receiver,
    ):
        keyring = Keyring(settings.secret_key)
        owner = await sign_up(client, "Owner")
        org = await create_org(client, owner)
        await register_endpoint(client, org, owner, receiver.url, ["event.created"])
        for _ in range(6):
            await published_event(client, org, owner)
        # the worker's own round (fan-out, then delivery) in three processes at once
        small = webhook_delivery.DeliveryPolicy(schedule=(0.0,), jitter=0.0, timeout_s=2.0, batch=2)

        async def worker() -> None:
            await run_partner_jobs(pool, settings, keyring)
            async with pool.acquire() as conn:
                while await webhook_delivery.deliver_due(conn, keyring, LOOPBACK, small):
                    pass

        await asyncio.gather(worker(), worker(), worker())
        async with pool.acquire() as conn:
            statuses = await conn.fetch("SELECT status, attempts FROM webhook_deliveries")
    assert sorted((r["status"], r["attempts"]) for r in statuses) == [("succeeded", 1)] * 6
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(ids) == 6 and len(set(ids)) == 6
