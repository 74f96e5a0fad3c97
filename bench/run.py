"""`make bench`: seed a database at a chosen scale, serve it for real, load it with wrk, print ratios.

Every figure is printed with its ratio to two ceilings measured in the same run on the same
machine: a trivial JSON endpoint of the same server, and the public list's own pipeline
(query + Structs + encode) run in-process without HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec

from api.config import load_settings
from api.crypto import Keyring, new_token, token_hash
from bench.seed import seed_events
from db.migrate import migrate
from db.pool import connect, create_pool

ROOT = Path(__file__).resolve().parent.parent


SCALES = {"1k": 1_000, "10k": 10_000, "100k": 100_000, "1m": 1_000_000}
SECRET = "bench-secret-key-that-is-long-enough-0123456789"


@dataclass
class Result:
    name: str
    requests_per_s: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    errors: int = 0
    cpu_ms_per_request: float | None = None
    peak_rss_mb: float | None = None
    ratio_to_trivial: float | None = None
    ratio_to_pipeline: float | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- database


def admin_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    from db.embedded import start_embedded

    uri, handle = start_embedded(ROOT / ".caravan" / "bench-pgdata")
    globals()["_embedded"] = handle
    return uri


def with_database(url: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(url)._replace(path="/" + name))


async def seed(url: str, events: int) -> dict[str, Any]:
    """A benchmark database: the synthetic data, plus a signed-in account."""
    conn = await connect(url, timeout=60)
    started = time.perf_counter()
    try:
        await migrate(conn)
        counts = await seed_events(conn, events)
        from api.services.accounts import Passwords, register
        from schemas.accounts import AccountCreate

        settings = load_settings({"CARAVAN_MODE": "test", "CARAVAN_SECRET_KEY": SECRET})
        account = await register(
            conn,
            Keyring(SECRET),
            Passwords(settings),
            AccountCreate(
                email="bench@example.org", display_name="Bench", password="bench password 1"
            ),
        )
        token = new_token("cvn_sess")
        await conn.execute(
            "INSERT INTO sessions (account_id, token_hash, expires_at) "
            "VALUES ($1, $2, now() + interval '1 day')",
            account.id,
            token_hash(token),
        )
        # an org feed of ~1,000 events, a personal feed of ~1,000 RSVPs, a partner key
        await conn.execute(
            """
            INSERT INTO events (org_id, kind, title, description, languages, starts_at, ends_at,
                                timezone, area, public_lat, public_lon, venue_name, venue_lat,
                                venue_lon, status, published_at)
            SELECT o.id, 'vigil', jsonb_build_object('en', 'Vigil ' || g, 'es', 'Vigilia ' || g),
                   jsonb_build_object('en', repeat('Bring candles and water. ', 8)),
                   ARRAY['en', 'es'], now() + g * interval '7 hours',
                   now() + g * interval '7 hours' + interval '1 hour', 'America/Tijuana',
                   'Tijuana', 32.5, -117.0, 'Plaza', 32.5149, -117.0382, 'published', now()
              FROM orgs o, generate_series(1, 1000) g
             WHERE o.slug = 'bench-org-1'
            """
        )
        await conn.execute(
            """
            INSERT INTO rsvps (event_id, org_id, account_id, alias, status, manage_token_hash)
            SELECT e.id, e.org_id, $1, 'Bench', 'going', sha256(convert_to(e.id::text, 'UTF8'))
              FROM events e
             WHERE e.visibility = 'public' AND e.status = 'published' AND e.starts_at > now()
             ORDER BY e.starts_at
             LIMIT 1000
            """,
            account.id,
        )
        feed_token = new_token("cvn_feed")
        await conn.execute(
            "INSERT INTO feed_tokens (account_id, token_hash) VALUES ($1, $2)",
            account.id,
            token_hash(feed_token),
        )
        api_key = new_token("cvn_key")
        await conn.execute(
            "INSERT INTO api_keys (org_id, name, key_hash, hint, scopes) "
            "SELECT id, 'bench', $1, 'bnch', ARRAY['events:read', 'events:counts'] "
            "FROM orgs WHERE slug = 'bench-org-1'",
            token_hash(api_key),
        )
        await conn.execute("ANALYZE")
        sample = await conn.fetchval(
            "SELECT id FROM events WHERE status = 'published' AND visibility = 'public' "
            "AND starts_at > now() ORDER BY starts_at LIMIT 1 OFFSET 10"
        )
        return {
            **counts,
            "seconds": round(time.perf_counter() - started, 1),
            "token": token,
            "feed_token": feed_token,
            "api_key": api_key,
            "account_id": str(account.id),
            "sample_event": str(sample),
            "org_slug": "bench-org-1",
        }
    finally:
        await conn.close()


# ---------------------------------------------------------------- server and load


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_tree(pid: int) -> list[int]:
    pids = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                pids.extend(process_tree(int(entry.name)))
    return pids


def cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
        except OSError:
            pass
    return total


def peak_rss_mb(pids: list[int]) -> float:
    peak = 0.0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
        except OSError:
            pass
    return round(peak, 1)


class Server:
    def __init__(self, url: str, workers: int) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        env.update(
            {
                "CARAVAN_MODE": "production",
                "DATABASE_URL": url,
                "CARAVAN_SECRET_KEY": SECRET,
                "CARAVAN_POOL_MIN_SIZE": "4",
                "CARAVAN_POOL_MAX_SIZE": "10",
                "CARAVAN_LOGIN_ATTEMPTS": "1000000",
                # the load comes from one address: lift the per-client abuse limits
                "CARAVAN_RATE_LISTING": "1000000000/60",
                "CARAVAN_RATE_RSVP_CLIENT": "1000000000/60",
                "CARAVAN_PARTNER_RATE_LIMIT": "1000000000",
            }
        )
        caravan = shutil.which("caravan", path=str(ROOT / ".venv" / "bin")) or "caravan"
        # the server's own output, shown if it does not start
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [caravan, "serve", "--port", str(self.port), "--workers", str(workers)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self) -> None:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(self.base + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.log.seek(0)
        tail = self.log.read().decode(errors="replace")[-3000:]
        raise RuntimeError(f"the server did not become ready; it said:\n{tail}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


_LAT = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    server: Server,
    name: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    duration: int,
    connections: int,
) -> Result:
    pids = process_tree(server.proc.pid)
    cpu_before = cpu_seconds(pids)
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency"]
    for key, value in (headers or {}).items():
        cmd += ["-H", f"{key}: {value}"]
    out = subprocess.run(
        [*cmd, server.base + path], capture_output=True, text=True, check=True
    ).stdout
    cpu = cpu_seconds(pids) - cpu_before
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = {m.group(1): _ms(m.group(2), m.group(3)) for m in _LAT.finditer(out)}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    errors = int(non2xx.group(1)) if non2xx else 0
    if socket_errors:
        errors += sum(int(x) for x in socket_errors.groups())
    return Result(
        name=name,
        requests_per_s=round(rps, 1),
        p50_ms=round(lat.get("50", 0.0), 2),
        p99_ms=round(lat.get("99", 0.0), 2),
        errors=errors,
        cpu_ms_per_request=round(cpu * 1000 / total, 3) if total else None,
        peak_rss_mb=peak_rss_mb(pids),
    )


def cold_requests(server: Server, name: str, path: str, count: int = 20) -> Result:
    """`count` requests one after another, each with a `?lang=` never asked before, so each
    misses the feed cache and is fetched, built and rendered (rendered VEVENTs stay cached,
    as after a change to one event of a feed)."""
    pids = process_tree(server.proc.pid)
    cpu_before = cpu_seconds(pids)
    seconds, errors = [], 0
    separator = "&" if "?" in path else "?"
    with httpx.Client(timeout=60) as client:
        for number in range(count):
            started = time.perf_counter()
            response = client.get(f"{server.base}{path}{separator}lang=en-c{number:04d}")
            seconds.append(time.perf_counter() - started)
            errors += response.status_code != 200
    cpu = cpu_seconds(pids) - cpu_before
    ordered = sorted(seconds)
    return Result(
        name=name,
        requests_per_s=round(count / sum(seconds), 1),
        p50_ms=round(statistics.median(seconds) * 1000, 2),
        p99_ms=round(ordered[-1] * 1000, 2),
        errors=errors,
        cpu_ms_per_request=round(cpu * 1000 / count, 3),
        peak_rss_mb=peak_rss_mb(pids),
        note=f"one at a time, {count} requests: each misses the feed cache",
    )


async def pipeline_ceiling(url: str, duration: int) -> Result:
    """The public list's own work, in-process: query + Structs + JSON, no HTTP."""
    from api.services.event_search import EventQuery, list_events

    pool = await create_pool(url, min_size=1, max_size=1)
    count = 0
    try:
        async with pool.acquire() as conn:
            started = time.perf_counter()
            while time.perf_counter() - started < duration:
                page = await list_events(conn, None, None, EventQuery(), None, 50, ["en"])
                msgspec.json.encode(page)
                count += 1
            elapsed = time.perf_counter() - started
    finally:
        await pool.close()
    return Result(
        name="ceiling: public list pipeline in-process", requests_per_s=round(count / elapsed, 1)
    )


