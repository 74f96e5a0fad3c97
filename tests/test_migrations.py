"""Migrations: in order, once, safe when two processes run them at once, edits refused."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from db.migrate import MigrationError, load_migrations, migrate
from db.pool import connect
from tests.conftest import create_test_database, drop_test_database, server_url, with_database


@pytest.fixture
async def empty_database_url():
    admin = await connect(server_url())
    name = "caravan_mig_" + __import__("uuid").uuid4().hex[:10]
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = with_database(server_url(), name)
    yield url
    await drop_test_database(url)


async def test_migrate_applies_every_file_once_and_then_is_a_no_op(empty_database_url):
    conn = await connect(empty_database_url)
    try:
        first = await migrate(conn)
        assert first == [m.version for m in load_migrations()]
        assert await migrate(conn) == []
        recorded = await conn.fetch(
            "SELECT version, checksum FROM schema_migrations ORDER BY version"
        )
        assert [r["version"] for r in recorded] == first
    finally:
        await conn.close()


async def test_two_processes_migrating_at_once_apply_each_migration_once(empty_database_url):
    script = (
        "import asyncio, sys; from db.migrate import migrate; from db.pool import connect\n"
        "async def main():\n"
        "    conn = await connect(sys.argv[1])\n"
        "    print(len(await migrate(conn)))\n"
        "    await conn.close()\n"
        "asyncio.run(main())\n"
    )
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            script,
            empty_database_url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=str(Path(__file__).resolve().parent.parent),
        )
        for _ in range(2)
    ]
    results = [await p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    applied = sorted(int(out.strip()) for out, _ in results)
    assert applied == [0, len(load_migrations())]
    conn = await connect(empty_database_url)
    try:
        count = await conn.fetchval("SELECT count(*) FROM schema_migrations")
        assert count == len(load_migrations())
    finally:
        await conn.close()


async def test_an_edited_migration_is_refused(empty_database_url, tmp_path):
    for migration in load_migrations():
        (tmp_path / f"{migration.version:04d}_{migration.name}.sql").write_text(migration.sql)
    conn = await connect(empty_database_url)
    try:
        await migrate(conn, tmp_path)
        first = sorted(tmp_path.glob("*.sql"))[0]
        first.write_text(first.read_text() + "\n-- edited\n")
        with pytest.raises(MigrationError, match="edited"):
            await migrate(conn, tmp_path)
    finally:
        await conn.close()


async def test_a_failing_migration_leaves_nothing_half_applied(empty_database_url, tmp_path):
    (tmp_path / "0001_good.sql").write_text("CREATE TABLE good (id int);")
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE half (id int); SELECT no_such_function();")
    conn = await connect(empty_database_url)
    try:
        with pytest.raises(Exception, match="no_such_function"):
            await migrate(conn, tmp_path)
        assert await conn.fetchval("SELECT to_regclass('good') IS NOT NULL")
        assert await conn.fetchval("SELECT to_regclass('half') IS NULL")
        versions = await conn.fetch("SELECT version FROM schema_migrations")
        assert [r["version"] for r in versions] == [1]
    finally:
        await conn.close()


async def test_test_databases_are_created_and_dropped():
    url = await create_test_database("caravan_probe")
    conn = await connect(url)
    assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(load_migrations())
    await conn.close()
    await drop_test_database(url)
    admin = await connect(server_url())
    try:
        name = url.rsplit("/", 1)[-1].split("?")[0]
        assert (
            await admin.fetchval("SELECT count(*) FROM pg_database WHERE datname = $1", name) == 0
        )
    finally:
        await admin.close()
