"""Migration 0018 merges the copies that two imports of one calendar made before it."""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.services.feed_parsing import Entry
from api.services.import_mirror import _values
from db.migrate import MIGRATIONS_DIR, migrate
from db.pool import connect
from db.queries.hosts import insert_hosted
from tests.conftest import drop_test_database, server_url, with_database


@pytest.fixture
async def empty_database_url():
    admin = await connect(server_url())
    name = "caravan_imp_" + uuid.uuid4().hex[:10]
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = with_database(server_url(), name)
    yield url
    await drop_test_database(url)


def entry(uid: str, title: str) -> Entry:
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    return Entry(uid, title, "", "en", starts, starts + timedelta(hours=2), "UTC")


async def test_copies_made_by_two_imports_become_one_event_both_carry(
    empty_database_url, tmp_path: Path
):
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if int(path.name[:4]) < 18:
            shutil.copy(path, tmp_path / path.name)
    conn = await connect(empty_database_url)
    try:
        await migrate(conn, tmp_path)
        org = await conn.fetchval(
            "INSERT INTO orgs (slug, name, timezone) VALUES ('org', 'Org', 'UTC') RETURNING id"
        )
        imports = [
            await conn.fetchval(
                "INSERT INTO feed_imports (org_id, url) VALUES ($1, $2) RETURNING id", org, url
            )
            for url in ("https://partner.example/cal.ics", "https://PARTNER.example/cal.ics/")
        ]
        made = []
        for feed, uid, title in (
            (imports[0], "vigil@partner", "Vigil"),
            (imports[1], "vigil@partner", "Vigil (copy)"),
            (imports[1], "march@partner", "March"),
        ):
            event_id = await insert_hosted(
                conn, "event", org, None, {**_values(entry(uid, title)), "status": "published"}
            )
            await conn.execute(
                "UPDATE events SET imported_from = $2, source_uid = $3,"
                " created_at = clock_timestamp() WHERE id = $1",
                event_id,
                feed,
                uid,
            )
            made.append(event_id)

        shutil.copy(MIGRATIONS_DIR / "0018_import_identity.sql", tmp_path)
        assert await migrate(conn, tmp_path) == [18]

        rows = await conn.fetch(
            "SELECT id, imported_from, source_calendar, source_uid FROM events ORDER BY source_uid"
        )
        assert [(r["id"], r["imported_from"], r["source_calendar"]) for r in rows] == [
            (made[2], imports[1], ""),
            (made[0], imports[0], ""),
        ]
        carriers = await conn.fetch(
            "SELECT feed_import_id, event_id FROM feed_import_events ORDER BY created_at"
        )
        assert {(c["feed_import_id"], c["event_id"]) for c in carriers} == {
            (imports[0], made[0]),
            (imports[1], made[0]),
            (imports[1], made[2]),
        }
        gone = await conn.fetch("SELECT topic, subject_id FROM outbox")
        assert [(g["topic"], g["subject_id"]) for g in gone] == [("event.deleted", made[1])]
    finally:
        await conn.close()
