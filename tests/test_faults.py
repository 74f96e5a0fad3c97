"""Faults: the database cut under load, an exhausted pool, statement and lock timeouts, SIGTERM.

Each fault answers 503 with Retry-After (never 500, never a hang) and the service recovers
by itself; a stopped server or worker finishes what it holds or leaves it in PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from api.app import create_app
from api.crypto import Keyring
from api.worker import run_partner_jobs, run_worker
from db.pool import connect, create_pool, init_connection, server_settings
from tests.conftest import create_test_database, drop_test_database, settings_for
from tests.events_helpers import published_event
from tests.faults import DatabaseProxy
from tests.live_server import CARAVAN, TEST_ENV, LiveServer, by_name
from tests.people import create_org, sign_up
from tests.pgbouncer import bounced, pgbouncer_binary
from tests.problems import assert_problem
from tests.test_webhooks_helpers import LoopbackServer, Reply, register_endpoint

pytestmark = pytest.mark.concurrency

#: a generous bound on any single request: far above every timeout in play, far below a hang
ANSWERS_WITHIN_S = 10.0


@contextlib.asynccontextmanager
async def app_on(pool: Any, database_url: str, **env: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings_for(database_url, **env), pool=pool)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def assert_unavailable(response: httpx.Response) -> None:
    assert_problem(response, 503, "unavailable")
    assert int(response.headers["retry-after"]) > 0


@dataclass
class Outcome:
    started: float
    finished: float
    status: int
    retry_after: str | None


# ------------------------------------------------------------------ the database goes away


async def test_database_cut_under_load_answers_503_then_recovers_within_a_second(
    live_database_url,
):
    proxy = DatabaseProxy(live_database_url)
    await proxy.start()
    pool = await create_pool(proxy.url, min_size=2, max_size=4, statement_timeout_ms=2000)
    outcomes: list[Outcome] = []
    cut_at = restored_at = stop_at = float("inf")
    try:
        async with app_on(pool, live_database_url, CARAVAN_POOL_ACQUIRE_TIMEOUT_MS="1000") as http:
            owner = await sign_up(http, "Owner")
            org = await create_org(http, owner)
            paths = ["/v1/orgs", f"/v1/orgs/{org['slug']}", "/readyz", "/v1/me"]

            async def client(n: int) -> None:
                # bounded: at most 400 requests per client, and only until stop_at
                for i in range(400):
                    if time.monotonic() >= stop_at:
                        return
                    started = time.monotonic()
                    response = await asyncio.wait_for(
                        http.get(paths[(n + i) % len(paths)], headers=owner.headers),
                        ANSWERS_WITHIN_S,
                    )
                    outcomes.append(
                        Outcome(
                            started,
                            time.monotonic(),
                            response.status_code,
                            response.headers.get("retry-after"),
                        )
                    )
                    await asyncio.sleep(0.005)

            async def chaos() -> None:
                nonlocal cut_at, restored_at, stop_at
                await asyncio.sleep(0.3)
                cut_at = time.monotonic()
                await proxy.cut()
                await asyncio.sleep(1.0)
                await proxy.restore()
                restored_at = time.monotonic()
                stop_at = restored_at + 1.5

            await asyncio.gather(chaos(), *(client(n) for n in range(6)))
    finally:
        await proxy.cut()
        pool.terminate()

    statuses = [o.status for o in outcomes]
    assert 500 not in statuses
    assert set(statuses) <= {200, 503}, sorted(set(statuses))
    assert all(o.retry_after for o in outcomes if o.status == 503)
    assert all(o.finished - o.started < ANSWERS_WITHIN_S for o in outcomes)
    before = [o.status for o in outcomes if o.finished < cut_at]
    during = [o.status for o in outcomes if o.started > cut_at + 0.05 and o.finished < restored_at]
    assert before and set(before) == {200}
    assert during and set(during) == {503}
    recovered = [o for o in outcomes if o.started >= restored_at and o.status == 200]
    assert recovered, "no request succeeded after the database came back"
    assert min(o.finished for o in recovered) - restored_at < 1.0
    # once one request got through, the pool is whole again: every later one succeeds
    settled = min(o.finished for o in recovered)
    assert {o.status for o in outcomes if o.started > settled} == {200}


async def test_an_exhausted_pool_answers_503_quickly_and_serves_again_when_freed(
    live_database_url,
):
    pool = await create_pool(live_database_url, min_size=2, max_size=2)
    try:
        async with app_on(pool, live_database_url, CARAVAN_POOL_ACQUIRE_TIMEOUT_MS="200") as http:
            held = [await pool.acquire(), await pool.acquire()]  # two slow requests
            try:
                response = await asyncio.wait_for(http.get("/v1/orgs"), ANSWERS_WITHIN_S)
                assert_unavailable(response)
                health = await asyncio.wait_for(http.get("/readyz"), ANSWERS_WITHIN_S)
                assert_unavailable(health)
            finally:
                for conn in held:
                    await pool.release(conn)
            assert (await http.get("/v1/orgs")).status_code == 200
    finally:
        await pool.close()


@pytest.fixture(params=["direct", "pgbouncer"])
def route(request: pytest.FixtureRequest) -> str:
    """Straight to PostgreSQL, or through a real PgBouncer in transaction pooling."""
    if request.param == "pgbouncer" and pgbouncer_binary() is None:
        pytest.skip("pgbouncer is not installed (apt-get install pgbouncer) to test behind it")
    return str(request.param)


@contextlib.asynccontextmanager
async def _pool_with(
    route: str, database_url: str, **overrides: Any
) -> AsyncIterator[asyncpg.Pool]:
    """A pool like db.pool's, with some timeouts overridden (server settings or the client's).
    Through PgBouncer the server settings are the database's defaults, as in production."""
    command_timeout = overrides.pop("command_timeout", None)
    async with contextlib.AsyncExitStack() as stack:
        if route == "pgbouncer":
            url = await stack.enter_async_context(bounced(database_url, **overrides))
            settings, cache = server_settings(10_000, "pgbouncer"), 0
        else:
            url, settings, cache = database_url, {**server_settings(10_000), **overrides}, 100
        pool = await asyncpg.create_pool(
            url,
            min_size=1,
            max_size=3,
            init=init_connection,
            server_settings=settings,
            statement_cache_size=cache,
            command_timeout=command_timeout,
        )
        assert pool is not None
        stack.push_async_callback(pool.close)
        yield pool


