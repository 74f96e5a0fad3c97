"""Fixtures: a fresh database per test run, a rolled-back transaction per test, an HTTP client."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from api.app import create_app
from api.config import Settings, load_settings
from db.migrate import migrate, set_database_defaults
from db.pool import connect, create_pool, session_defaults
from tests.pgbouncer import PgBouncer, pgbouncer_binary

EMBEDDED_DIR = Path(".caravan") / "test-pgdata"
_embedded_handle: Any = None


def server_url() -> str:
    """DATABASE_URL's server, or an embedded one started for this run."""
    global _embedded_handle
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    if _embedded_handle is None:
        from db.embedded import start_embedded

        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        _, _embedded_handle = start_embedded(EMBEDDED_DIR / worker)
    return str(_embedded_handle.get_uri())


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def settings_for(database_url: str, **overrides: str) -> Settings:
    env = {
        "CARAVAN_MODE": "test",
        "DATABASE_URL": database_url,
        "CARAVAN_SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        # cheap hashing keeps the suite fast; production uses OWASP's floor (19 MiB, t=2)
        "CARAVAN_ARGON2_MEMORY_KIB": "64",
        "CARAVAN_ARGON2_TIME_COST": "1",
        "CARAVAN_MAX_BODY_BYTES": "65536",
    }
    env.update(overrides)
    return load_settings(env)


async def create_test_database(prefix: str) -> str:
    admin = await connect(server_url())
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = with_database(server_url(), name)
    conn = await connect(url)
    try:
        await migrate(conn)
        # as `caravan migrate` leaves a database behind PgBouncer (direct connections, which
        # send their own, are not affected)
        await set_database_defaults(conn, session_defaults(10_000))
    finally:
        await conn.close()
    return url


async def drop_test_database(url: str) -> None:
    admin = await connect(server_url())
    try:
        name = urlsplit(url).path.lstrip("/")
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    url = await create_test_database("caravan_test")
    yield url
    await drop_test_database(url)


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return settings_for(database_url)


@pytest.fixture(scope="session")
async def session_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


class SharedConnection:
    """Hands the test's own connection to the app: requests run as savepoints of the test's
    transaction, which is rolled back afterwards. Requests take turns on it."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def acquire(  # mirrors asyncpg.Pool.acquire
        self, timeout: float | None = None
    ) -> AsyncIterator[asyncpg.Connection]:
        async with self._lock:
            yield self.conn


@pytest.fixture
async def conn(session_pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    async with session_pool.acquire() as connection:
        tx = connection.transaction()
        await tx.start()
        try:
            yield connection
        finally:
            await tx.rollback()


@pytest.fixture(scope="session")
def shared_app(settings: Settings) -> Any:
    """One app for the whole run: building one (routes, contract) costs far more than a test."""
    return create_app(settings, pool=None)


@pytest.fixture
def app(shared_app: Any, conn: asyncpg.Connection) -> Any:
    """The shared app, answering from this test's connection (its transaction is rolled back)."""
    shared_app.state.pool = SharedConnection(conn)
    # feeds are cached by slug and token, which another test may reuse
    shared_app.state.feed_cache.clear()
    yield shared_app
    shared_app.state.pool = None


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


# ------------------------------------------------------------------ concurrency: a real pool


@pytest.fixture(scope="session")
async def live_database_url() -> AsyncIterator[str]:
    """A second database for tests that need many real connections at once."""
    url = await create_test_database("caravan_live")
    yield url
    await drop_test_database(url)


@pytest.fixture
async def live_client(live_database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client on an app with its own pool of 10 connections; tables are emptied afterwards."""
    pool = await create_pool(live_database_url, min_size=2, max_size=10)
    async with live_client_on(pool, live_database_url) as http:
        yield http


@asynccontextmanager
async def live_client_on(
    pool: asyncpg.Pool, live_database_url: str, **env: str
) -> AsyncIterator[httpx.AsyncClient]:
    """A client on an app answering from `pool` (closed afterwards); the live database's
    tables are emptied afterwards, through a direct connection."""
    settings = settings_for(live_database_url, CARAVAN_POOL_MAX_SIZE="10", **env)
    app = create_app(settings, pool=pool)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http
    finally:
        await pool.close()
        c = await connect(live_database_url)
        try:
            tables = await c.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
            )
            names = ", ".join(f'"{t["tablename"]}"' for t in tables)
            await c.execute(f"TRUNCATE {names} CASCADE")
        finally:
            await c.close()


# ------------------------------------------------------------------ behind PgBouncer


@pytest.fixture(scope="session")
def pgbouncer() -> Iterator[PgBouncer]:
    """A real PgBouncer in transaction pooling in front of the test server, for the run."""
    if pgbouncer_binary() is None:
        pytest.skip("pgbouncer is not installed (apt-get install pgbouncer) to test behind it")
    bouncer = PgBouncer(server_url())
    bouncer.start()
    yield bouncer
    bouncer.stop()