async def feed_cold_renders(url: str, slug: str, runs: int = 5) -> list[Result]:
    """The org feed rendered cold in-process (no feed or VEVENT cached) against the same items
    built with plain icalendar objects; and the whole cold path (fetch + items + render)."""
    from api.services import feed_items, feed_rendering, public_feeds
    from bench.ical_render import render_with_icalendar
    from db.queries import feeds as feed_queries

    conn = await connect(url)
    try:

        def reader() -> feed_rendering.Reader:
            return feed_rendering.Reader(["en"], "http://127.0.0.1", datetime.now(UTC))

        await public_feeds.org_feed(conn, slug, reader())  # warms the VTIMEZONEs, as a server would
        org_id = await conn.fetchval("SELECT id FROM orgs WHERE slug = $1", slug)
        window = reader()
        rows = await feed_queries.select_org_feed_events(
            conn,
            org_id,
            now=window.now,
            since=window.since,
            until=window.until,
            kinds=None,
            tags=None,
            language=None,
            limit=feed_rendering.MAX_ITEMS,
        )
        items = [
            feed_items.event_item(r, reader(), exact=r["location_policy"] == "public") for r in rows
        ]
        whole, ours, theirs = [], [], []
        for _ in range(runs):
            feed_rendering.VEVENTS.clear()
            started = time.perf_counter()
            await public_feeds.org_feed(conn, slug, reader())
            whole.append(time.perf_counter() - started)
            feed_rendering.VEVENTS.clear()
            started = time.perf_counter()
            await feed_rendering.render_feed("bench", items, None, private=False)
            ours.append(time.perf_counter() - started)
            started = time.perf_counter()
            render_with_icalendar("bench", items)
            theirs.append(time.perf_counter() - started)
    finally:
        await conn.close()
    ours_ms = statistics.median(ours) * 1000
    theirs_ms = statistics.median(theirs) * 1000
    whole_ms = statistics.median(whole) * 1000
    return [
        Result(
            name=f"org feed cold render in-process ({len(items)} events)",
            p50_ms=round(ours_ms, 1),
            note=f"{theirs_ms / ours_ms:.1f} × faster than plain icalendar ({theirs_ms:.0f} ms)",
            extra={"icalendar_ms": round(theirs_ms, 1), "ratio": round(theirs_ms / ours_ms, 1)},
        ),
        Result(
            name="org feed cold in-process: fetch + items + render",
            p50_ms=round(whole_ms, 1),
            note=f"{theirs_ms / whole_ms:.1f} × faster than plain icalendar's render alone",
        ),
    ]


