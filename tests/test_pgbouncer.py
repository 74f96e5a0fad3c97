"""Behind a real PgBouncer in transaction pooling: the app, its timeouts, migrations, the worker.

(The RSVP concurrency tests and the timeout faults also run through it: see
tests/test_rsvps_concurrency.py and tests/test_faults.py.)
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import uuid

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.config import ConfigError, load_settings
from api.worker import run_worker
from db.pool import DefaultsMissing, connect, create_pool, session_defaults
from tests.conftest import drop_test_database, server_url, settings_for, with_database
from tests.live_server import CARAVAN, TEST_ENV
from tests.people import create_org, sign_up
from tests.pgbouncer import PgBouncer, bounced

pytestmark = pytest.mark.concurrency


async def test_a_slow_query_through_pgbouncer_is_cancelled_at_the_statement_timeout(
    pgbouncer: PgBouncer, live_database_url: str
) -> None:
    # as `caravan migrate` leaves the database with CARAVAN_STATEMENT_TIMEOUT_MS=300
    async with bounced(live_database_url, **session_defaults(300)) as url:
        pool = await create_pool(
            url, min_size=1, max_size=2, statement_timeout_ms=300, pooler="pgbouncer"
        )
        try:
            # outside a transaction block (as reads run) and inside one (as writes run)
            with pytest.raises(asyncpg.QueryCanceledError, match="statement timeout"):
                await pool.fetchval("SELECT pg_sleep(3)")
            async with pool.acquire() as conn:
                with pytest.raises(asyncpg.QueryCanceledError, match="statement timeout"):
                    async with conn.transaction():
                        await conn.execute("SELECT pg_sleep(3)")
                assert not conn.is_in_transaction()
            assert await pool.fetchval("SELECT $1::int + 1", 1) == 2
        finally:
            await pool.close()


async def test_a_pool_behind_pgbouncer_refuses_to_start_without_the_timeouts(
    pgbouncer: PgBouncer, live_database_url: str
) -> None:
    # a database nobody ran `caravan migrate` on behind PgBouncer: no statement timeout
    async with bounced(live_database_url, statement_timeout="0") as url:
        with pytest.raises(DefaultsMissing, match="caravan migrate") as refused:
            await create_pool(url, min_size=1, max_size=1, pooler="pgbouncer")
    assert "statement_timeout is '0', not '10000'" in str(refused.value)


async def test_the_app_serves_reads_and_writes_through_pgbouncer(
    pgbouncer: PgBouncer, live_database_url: str
) -> None:
    settings = settings_for(
        pgbouncer.url(live_database_url), CARAVAN_DIRECT_DATABASE_URL=live_database_url
    )
    assert settings.database_pooler == "pgbouncer"
    # the app opens its own pool in its lifespan, as `caravan serve` does
    async with AsyncTestClient(app=create_app(settings)) as http:
        assert (await http.get("/readyz")).status_code == 200
        owner = await sign_up(http, "Owner")  # type: ignore[arg-type]
        org = await create_org(http, owner)  # type: ignore[arg-type]
        seen = await http.get(f"/v1/orgs/{org['slug']}", headers=owner.headers)
        assert seen.status_code == 200, seen.text
        assert seen.json()["name"] == org["name"]


def _caravan(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CARAVAN), *args],
        env={**os.environ, **TEST_ENV, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_caravan_migrate_uses_the_direct_url_and_sets_the_timeouts_pgbouncer_needs(
    pgbouncer: PgBouncer,
) -> None:
    name = f"caravan_bounced_{uuid.uuid4().hex[:12]}"
    admin = await connect(server_url())
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    direct = with_database(server_url(), name)
    bounced_url = pgbouncer.url(direct)
    try:
        # without a direct URL it says what is missing, and migrates nothing
        refused = _caravan("migrate", DATABASE_URL=bounced_url, CARAVAN_DATABASE_POOLER="pgbouncer")
        assert refused.returncode != 0
        assert "CARAVAN_DIRECT_DATABASE_URL" in refused.stderr

        done = await asyncio.to_thread(
            _caravan,
            "migrate",
            DATABASE_URL=bounced_url,
            CARAVAN_DIRECT_DATABASE_URL=direct,
            CARAVAN_STATEMENT_TIMEOUT_MS="4000",
        )
        assert done.returncode == 0, done.stderr
        assert "applied migrations" in done.stdout

        # a pool through PgBouncer with the same timeout now starts, and has them
        pool = await create_pool(
            bounced_url, min_size=1, max_size=1, statement_timeout_ms=4000, pooler="pgbouncer"
        )
        try:
            assert await pool.fetchval("SHOW statement_timeout") == "4s"
            assert await pool.fetchval("SHOW lock_timeout") == "2s"
            assert await pool.fetchval("SHOW jit") == "off"
            assert await pool.fetchval("SELECT count(*) FROM schema_migrations") > 0
        finally:
            await pool.close()
    finally:
        await drop_test_database(direct)


async def test_the_worker_runs_on_the_direct_url_when_database_url_is_pgbouncer(
    pgbouncer: PgBouncer, live_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="caravan.worker")
    settings = settings_for(
        pgbouncer.url(live_database_url), CARAVAN_DIRECT_DATABASE_URL=live_database_url
    )
    assert settings.session_database_url == live_database_url
    await asyncio.wait_for(run_worker(settings, once=True), 30)
    assert "housekeeping done" in caplog.text
    assert "failed" not in caplog.text


def test_a_direct_url_means_database_url_is_pgbouncer() -> None:
    direct = "postgresql://caravan@db:5432/caravan"
    settings = settings_for(
        "postgresql://caravan@pgbouncer:6432/caravan", **{"CARAVAN_DIRECT_DATABASE_URL": direct}
    )
    assert settings.database_pooler == "pgbouncer"
    assert settings.session_database_url == direct
    plain = settings_for("postgresql://caravan@db:5432/caravan")
    assert plain.database_pooler == "none"
    assert plain.session_database_url == plain.database_url


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"CARAVAN_DATABASE_POOLER": "pgbouncer"}, "needs CARAVAN_DIRECT_DATABASE_URL"),
        ({"CARAVAN_DATABASE_POOLER": "pgpool"}, "must be one of none, pgbouncer"),
        ({"CARAVAN_DIRECT_DATABASE_URL": "mysql://db/caravan"}, "must start with postgresql://"),
    ],
)
def test_pooler_settings_that_cannot_work_are_refused_at_start_up(
    env: dict[str, str], says: str
) -> None:
    with pytest.raises(ConfigError, match=says):
        settings_for("postgresql://caravan@pgbouncer:6432/caravan", **env)


def test_a_direct_url_without_database_url_is_refused() -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL is not"):
        load_settings({"CARAVAN_DIRECT_DATABASE_URL": "postgresql://caravan@db:5432/caravan"})
