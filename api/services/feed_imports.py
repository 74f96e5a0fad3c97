"""Partner calendar imports: fetch a public iCal feed safely, parse it, mirror its events.

Everything about the feed is untrusted. The fetch goes through the SSRF guard (api/services/
ssrf.py), follows at most 3 redirects by hand (each target checked again), never uses proxy or
netrc settings from the environment, sends the last ETag / Last-Modified (a 304 changes
nothing), stops reading past 2 MB and gives up after 15 s. Parsing runs in a worker thread,
refuses more than 5,000 entries, expands recurrences only within a window (30 days back, two
years ahead), at most 100 occurrences each and only daily or slower, strips control characters
and turns HTML into plain text. A run either applies all of its changes in one transaction or
none of them: a feed that is too big, malformed or unreachable records a readable error and
leaves the mirrored events as they were.

Parsing lives in api/services/feed_parsing.py, how entries become events (one identity
across the org's imports, its own events left out) in api/services/import_mirror.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from api.config import Settings
from api.errors import Conflict, FieldError, NotFound, RuleViolation
from api.pagination import decode_cursor, encode_cursor, split_page
from api.services import own_feeds
from api.services.api_keys import Partner, require_org_access
from api.services.feed_parsing import FeedError, ImportLimits, parse_feed
from api.services.import_mirror import apply_entries, leave_out_own, notice_for
from api.services.ssrf import (
    BlockedTarget,
    OutboundPolicy,
    check_registered_url,
    guarded_client,
)
from db.queries import feed_imports as q
from db.queries.audit import insert_audit_entry
from schemas.imports import (
    FeedImport,
    FeedImportCreate,
    FeedImportPage,
    FeedImportPatch,
    FeedImportRun,
    FeedImportRunPage,
)

#: reached through this module by the worker and the tests
__all__ = ["FeedError", "ImportLimits", "parse_feed"]

_REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True)
class Fetched:
    body: bytes | None
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.body is None


#: why a URL may not be fetched for this import (a redirect target included), or None
Refusal = Callable[[str], Awaitable[str | None]]


# ---------------------------------------------------------------- fetching


async def fetch_feed(
    url: str,
    etag: str | None,
    last_modified: str | None,
    outbound: OutboundPolicy,
    limits: ImportLimits,
    *,
    inner: httpx.AsyncBaseTransport | None = None,
    refuse: Refusal | None = None,
) -> Fetched:
    """GET the feed conditionally, redirects followed by hand and re-checked, body capped."""
    headers = {"accept": "text/calendar, */*;q=0.1", "user-agent": "Caravan-Import/1.0"}
    if etag:
        headers["if-none-match"] = etag
    if last_modified:
        headers["if-modified-since"] = last_modified
    timeout = httpx.Timeout(limits.timeout_s, connect=min(5.0, limits.timeout_s))
    try:
        async with asyncio.timeout(limits.timeout_s):
            async with guarded_client(outbound, timeout=timeout, inner=inner) as client:
                current = httpx.URL(url)
                for hop in range(limits.max_redirects + 1):
                    reason = await refuse(str(current)) if refuse else None
                    if reason:
                        raise FeedError(
                            f"The feed redirected to a Caravan feed that cannot be imported. "
                            f"{reason}"
                            if hop
                            else reason
                        )
                    async with client.stream("GET", current, headers=headers) as response:
                        if response.status_code in _REDIRECTS:
                            location = response.headers.get("location")
                            if not location:
                                raise FeedError("The feed redirected without saying where to.")
                            current = current.join(location)
                            continue
                        if response.status_code == 304:
                            return Fetched(None)
                        if response.status_code != 200:
                            raise FeedError(f"The feed answered HTTP {response.status_code}.")
                        body = await _read_capped(response, limits.max_bytes)
                        return Fetched(
                            body,
                            etag=_header(response, "etag"),
                            last_modified=_header(response, "last-modified"),
                        )
                raise FeedError(f"The feed redirected more than {limits.max_redirects} times.")
    except BlockedTarget as exc:
        raise FeedError(f"The feed URL was refused: {exc}") from None
    except TimeoutError:
        raise FeedError(
            f"The feed did not answer completely within {limits.timeout_s:g} s."
        ) from None
    except httpx.HTTPError as exc:
        raise FeedError(f"The feed could not be fetched ({type(exc).__name__}).") from None


def _header(response: httpx.Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value if value and len(value) <= 200 and value.isprintable() else None


def _too_big(max_bytes: int) -> FeedError:
    return FeedError(
        f"The feed is larger than {max_bytes // 1_000_000 or max_bytes} "
        f"{'MB' if max_bytes >= 1_000_000 else 'bytes'}; nothing was imported."
    )


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise _too_big(max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise _too_big(max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


async def run_import(
    conn: asyncpg.Connection,
    feed: asyncpg.Record,
    outbound: OutboundPolicy,
    limits: ImportLimits,
    *,
    public_url: str,
    inner: httpx.AsyncBaseTransport | None = None,
    now: datetime | None = None,
) -> asyncpg.Record:
    """Fetch, parse and mirror one import; always records a run (with counts or an error)."""
    started = datetime.now(UTC)
    counts = (0, 0, 0, 0, 0, 0)
    error = notice = None
    status = "ok"
    fetched = Fetched(None)

    async def refuse(url: str) -> str | None:
        return await own_feeds.refusal(conn, feed["org_id"], feed["org_slug"], url, public_url)

    try:
        fetched = await fetch_feed(
            feed["url"],
            feed["etag"],
            feed["last_modified"],
            outbound,
            limits,
            inner=inner,
            refuse=refuse,
        )
        if fetched.not_modified:
            status = "not_modified"
        else:
            assert fetched.body is not None
            parsed = await asyncio.to_thread(
                parse_feed, fetched.body, limits, now or started, feed["org_timezone"]
            )
            async with conn.transaction():
                entries, skipped = await leave_out_own(conn, feed, parsed.entries)
                done = await apply_entries(conn, feed, entries)
            counts = (
                done.added,
                done.updated,
                done.removed,
                parsed.rejected,
                skipped,
                done.shared,
            )
            notice = notice_for(skipped, len(parsed.entries), done.shared)
    except FeedError as exc:
        status, error = "error", str(exc)
    except asyncpg.PostgresError as exc:
        status, error = "error", f"The feed's events could not be saved ({type(exc).__name__})."
    return await q.finish_run(
        conn,
        feed["id"],
        started,
        status,
        counts,
        error,
        notice,
        fetched.etag,
        fetched.last_modified,
        keep_validators=status != "ok",
    )


async def run_due_imports(
    pool: Any,
    settings: Settings,
    *,
    limits: ImportLimits | None = None,
    outbound: OutboundPolicy | None = None,
    batch: int = 5,
) -> int:
    """One worker round: run up to `batch` due imports, each locked (SKIP LOCKED) while it runs."""
    limits = limits or ImportLimits()
    outbound = outbound or OutboundPolicy(allow_loopback=settings.outbound_allow_loopback)
    done = 0
    for _ in range(batch):
        async with pool.acquire() as conn, conn.transaction():
            feed = await q.claim_due_import(conn)
            if feed is None:
                break
            await run_import(conn, feed, outbound, limits, public_url=settings.public_url)
            done += 1
    return done


# ---------------------------------------------------------------- the API


def _feed_import(row: asyncpg.Record) -> FeedImport:
    return FeedImport(
        id=row["id"],
        url=row["url"],
        name=row["name"],
        interval_minutes=row["interval_s"] // 60,
        active=row["is_active"],
        next_fetch_at=row["next_fetch_at"],
        last_run_at=row["last_run_at"],
        last_status=row["last_status"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _run(row: asyncpg.Record) -> FeedImportRun:
    return FeedImportRun(
        id=row["id"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        status=row["status"],
        added=row["added"],
        updated=row["updated"],
        removed=row["removed"],
        rejected=row["rejected"],
        skipped=row["skipped"],
        shared=row["shared"],
        error=row["error"],
        notice=row["notice"],
    )


async def check_feed_url(
    conn: asyncpg.Connection, org: asyncpg.Record, url: str, settings: Settings
) -> str:
    """The URL to store, or 422: one of this org's own Caravan feeds (any spelling), a secret
    Caravan feed, or a URL the outbound guard refuses."""
    reason = await own_feeds.refusal(conn, org["id"], org["slug"], url, settings.public_url)
    if reason:
        raise RuleViolation(
            f"This URL cannot be imported. {reason}",
            errors=[FieldError(pointer="#/url", detail=reason)],
        )
    return check_registered_url(url, settings.outbound_allow_loopback, "be imported")


async def _require(
    conn: asyncpg.Connection, slug: str, account_id: UUID | None, partner: Partner | None
) -> asyncpg.Record:
    return await require_org_access(conn, slug, account_id, partner, scope="imports:manage")


async def _import_row(conn: asyncpg.Connection, org_id: UUID, import_id: UUID) -> asyncpg.Record:
    row = await q.select_feed_import(conn, org_id, import_id)
    if row is None:
        raise NotFound("This organization has no calendar import with this id.")
    return row


async def create_import(
    conn: asyncpg.Connection,
    settings: Settings,
    slug: str,
    account_id: UUID | None,
    partner: Partner | None,
    data: FeedImportCreate,
) -> FeedImport:
    org = await _require(conn, slug, account_id, partner)
    url = await check_feed_url(conn, org, data.url, settings)
    row = await q.insert_feed_import(
        conn, org["id"], url, data.name.strip(), data.interval_minutes * 60
    )
    if row is None:
        raise Conflict("This organization already imports this URL.")
    await insert_audit_entry(
        conn, org["id"], account_id, "feed_import.created", "feed_import", row["id"]
    )
    return _feed_import(row)


async def list_imports(
    conn: asyncpg.Connection,
    slug: str,
    account_id: UUID | None,
    partner: Partner | None,
    cursor: str | None,
    limit: int,
) -> FeedImportPage:
    org = await _require(conn, slug, account_id, partner)
    after = decode_cursor(cursor, tuple[datetime, UUID])
    rows = await q.select_feed_imports(conn, org["id"], after, limit + 1)
    page, next_cursor = split_page(rows, limit, lambda r: (r["created_at"], r["id"]))
    return FeedImportPage(items=[_feed_import(r) for r in page], next_cursor=next_cursor)


async def get_import(
    conn: asyncpg.Connection,
    slug: str,
    account_id: UUID | None,
    partner: Partner | None,
    import_id: UUID,
) -> FeedImport:
    org = await _require(conn, slug, account_id, partner)
    return _feed_import(await _import_row(conn, org["id"], import_id))


async def update_import(
    conn: asyncpg.Connection,
    settings: Settings,
    slug: str,
    account_id: UUID | None,
    partner: Partner | None,
    import_id: UUID,
    data: FeedImportPatch,
) -> FeedImport:
    org = await _require(conn, slug, account_id, partner)
    row = await _import_row(conn, org["id"], import_id)
    url = (
        await check_feed_url(conn, org, data.url, settings)
        if isinstance(data.url, str)
        else row["url"]
    )
    updated = await q.update_feed_import(
        conn,
        import_id,
        url,
        data.name.strip() if isinstance(data.name, str) else row["name"],
        data.interval_minutes * 60 if isinstance(data.interval_minutes, int) else row["interval_s"],
        data.active if isinstance(data.active, bool) else row["is_active"],
        url != row["url"],
    )
    if row["is_active"] and not updated["is_active"]:
        # a paused import no longer keeps its events fresh: imports still running take them
        await q.lock_org_imports(conn, org["id"])
        await q.hand_over_all(conn, import_id)
    return _feed_import(updated)


async def delete_import(
    conn: asyncpg.Connection,
    slug: str,
    account_id: UUID | None,
    partner: Partner | None,
    import_id: UUID,
) -> None:
    """Stop importing; the events it mirrored go, unless another import of the org carries
    them (that one takes them over)."""
    org = await _require(conn, slug, account_id, partner)
    feed = await q.lock_feed_import(conn, org["id"], import_id)
    if feed is None:
        raise NotFound("This organization has no calendar import with this id.")
    await apply_entries(conn, feed, [])
    await q.delete_feed_import(conn, org["id"], import_id)
    await insert_audit_entry(
        conn, org["id"], account_id, "feed_import.deleted", "feed_import", import_id
    )


async def schedule_import(
    conn: asyncpg.Connection,
    slug: str,
    account_id: UUID | None,
    partner: Partner | None,
    import_id: UUID,
) -> FeedImport:
    """Fetch at the worker's next round instead of waiting for the schedule."""
    org = await _require(conn, slug, account_id, partner)
    row = await q.schedule_now(conn, org["id"], import_id)
    if row is None:
        raise NotFound("This organization has no calendar import with this id.")
    return _feed_import(row)


async def list_runs(
    conn: asyncpg.Connection,
    slug: str,
    account_id: UUID | None,
    partner: Partner | None,
    import_id: UUID,
    cursor: str | None,
    limit: int,
) -> FeedImportRunPage:
    org = await _require(conn, slug, account_id, partner)
    await _import_row(conn, org["id"], import_id)
    before = decode_cursor(cursor, tuple[int])
    rows = await q.select_runs(conn, import_id, before[0] if before else None, limit + 1)
    page = rows[:limit]
    next_cursor = encode_cursor([page[-1]["id"]]) if len(rows) > limit else None
    return FeedImportRunPage(items=[_run(r) for r in page], next_cursor=next_cursor)