@pytest.mark.parametrize(
    "timeouts",
    [
        pytest.param({"lock_timeout": "300"}, id="lock-timeout"),
        pytest.param({"lock_timeout": "0", "statement_timeout": "300"}, id="statement-timeout"),
        pytest.param(
            {"lock_timeout": "0", "statement_timeout": "0", "command_timeout": 0.3},
            id="command-timeout",
        ),
    ],
)
async def test_a_locked_row_past_the_timeout_is_a_503_and_the_connection_is_reusable(
    live_database_url, timeouts, route
):
    locker = await connect(live_database_url)
    try:
        async with (
            _pool_with(route, live_database_url, **timeouts) as pool,
            app_on(pool, live_database_url) as http,
        ):
            owner = await sign_up(http, "Owner")
            org = await create_org(http, owner)
            event = await published_event(http, org, owner)
            patch = {"capacity": 40}
            async with locker.transaction():
                await locker.execute("SELECT 1 FROM events WHERE id = $1 FOR UPDATE", event["id"])
                response = await asyncio.wait_for(
                    http.patch(f"/v1/events/{event['id']}", json=patch, headers=owner.headers),
                    ANSWERS_WITHIN_S,
                )
                assert_unavailable(response)
            # the lock is gone: the same request succeeds, on the same (reused) connections
            again = await http.patch(f"/v1/events/{event['id']}", json=patch, headers=owner.headers)
            assert again.status_code == 200, again.text
            assert again.json()["capacity"] == 40
    finally:
        await locker.close()


