"""Reading a partner's iCalendar feed: untrusted bytes to plain, bounded entries.

Runs in a worker thread (CPU-bound): refuses more than 5,000 entries, expands recurrences only
within a window (30 days back, two years ahead), at most 100 occurrences each and only daily or
slower, strips control characters and turns HTML into plain text. A feed that cannot be used
at all raises FeedError with a message that never quotes the feed.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

from dateutil import rrule


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
