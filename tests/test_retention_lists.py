"""A purged attendee list is gone: after the purge, neither a `pg_dump` nor the database's files
(after a CHECKPOINT, WAL included) hold the alias of anyone who RSVPed to an event past its
window, while the counts everyone sees stay as they were and events inside the window keep
their lists."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import asyncpg
import httpx
import pytest

from api.app import create_app
from api.services.retention import Retention, run_retention
from db.pool import create_pool
from tests.conftest import create_test_database, drop_test_database, settings_for
from tests.events_helpers import in_days, published_event
from tests.people import Person, create_org, sign_up

#: ended this many hours ago; the default window is 24 h
HOURS_AGO = (0, 6, 23, 25, 48, 72)


class World:
    """An app on its own database with a real pool: the purge commits, and the files on disk
    are what we read."""

    def __init__(self, url: str, client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
        self.url = url
        self.client = client
        self.pool = pool


@pytest.fixture
async def world() -> AsyncIterator[World]:
    url = await create_test_database("caravan_purge")
    pool = await create_pool(url, min_size=1, max_size=4)
    app = create_app(settings_for(url), pool=pool)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client:
            yield World(url, client, pool)
    finally:
        await pool.close()
        await drop_test_database(url)


def unique_alias() -> str:
    return f"Alias-{secrets.token_hex(8)}"


async def rsvp(
    client: httpx.AsyncClient,
    event: dict[str, Any],
    headers: dict[str, str] | None = None,
    **body: Any,
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/events/{event['id']}/rsvps", json=body, headers=headers or {}
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def end_event(pool: asyncpg.Pool, event_id: str, hours_ago: float) -> None:
    ends = datetime.now(UTC) - timedelta(hours=hours_ago)
    async with pool.acquire() as c:
        await c.execute(
            "UPDATE events SET starts_at = $2, ends_at = $3 WHERE id = $1",
            UUID(event_id),
            ends - timedelta(hours=2),
            ends,
        )
        await c.execute(
            "UPDATE shifts SET starts_at = $2, ends_at = $3 WHERE event_id = $1",
            UUID(event_id),
            ends - timedelta(hours=2),
            ends,
        )


async def seed_event(
    w: World, org: dict[str, Any], organizer: Person, member: Person, marker: str
) -> tuple[dict[str, Any], list[str]]:
    """A public event with a shift; three people come (one with a guest and a language need,
    one through a shift, one a member who is checked in): their aliases are returned."""
    event = await published_event(
        w.client, org, organizer, title={"en": f"Rally {marker}"}, capacity=50
    )
    starts = datetime.fromisoformat(event["starts_at"])
    shift = await w.client.post(
        f"/v1/events/{event['id']}/shifts",
        json={
            "name": {"en": "Marshals"},
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=1)).isoformat(),
            "role": "marshal",
            "capacity": 5,
        },
        headers=organizer.headers,
    )
    assert shift.status_code == 201, shift.text
    aliases = [unique_alias() for _ in range(3)]
    await rsvp(
        w.client,
        event,
        alias=aliases[0],
        guests=1,
        language_needs=["es"],
        contact=f"{aliases[0]}@example.org",
    )
    await rsvp(w.client, event, alias=aliases[1], shift_id=shift.json()["id"])
    mine = await rsvp(w.client, event, headers=member.headers, alias=aliases[2])
    checked = await w.client.post(f"/v1/rsvps/{mine['id']}/check-in", headers=organizer.headers)
    assert checked.status_code == 200, checked.text
    return event, aliases


async def counts_of(w: World, event: dict[str, Any], organizer: Person) -> tuple[Any, Any]:
    public = await w.client.get(f"/v1/events/{event['id']}/counts")
    listed = await w.client.get(f"/v1/events/{event['id']}/rsvps", headers=organizer.headers)
    assert public.status_code == 200 and listed.status_code == 200
    return public.json(), listed.json()["counts"]


def files_of(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def found_in(paths: list[Path], needles: list[bytes]) -> set[bytes]:
    found: set[bytes] = set()
    for path in paths:
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # a segment recycled while we read
            continue
        found |= {n for n in needles if n in data}
    return found


@pytest.mark.concurrency
async def test_after_the_purge_no_dump_or_data_file_holds_an_alias_of_a_past_event(
    world: World,
) -> None:
    w = world
    organizer = await sign_up(w.client, "Organizer")
    member = await sign_up(w.client, "Member")
    org = await create_org(w.client, organizer)
    marker = secrets.token_hex(8)  # stored in plaintext: proves the greps below can see
    seeded = {h: await seed_event(w, org, organizer, member, marker) for h in HOURS_AGO}
    for hours, (event, _) in seeded.items():
        await end_event(w.pool, event["id"], hours)
    before = {h: await counts_of(w, e, organizer) for h, (e, _) in seeded.items()}

    async with w.pool.acquire() as c:
        receipts = await run_retention(c)
        await c.execute("CHECKPOINT")
    past = [h for h in HOURS_AGO if h >= 24]
    assert sorted(r["event_id"] for r in receipts if r["data_class"] == "rsvp_contact") == sorted(
        UUID(seeded[h][0]["id"]) for h in past
    )

    # the counts everyone sees are the same numbers as before, for every event
    for hours, (event, _) in seeded.items():
        assert await counts_of(w, event, organizer) == before[hours], hours
    # events inside their window keep their lists; past ones list nobody
    for hours, (event, aliases) in seeded.items():
        listed = await w.client.get(f"/v1/events/{event['id']}/rsvps", headers=organizer.headers)
        shown = {a["alias"] for a in listed.json()["items"]}
        assert shown == (set() if hours in past else set(aliases)), hours
    # the member's own history goes with the list
    mine = await w.client.get("/v1/me/rsvps", headers=member.headers)
    assert {i["event"]["id"] for i in mine.json()["items"]} == {
        seeded[h][0]["id"] for h in HOURS_AGO if h not in past
    }

    gone = [a.encode() for h in past for a in seeded[h][1]]
    name = urlsplit(w.url).path.lstrip("/")
    dump = subprocess.run(
        ["pg_dump", "--no-owner", "--data-only", w.url],
        check=True,
        capture_output=True,
        timeout=120,
    ).stdout
    assert marker.encode() in dump
    assert [a for a in gone if a in dump] == []

    async with w.pool.acquire() as c:
        data_dir = Path(await c.fetchval("SHOW data_directory"))
        oid = await c.fetchval("SELECT oid FROM pg_database WHERE datname = $1", name)
    base = data_dir / "base" / str(oid)
    if not os.access(base, os.R_OK) or not os.access(data_dir / "pg_wal", os.R_OK):
        pytest.skip(f"{data_dir} is not readable by this user; the pg_dump part passed")
    files = files_of(base) + files_of(data_dir / "pg_wal")
    assert marker.encode() in found_in(files, [marker.encode()])
    assert found_in(files, gone) == set()


async def test_a_postponed_event_keeps_its_list_until_it_has_new_dates_and_its_window_ends(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    organizer = await sign_up(client, "Organizer")
    org = await create_org(client, organizer)
    event = await published_event(client, org, organizer)
    await rsvp(client, event, alias="Luz", contact="luz@example.org")
    postponed = await client.post(f"/v1/events/{event['id']}/postpone", headers=organizer.headers)
    assert postponed.status_code == 200, postponed.text
    # long after its old date, it is still postponed: nothing goes
    ends = datetime.fromisoformat(event["ends_at"])
    assert await run_retention(conn, now=ends + timedelta(days=30)) == []

    new_start = in_days(20)
    moved = await client.patch(
        f"/v1/events/{event['id']}",
        json={
            "starts_at": new_start.isoformat(),
            "ends_at": (new_start + timedelta(hours=2)).isoformat(),
        },
        headers=organizer.headers,
    )
    assert moved.status_code == 200, moved.text
    new_end = new_start + timedelta(hours=2)
    assert await run_retention(conn, now=new_end + timedelta(hours=23)) == []
    listed = await client.get(f"/v1/events/{event['id']}/rsvps", headers=organizer.headers)
    assert [(a["alias"], a["contact"]) for a in listed.json()["items"]] == [
        ("Luz", "luz@example.org")
    ]
    receipts = await run_retention(conn, now=new_end + timedelta(hours=25))
    assert [(r["row_count"], r["keys_destroyed"]) for r in receipts] == [(1, 1)]
    listed = await client.get(f"/v1/events/{event['id']}/rsvps", headers=organizer.headers)
    assert listed.json()["items"] == []
    assert listed.json()["counts"]["going"] == {"rsvps": 1, "places": 1}


async def test_a_default_window_above_24_hours_keeps_the_list_that_long(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    organizer = await sign_up(client, "Organizer")
    org = await create_org(client, organizer)
    event = await published_event(client, org, organizer)
    await rsvp(client, event, alias="Mar", contact="mar@example.org")
    ends = datetime.fromisoformat(event["ends_at"])
    longer = Retention(rsvp_contact_hours=48)

    assert await run_retention(conn, retention=longer, now=ends + timedelta(hours=30)) == []
    listed = await client.get(f"/v1/events/{event['id']}/rsvps", headers=organizer.headers)
    assert [(a["alias"], a["contact"]) for a in listed.json()["items"]] == [
        ("Mar", "mar@example.org")
    ]
    receipts = await run_retention(conn, retention=longer, now=ends + timedelta(hours=49))
    assert [(r["row_count"], r["keys_destroyed"], r["window_hours"]) for r in receipts] == [
        (1, 1, 48)
    ]
