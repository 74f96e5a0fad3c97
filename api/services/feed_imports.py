"""Partner calendar imports: fetch a public iCal feed safely and mirror its events by UID.

Everything about the feed is untrusted. The fetch goes through the SSRF guard (api/services/
ssrf.py), follows at most 3 redirects by hand (each target checked again), never uses proxy or
netrc settings from the environment, sends the last ETag / Last-Modified (a 304 changes
nothing), stops reading past 2 MB and gives up after 15 s. Parsing runs in a worker thread,
refuses more than 5,000 entries, expands recurrences only within a window (30 days back, two
years ahead), at most 100 occurrences each and only daily or slower, strips control characters
and turns HTML into plain text. A run either applies all of its changes in one transaction or
none of them: a feed that is too big, malformed or unreachable records a readable error and
leaves the mirrored events as they were.

Mirrored events are ordinary public events of the importing org, tagged `imported`, keyed
across all of the org's imports by the source calendar's UID (`source_calendar`: the
VCALENDAR's UID or X-WR-RELCALID, '' when it names none, event UIDs being globally unique) and
the entry's UID (`source_uid`; an occurrence of a recurring entry adds its start). A calendar
imported twice (another spelling of its address, a redirect, a partner's Caravan feed that
mirrors it) is one set of events:

- the first import that brings an entry owns the event (`imported_from`) and alone updates it;
  every import whose feed carries it is recorded (feed_import_events) and counts it as
  `shared`. First writer wins, so two feeds that disagree do not rewrite the event at every
  run; an import that is paused hands its events to the next import carrying them that runs;
- when the owner no longer carries an entry (it left the feed, or the import was deleted), the
  longest-standing other import carrying it takes the event over and fetches afresh at the next
  round; the event is deleted only when no import of the org carries it any more.

Caravan's own feeds of the same org are refused when registered and at every redirect, and
entries that are the org's own events are skipped at every run (see api/services/own_feeds.py).
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from html.parser import HTMLParser
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import httpx
from dateutil import rrule

from api.config import Settings
from api.errors import Conflict, FieldError, NotFound, RuleViolation
from api.pagination import decode_cursor, encode_cursor, split_page
from api.services import own_feeds
from api.services.api_keys import Partner, require_org_access
from api.services.ssrf import (
    BlockedTarget,
    OutboundPolicy,
    check_registered_url,
    guarded_client,
)
from db.queries import events as event_queries
from db.queries import feed_imports as q
from db.queries.audit import insert_audit_entry
from db.queries.outbox import insert_outbox_entry
from schemas.imports import (
    FeedImport,
    FeedImportCreate,
    FeedImportPage,
    FeedImportPatch,
    FeedImportRun,
    FeedImportRunPage,
)

IMPORTED_TAG = "imported"
_REDIRECTS = (301, 302, 303, 307, 308)


class FeedError(Exception):
    """Raised when a feed cannot be imported at all; the message is shown to the org as is, so
    it never quotes what the feed contained."""


@dataclass(frozen=True)
class ImportLimits:
    """Caps on what one feed may cost; tests lower them."""

    max_bytes: int = 2_000_000
    max_entries: int = 5_000
    max_occurrences: int = 100
    max_events: int = 5_000
    max_rule_steps: int = 10_000
    past: timedelta = timedelta(days=30)
    future: timedelta = timedelta(days=730)
    max_redirects: int = 3
    timeout_s: float = 15.0


@dataclass(frozen=True)
class Fetched:
    body: bytes | None
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.body is None


@dataclass
class Entry:
    """One event as it will be mirrored."""

    uid: str
    title: str
    description: str
    language: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    place: str | None = None
    virtual_url: str | None = None
    lat: float | None = None
    lon: float | None = None
    url: str | None = None
    cancelled: bool = False
    calendar: str = ""  # the source calendar's UID, '' when the feed names none


@dataclass
class Parsed:
    entries: list[Entry] = field(default_factory=list)
    rejected: int = 0


@dataclass
class Counts:
    added: int = 0
    updated: int = 0
    removed: int = 0
    shared: int = 0


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


# ---------------------------------------------------------------- parsing (in a thread)

_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]"
)
_BLOCK_TAGS = {"p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol"}
_TAG = re.compile(r"<[a-zA-Z/!][^>]*>")


class _TextOnly(HTMLParser):
    """Collects the text of an HTML fragment; tags, scripts and styles are dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(self._skip - 1, 0)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def clean_text(value: Any, max_length: int) -> str:
    """Plain text: HTML reduced to its text, control and bidi-override characters removed."""
    text = str(value)
    if _TAG.search(text):
        parser = _TextOnly()
        parser.feed(text)
        parser.close()
        text = "".join(parser.parts)
    elif "&" in text:
        text = html.unescape(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = re.sub(r"\n{3,}", "\n\n", re.sub(r"[ \t]+", " ", text))
    return text.strip()[:max_length].strip()


def _zone(name: str | None) -> ZoneInfo | None:
    if not name or len(name) > 64:
        return None
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return None


def _moment(value: Any, zone: ZoneInfo) -> tuple[datetime, bool]:
    """An aware datetime, and whether the value was a whole day."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=zone)), False
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=zone), True
    raise ValueError("not a date or time")


def _language(component: Any) -> str:
    summary = component.get("SUMMARY")
    lang = str(getattr(summary, "params", {}).get("LANGUAGE", "")) if summary is not None else ""
    return lang if re.fullmatch(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*", lang) else "und"


def _url(value: Any) -> str | None:
    text = clean_text(value, 2000) if value is not None else ""
    return text if re.fullmatch(r"https?://[^\s\x00]+", text) else None


def _entry(component: Any, uid: str, start: datetime, end: datetime, zone_name: str) -> Entry:
    location = clean_text(component.get("LOCATION"), 200) if component.get("LOCATION") else None
    virtual = _url(location) if location else None
    lat = lon = None
    geo = component.get("GEO")
    if geo is not None:
        try:
            lat, lon = float(geo.latitude), float(geo.longitude)
        except (AttributeError, TypeError, ValueError):
            lat = lon = None
        if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            lat = lon = None
    return Entry(
        uid=uid,
        title=clean_text(component.get("SUMMARY", ""), 200) or "(untitled)",
        description=clean_text(component.get("DESCRIPTION", ""), 20_000),
        language=_language(component),
        starts_at=start,
        ends_at=end,
        timezone=zone_name,
        place=None if virtual else location or None,
        virtual_url=virtual,
        lat=lat,
        lon=lon,
        url=_url(component.get("URL")),
        cancelled=str(component.get("STATUS", "")).upper() == "CANCELLED",
    )


def _span(component: Any, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start, all_day = _moment(component.decoded("DTSTART"), zone)
    if component.get("DTEND") is not None:
        end, _ = _moment(component.decoded("DTEND"), zone)
    elif component.get("DURATION") is not None:
        end = start + component.decoded("DURATION")
    else:
        end = start + (timedelta(days=1) if all_day else timedelta(hours=1))
    if end <= start:
        raise ValueError("ends before it starts")
    return start, end


def _occurrences(
    component: Any, start: datetime, limits: ImportLimits, lo: datetime, hi: datetime
) -> list[datetime]:
    """Starts of a recurring entry within [lo, hi): capped in count, window and work."""
    rule_text = component.get("RRULE").to_ical().decode()
    if re.search(r"FREQ=(SECONDLY|MINUTELY|HOURLY)", rule_text, re.IGNORECASE):
        raise ValueError("recurs more often than daily")
    rule = rrule.rrulestr(rule_text, dtstart=start)
    excluded: set[datetime] = set()
    exdates = component.get("EXDATE")
    for group in exdates if isinstance(exdates, list) else [exdates] if exdates else []:
        for item in getattr(group, "dts", []):
            moment, _ = _moment(item.dt, start.tzinfo)  # type: ignore[arg-type]
            excluded.add(moment.astimezone(UTC))
    found: list[datetime] = []
    for steps, moment in enumerate(rule):
        if steps >= limits.max_rule_steps or moment >= hi:
            break
        if moment >= lo and moment.astimezone(UTC) not in excluded:
            found.append(moment)
            if len(found) >= limits.max_occurrences:
                break
    return found


def parse_feed(body: bytes, limits: ImportLimits, now: datetime, default_timezone: str) -> Parsed:
    """The entries of a feed, or FeedError for a feed that cannot be used at all.

    CPU-bound; call it through asyncio.to_thread."""
    from icalendar import Calendar

    if body.count(b"BEGIN:VEVENT") > limits.max_entries:
        raise FeedError(
            f"The feed has more than {limits.max_entries} events; nothing was imported."
        )
    text = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text.startswith(b"BEGIN:VCALENDAR"):
        raise FeedError("This is not an iCalendar feed (it does not start with BEGIN:VCALENDAR).")
    try:
        calendar = Calendar.from_ical(text)
    except Exception:
        raise FeedError("The feed is not valid iCalendar; nothing was imported.") from None
    if isinstance(calendar, list):
        raise FeedError("The feed holds several calendars; expected one.")
    zone_name = str(calendar.get("X-WR-TIMEZONE", "")) or default_timezone
    zone = _zone(zone_name) or _zone(default_timezone) or ZoneInfo("UTC")
    zone_name = zone.key
    calendar_uid = calendar.get("UID") or calendar.get("X-WR-RELCALID") or ""
    source_calendar = clean_text(calendar_uid, 400)[:300]
    lo, hi = now - limits.past, now + limits.future
    parsed = Parsed()
    components = list(calendar.walk("VEVENT"))
    if len(components) > limits.max_entries:
        raise FeedError(
            f"The feed has more than {limits.max_entries} events; nothing was imported."
        )
    overrides: dict[tuple[str, datetime], Any] = {}
    masters = []
    for component in components:
        uid = clean_text(component.get("UID", ""), 400)
        if not uid or len(uid) > 300:
            parsed.rejected += 1
            continue
        if str(component.get("CLASS", "PUBLIC")).upper() in ("PRIVATE", "CONFIDENTIAL"):
            parsed.rejected += 1
            continue
        if component.get("RECURRENCE-ID") is not None:
            try:
                moment, _ = _moment(component.decoded("RECURRENCE-ID"), zone)
            except (KeyError, ValueError, TypeError):
                parsed.rejected += 1
                continue
            overrides[(uid, moment.astimezone(UTC))] = component
            continue
        masters.append((uid, component))
    seen: set[str] = set()
    for uid, component in masters:
        if uid in seen:  # a second master with the same UID: keep the first, like most clients
            parsed.rejected += 1
            continue
        seen.add(uid)
        try:
            start, end = _span(component, zone)
            if component.get("RRULE") is None:
                if end > lo and start < hi:
                    parsed.entries.append(_entry(component, uid, start, end, zone_name))
                continue
            length = end - start
            for occurrence in _occurrences(component, start, limits, lo, hi):
                key = occurrence.astimezone(UTC)
                source = overrides.get((uid, key), component)
                o_start, o_end = (occurrence, occurrence + length)
                if source is not component:
                    o_start, o_end = _span(source, zone)
                occurrence_uid = f"{uid}#{key.strftime('%Y%m%dT%H%M%SZ')}"
                parsed.entries.append(_entry(source, occurrence_uid, o_start, o_end, zone_name))
        except (KeyError, ValueError, TypeError, OverflowError):
            parsed.rejected += 1
            continue
        if len(parsed.entries) > limits.max_events:
            raise FeedError(
                f"The feed expands to more than {limits.max_events} events; nothing was imported."
            )
    for entry in parsed.entries:
        entry.calendar = source_calendar
    return parsed


# ---------------------------------------------------------------- mirroring


def _values(entry: Entry) -> dict[str, Any]:
    """Every writable event column for an entry (see db.queries.events.WRITABLE_COLUMNS)."""
    return {
        "kind": "other",
        "title": {entry.language: entry.title},
        "summary": {},
        "description": {entry.language: entry.description} if entry.description else {},
        "languages": [entry.language],
        "starts_at": entry.starts_at,
        "ends_at": entry.ends_at,
        "timezone": entry.timezone,
        "venue_name": entry.place,
        "venue_address": None,
        "venue_lat": entry.lat,
        "venue_lon": entry.lon,
        "area": None,
        "public_lat": entry.lat,
        "public_lon": entry.lon,
        "virtual_url": entry.virtual_url,
        "visibility": "public",
        "capacity": None,
        "location_policy": "public",
        "reveal_at": None,
        "tags": [IMPORTED_TAG],
        "accessibility_notes": None,
        "contact": None,
        "hide_counts": False,
    }


def _same(row: asyncpg.Record, values: dict[str, Any]) -> bool:
    for column, value in values.items():
        current = row[column]
        if isinstance(current, list | tuple):
            current = list(current)
        if current != value:
            return False
    return True


async def apply_entries(
    conn: asyncpg.Connection, feed: asyncpg.Record, entries: Sequence[Entry]
) -> Counts:
    """Mirror the entries across the org's imports: add what no import brought yet, update what
    this import owns, count what another import owns, let go of what left the feed."""
    await q.lock_org_imports(conn, feed["org_id"])
    keys = list(dict.fromkeys((e.calendar, e.uid) for e in entries))
    rows = await q.select_mirrored_events(
        conn, feed["org_id"], feed["id"], [k[0] for k in keys], [k[1] for k in keys]
    )
    existing = {(r["source_calendar"] or "", r["source_uid"]): r for r in rows}
    counts = Counts()
    wanted: set[tuple[str, str]] = set()
    for entry in entries:
        key = (entry.calendar, entry.uid)
        if key in wanted:
            continue
        wanted.add(key)
        values = _values(entry)
        status = "cancelled" if entry.cancelled else "published"
        row = existing.get(key)
        if row is None:
            event_id = await event_queries.insert_event(
                conn, feed["org_id"], None, values, status=status
            )
            await q.mark_imported(conn, event_id, feed["id"], entry.calendar, entry.uid, entry.url)
            await _outbox(conn, feed["org_id"], event_id, "event.created")
            counts.added += 1
            continue
        if not row["carried"]:
            await q.insert_carrier(conn, feed["id"], row["id"])
        if row["imported_from"] != feed["id"]:
            if row["owner_active"]:
                counts.shared += 1
                continue
            await q.set_owner(conn, row["id"], feed["id"])  # its owner is paused
        if _same(row, values) and row["status"] == status and row["source_url"] == entry.url:
            continue
        await event_queries.update_event(conn, row["id"], values, bump_sequence=True)
        if status != row["status"]:
            # the source decides: a cancelled entry may even come back
            await event_queries.update_event_status(conn, row["id"], status)
        await q.update_source_url(conn, row["id"], entry.url)
        cancelled_now = status == "cancelled" and row["status"] != "cancelled"
        topic = "event.cancelled" if cancelled_now else "event.updated"
        await _outbox(conn, feed["org_id"], row["id"], topic)
        counts.updated += 1
    for key, row in existing.items():
        if key in wanted or not row["carried"]:
            continue
        await q.delete_carrier(conn, feed["id"], row["id"])
        if row["imported_from"] != feed["id"]:
            continue
        if await q.hand_over(conn, row["id"], feed["id"]) is not None:
            continue
        await q.delete_imported_event(conn, row["id"])
        await insert_outbox_entry(
            conn,
            feed["org_id"],
            "event.deleted",
            row["id"],
            {"id": str(row["id"]), "sequence": row["sequence"]},
        )
        counts.removed += 1
    return counts


async def leave_out_own(
    conn: asyncpg.Connection, feed: asyncpg.Record, entries: list[Entry]
) -> tuple[list[Entry], int]:
    """The entries minus those that are the org's own events; an entry that mirrors (through a
    Caravan feed here) a partner's entry takes that entry's identity."""
    found = await own_feeds.sort_entries(conn, feed["org_id"], [e.uid for e in entries])
    kept = []
    for entry in entries:
        if entry.uid in found.own:
            continue
        origin = found.origins.get(entry.uid)
        if origin is not None:
            entry.calendar, entry.uid = origin
        kept.append(entry)
    return kept, len(entries) - len(kept)


def _notice(skipped: int, total: int, shared: int) -> str | None:
    parts = []
    if skipped and skipped == total:
        parts.append(
            "Every event in this feed is one of this organization's own events (it is the "
            "organization's own Caravan feed, or a feed that mirrors it): they were skipped, "
            "not duplicated."
        )
    elif skipped:
        parts.append(
            f"{skipped} of the feed's events are this organization's own events, mirrored "
            "back by this feed: they were skipped, not duplicated."
        )
    if shared:
        parts.append(
            f"{shared} of the feed's events are already mirrored by another import of this "
            "organization, which keeps them up to date."
        )
    return " ".join(parts) or None


async def _outbox(conn: asyncpg.Connection, org_id: UUID, event_id: UUID, topic: str) -> None:
    row = await q.select_event_sequence(conn, event_id)
    await insert_outbox_entry(
        conn,
        org_id,
        topic,
        event_id,
        {"id": str(event_id), "sequence": row["sequence"], "status": row["status"]},
    )


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
            notice = _notice(skipped, len(parsed.entries), done.shared)
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
    feed = await _import_row(conn, org["id"], import_id)
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