@pytest.mark.parametrize(
    "timeouts",
    [
        pytest.param({"lock_timeout": "300"}, id="lock-timeout"),
        pytest.param({"lock_timeout": "0", "statement_timeout": "300"}, id="statement-timeout"),
    ],
)
async def test_a_read_that_times_out_is_a_503_and_leaves_its_connection_clean(
    live_database_url, timeouts, route
):
    """Reads run without a transaction block: one that fails must leave nothing half-open on
    the pool's connections."""
    locker = await connect(live_database_url)
    try:
        async with _pool_with(route, live_database_url, **timeouts) as pool:
            async with app_on(pool, live_database_url) as http:
                owner = await sign_up(http, "Owner")
                org = await create_org(http, owner)
                event = await published_event(http, org, owner)
                async with locker.transaction():
                    await locker.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
                    response = await asyncio.wait_for(
                        http.get(f"/v1/events/{event['id']}", headers=owner.headers),
                        ANSWERS_WITHIN_S,
                    )
                    assert_unavailable(response)
                again = await http.get(f"/v1/events/{event['id']}", headers=owner.headers)
                assert again.status_code == 200, again.text
            async with pool.acquire() as conn:
                assert not conn.is_in_transaction()
                assert await conn.fetchval("SELECT 1") == 1
    finally:
        await locker.close()


# ------------------------------------------------------------------ SIGTERM


async def test_sigterm_lets_requests_in_flight_finish_and_the_server_exits_0(tmp_path):
    database_url = await create_test_database("caravan_drain")
    server = LiveServer(database_url, tmp_path / "serve.log")
    locker = await connect(database_url)
    try:
        await server.start()
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            owner = await sign_up(http, "Owner")
            org = await create_org(http, owner)
            event = await published_event(http, org, owner)
            in_flight = 8  # fewer than the server's pool (10): all reach the lock
            async with locker.transaction():
                # every RSVP locks the event row first: these wait until the lock goes
                await locker.execute("SELECT 1 FROM events WHERE id = $1 FOR UPDATE", event["id"])
                requests = [
                    asyncio.create_task(
                        http.post(f"/v1/events/{event['id']}/rsvps", json={"alias": f"P{n}"})
                    )
                    for n in range(in_flight)
                ]
                await _wait_for_lock_waiters(locker, in_flight)
                server.terminate()
                await asyncio.sleep(0.5)  # the server is draining; the requests still wait
                assert not any(task.done() for task in requests)
            responses = await asyncio.gather(*requests)
        assert [r.status_code for r in responses] == [201] * in_flight
        assert await server.wait() == 0
        assert await locker.fetchval("SELECT count(*) FROM rsvps") == in_flight
    finally:
        server.kill()
        await locker.close()
        await drop_test_database(database_url)


async def _wait_for_lock_waiters(conn: asyncpg.Connection, n: int) -> None:
    for _ in range(200):
        # inside a transaction the activity view is a snapshot taken once: clear it each time
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        waiting = await conn.fetchval(
            """
            SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'
            """
        )
        if waiting >= n:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"only {waiting} requests reached the lock")