def _burst(base: str, path: str, requests: int) -> tuple[float, int]:
    """`requests` simultaneous POSTs with ApacheBench (a C client: the client's own cost must
    not count against the server); (seconds, failed or non-2xx responses)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        handle.write('{"alias": "Guest"}')
    body = Path(handle.name)
    try:
        out = subprocess.run(
            [
                "ab",
                "-q",
                "-n",
                str(requests),
                "-c",
                str(requests),
                "-p",
                str(body),
                "-T",
                "application/json",
                base + path,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        body.unlink()
    seconds = float(re.search(r"Time taken for tests:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    # ab counts a body whose length differs from the first one as "failed" (Length): going
    # and waitlisted answers differ in length, so only connect/receive/exception failures count
    broken = re.search(r"\(Connect: (\d+), Receive: (\d+), Length: \d+, Exceptions: (\d+)\)", out)
    failed = sum(int(x) for x in broken.groups()) if broken else 0
    non2xx = re.search(r"Non-2xx responses:\s+(\d+)", out)
    return seconds, failed + (int(non2xx.group(1)) if non2xx else 0)


async def rsvp_burst(
    base: str, url: str, places: int = 40, requests: int = 500
) -> tuple[Result, Result]:
    """500 concurrent RSVPs for 40 places over HTTP, and the same bookings straight on asyncpg."""
    conn = await connect(url)
    try:
        event_ids = []
        for _ in range(2):
            event_ids.append(
                await conn.fetchval(
                    """
                    INSERT INTO events (org_id, kind, title, starts_at, ends_at, timezone, status,
                                        capacity, published_at)
                    SELECT id, 'rally', '{"en": "Burst"}', now() + interval '3 days',
                           now() + interval '3 days 2 hours', 'America/Tijuana', 'published', $1, now()
                      FROM orgs ORDER BY slug LIMIT 1
                    RETURNING id
                    """,
                    places,
                )
            )
    finally:
        await conn.close()
    http_event, direct_event = event_ids

    http_seconds, errors = _burst(base, f"/v1/events/{http_event}/rsvps", requests)

    from api.services.rsvp_booking import create_rsvp
    from schemas.rsvps import RsvpCreate

    settings = load_settings(
        {"CARAVAN_MODE": "test", "CARAVAN_SECRET_KEY": SECRET, "DATABASE_URL": url}
    )
    keyring = Keyring(SECRET)
    pool = await create_pool(url, min_size=10, max_size=10)

    async def book(i: int) -> None:
        async with pool.acquire() as c, c.transaction():
            await create_rsvp(
                c, keyring, settings, direct_event, None, RsvpCreate(alias=f"Guest {i}"), None
            )

    try:
        started = time.perf_counter()
        await asyncio.gather(*[book(i) for i in range(requests)])
        direct_seconds = time.perf_counter() - started
        async with pool.acquire() as c:
            counts = await c.fetchrow(
                "SELECT places_taken, places_waitlisted, "
                "(SELECT count(*) FROM rsvps WHERE event_id = $1 AND status = 'going') AS going_rows, "
                "(SELECT count(*) FROM rsvps WHERE event_id = $1 AND status = 'waitlisted') "
                "AS waitlisted_rows FROM events WHERE id = $1",
                http_event,
            )
    finally:
        await pool.close()
    exact = (
        counts["places_taken"] == places == counts["going_rows"]
        and counts["waitlisted_rows"] == counts["places_waitlisted"] == requests - places
    )
    http = Result(
        name=f"RSVP burst: {requests} concurrent for {places} places (HTTP)",
        requests_per_s=round(requests / http_seconds, 1),
        errors=errors,
        note=("exact" if exact else "NOT EXACT") + f"; {http_seconds:.2f} s total",
        extra={
            "seconds": round(http_seconds, 3),
            "going": counts["going_rows"],
            "waitlisted": counts["waitlisted_rows"],
            "exact": exact,
        },
    )
    direct = Result(
        name=f"ceiling: the same {requests} bookings on asyncpg in-process",
        requests_per_s=round(requests / direct_seconds, 1),
        note=f"{direct_seconds:.2f} s total",
        extra={"seconds": round(direct_seconds, 3)},
    )
    return http, direct


# ---------------------------------------------------------------- report


def markdown(results: list[Result], meta: dict[str, Any]) -> str:
    lines = [
        f"Scale {meta['scale']} ({meta['seed']['events']} events, {meta['seed']['orgs']} orgs, "
        f"{meta['seed']['rsvps']} RSVPs) on {meta['machine']}, {meta['date']}",
        "",
        "| scenario | req/s | p50 ms | p99 ms | errors | CPU ms/req | peak RSS MB | × trivial | × pipeline | note |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:

        def fmt(v: Any) -> str:
            return "" if v is None else str(v)

        lines.append(
            f"| {r.name} | {r.requests_per_s or ''} | {r.p50_ms or ''} | {r.p99_ms or ''} | {r.errors} | "
            f"{fmt(r.cpu_ms_per_request)} | {fmt(r.peak_rss_mb)} | {fmt(r.ratio_to_trivial)} | "
            f"{fmt(r.ratio_to_pipeline)} | {r.note} |"
        )
    return "\n".join(lines) + "\n"


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", choices=SCALES, default="1k")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()
    for tool, package in (("wrk", "wrk"), ("ab", "apache2-utils")):
        if shutil.which(tool) is None:
            print(f"{tool} is needed: `apt-get install {package}` (Debian/Ubuntu)", file=sys.stderr)
            return 2

    admin = admin_url()
    name = f"caravan_bench_{uuid.uuid4().hex[:8]}"
    conn = await connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    url = with_database(admin, name)
    try:
        print(f"seeding {args.scale} …", flush=True)
        seeded = await seed(url, SCALES[args.scale])
        print(f"seeded in {seeded['seconds']} s", flush=True)
        auth = {"Authorization": f"Bearer {seeded['token']}"}
        results: list[Result] = []
        server = Server(url, workers=1)
        try:
            server.wait_ready()
            d, c = args.duration, args.connections
            trivial = wrk(
                server, "ceiling: trivial JSON (/healthz)", "/healthz", duration=d, connections=c
            )
            results.append(trivial)
            scenarios = [
                ("GET /v1/events (first page)", "/v1/events", None),
                (
                    "GET /v1/events near + radius_km",
                    "/v1/events?near=32.52,-117.03&radius_km=25",
                    None,
                ),
                ("GET /v1/events q=asylum", "/v1/events?q=asylum", None),
                ("GET /v1/events/{id}", f"/v1/events/{seeded['sample_event']}", None),
                ("GET /v1/events (signed in)", "/v1/events", auth),
                ("org feed, ~1,000 events", "/v1/orgs/bench-org-1/calendar.ics", None),
                (
                    "personal feed, ~1,000 events",
                    f"/v1/feeds/{seeded['feed_token']}/calendar.ics",
                    None,
                ),
                (
                    "GET /v1/partner/events?since= (first page)",
                    "/v1/partner/events?limit=100",
                    {"Authorization": f"Bearer {seeded['api_key']}"},
                ),
            ]
            notes = {
                "GET /v1/events (first page)": "anonymous: encoded-response cache",
                "GET /v1/events near + radius_km": "cached",
                "GET /v1/events q=asylum": "cached",
                "GET /v1/events (signed in)": "never cached",
                "org feed, ~1,000 events": "repeated requests: feed cache",
                "personal feed, ~1,000 events": "repeated requests: feed cache, token checked",
            }
            for label, path, headers in scenarios:
                result = wrk(server, label, path, headers=headers, duration=d, connections=c)
                result.note = notes.get(label, "")
                results.append(result)
            for label, path in (
                ("org feed cold (feed cache missed)", "/v1/orgs/bench-org-1/calendar.ics"),
                (
                    "personal feed cold (feed cache missed)",
                    f"/v1/feeds/{seeded['feed_token']}/calendar.ics",
                ),
            ):
                results.append(cold_requests(server, label, path))
            for label, path in (
                ("org feed revalidated (304)", "/v1/orgs/bench-org-1/calendar.ics"),
                (
                    "personal feed revalidated (304)",
                    f"/v1/feeds/{seeded['feed_token']}/calendar.ics",
                ),
            ):
                etag = httpx.get(server.base + path, timeout=30).headers.get("etag", "")
                result = wrk(
                    server, label, path, headers={"If-None-Match": etag}, duration=d, connections=c
                )
                result.note = "304 expected"
                results.append(result)
            http, direct = await rsvp_burst(server.base, url)
            results += [http, direct]
            http.ratio_to_pipeline = round(http.extra["seconds"] / direct.extra["seconds"], 2)
            http.note += f"; {http.ratio_to_pipeline} × the in-process time"
        finally:
            server.stop()
        ceiling = await pipeline_ceiling(url, args.duration)
        results.insert(1, ceiling)
        results += await feed_cold_renders(url, seeded["org_slug"])
        for r in results:
            if r.requests_per_s and not r.name.startswith(("ceiling", "RSVP")):
                r.ratio_to_trivial = round(r.requests_per_s / trivial.requests_per_s, 2)
                r.ratio_to_pipeline = round(r.requests_per_s / ceiling.requests_per_s, 2)
        two = Server(url, workers=2)
        try:
            two.wait_ready()
            # a cached answer (the load generator's own work weighs most) and an uncached one
            for single, path in (
                ("GET /v1/events (first page)", "/v1/events"),
                ("GET /v1/events/{id}", f"/v1/events/{seeded['sample_event']}"),
            ):
                scaled = wrk(
                    two,
                    f"{single}, --workers 2",
                    path,
                    duration=args.duration,
                    connections=args.connections,
                )
                one = next(r for r in results if r.name == single)
                scaled.note = f"{scaled.requests_per_s / one.requests_per_s:.2f} × 1 worker"
                results.append(scaled)
        finally:
            two.stop()
    finally:
        if not args.keep:
            conn = await connect(admin)
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.close()

    meta = {
        "scale": args.scale,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "seed": {k: v for k, v in seeded.items() if k != "token"},
        "duration_s": args.duration,
        "connections": args.connections,
    }
    table = markdown(results, meta)
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    (out / f"{stamp}-{args.scale}.json").write_text(
        json.dumps({"meta": meta, "results": [asdict(r) for r in results]}, indent=2)
    )
    (out / f"{stamp}-{args.scale}.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