async def test_sigterm_stops_the_worker_and_leaves_undelivered_jobs_in_postgres(tmp_path):
    database_url = await create_test_database("caravan_worker")
    settings = settings_for(database_url, CARAVAN_OUTBOUND_ALLOW_LOOPBACK="1")
    pool = await create_pool(database_url, min_size=1, max_size=4)
    worker: subprocess.Popen[bytes] | None = None
    try:
        async with (
            app_on(pool, database_url, CARAVAN_OUTBOUND_ALLOW_LOOPBACK="1") as http,
            LoopbackServer(lambda _: Reply(200, delay=0.4)) as receiver,
        ):
            owner = await sign_up(http, "Owner")
            org = await create_org(http, owner)
            await register_endpoint(http, org, owner, receiver.url, ["event.created"])
            for _ in range(5):
                await published_event(http, org, owner)
            with (tmp_path / "worker.log").open("wb") as log:
                worker = subprocess.Popen(
                    [str(CARAVAN), "worker", "--interval", "60"],
                    env={
                        **os.environ,
                        **TEST_ENV,
                        "DATABASE_URL": by_name(database_url),
                        "CARAVAN_OUTBOUND_ALLOW_LOOPBACK": "1",
                    },
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
                await asyncio.wait_for(receiver.arrived.wait(), 30)
                worker.send_signal(signal.SIGTERM)  # mid-round: a delivery is in flight
                code = await asyncio.to_thread(worker.wait, 30)
            assert code == 0, (tmp_path / "worker.log").read_text()

            async with pool.acquire() as conn:
                outbox = await conn.fetchval(
                    "SELECT count(*) FROM outbox WHERE topic = 'event.created'"
                )
                rows = await conn.fetch("SELECT status FROM webhook_deliveries")
            # every change is still an outbox row, fanned out or not; every delivery is either
            # done or pending for the next worker: none failed, none vanished
            assert outbox == 5
            assert {r["status"] for r in rows} <= {"succeeded", "pending"}

            # the next worker picks up whatever is left, and every event arrives
            keyring = Keyring(settings.secret_key)
            for _ in range(20):
                if not await run_partner_jobs(pool, settings, keyring):
                    break
            async with pool.acquire() as conn:
                statuses = await conn.fetch("SELECT status FROM webhook_deliveries")
            assert [r["status"] for r in statuses] == ["succeeded"] * 5
            assert len({r.headers["webhook-id"] for r in receiver.received}) == 5
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.wait()
        await pool.close()
        await drop_test_database(database_url)


async def test_a_connection_killed_mid_request_is_a_503_not_a_500(live_database_url):
    # the request's own rollback then fails on the dead connection; that must not turn the
    # 503 into a 500 (Litestar reports a failed dependency cleanup as an exception group)
    pool = await create_pool(live_database_url, min_size=1, max_size=3)
    locker = await connect(live_database_url)
    try:
        async with app_on(pool, live_database_url) as http:
            owner = await sign_up(http, "Owner")
            org = await create_org(http, owner)
            event = await published_event(http, org, owner)
            async with locker.transaction():
                await locker.execute("SELECT 1 FROM events WHERE id = $1 FOR UPDATE", event["id"])
                request = asyncio.create_task(
                    http.patch(
                        f"/v1/events/{event['id']}", json={"capacity": 9}, headers=owner.headers
                    )
                )
                await _wait_for_lock_waiters(locker, 1)
                await locker.execute(
                    """
                    SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                     WHERE datname = current_database() AND wait_event_type = 'Lock'
                    """
                )
                response = await asyncio.wait_for(request, ANSWERS_WITHIN_S)
            assert_unavailable(response)
            # the pool replaced the dead connection
            assert (await http.get(f"/v1/events/{event['id']}")).status_code == 200
    finally:
        await locker.close()
        await pool.close()


def test_an_exception_group_of_outages_is_a_503():
    from api.errors import handle_unexpected

    group = ExceptionGroup("cleanup", [ConnectionResetError(), TimeoutError()])
    assert handle_unexpected(None, group).status_code == 503  # type: ignore[arg-type]
    mixed = ExceptionGroup("cleanup", [ConnectionResetError(), KeyError("x")])
    assert handle_unexpected(None, mixed).status_code == 500  # type: ignore[arg-type]


async def test_the_worker_rides_out_a_database_outage_and_stops_on_sigterm(
    live_database_url, caplog
):
    caplog.set_level(logging.INFO, logger="caravan.worker")
    proxy = DatabaseProxy(live_database_url)
    await proxy.start()
    settings = settings_for(proxy.url)
    worker = asyncio.create_task(run_worker(settings, interval_s=0.2, tick_s=0.05))
    try:
        await _until(lambda: "housekeeping done" in caplog.text)
        await proxy.cut()
        await _until(lambda: "housekeeping failed" in caplog.text)
        await asyncio.sleep(0.3)
        assert not worker.done(), "the worker died with the database"
        caplog.clear()
        await proxy.restore()
        await _until(lambda: "housekeeping done" in caplog.text)
        os.kill(os.getpid(), signal.SIGTERM)  # run_worker's own handler stops it
        await asyncio.wait_for(worker, ANSWERS_WITHIN_S)
    finally:
        if not worker.done():
            worker.cancel()
        await proxy.cut()


async def _until(condition: Any, timeout_s: float = ANSWERS_WITHIN_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)
