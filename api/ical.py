"""Calendar feeds as RFC 5545 bytes, written directly so that every client reads them alike."""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

PRODID = "-//Caravan//Caravan Feeds//EN"
STATUSES = frozenset({"CONFIRMED", "TENTATIVE", "CANCELLED"})
MAX_LINE_OCTETS = 75

# RFC 5545 forbids CONTROL characters in TEXT; newline is escaped instead and tab is allowed.
_CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_URI_CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f]")
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One event as a calendar shows it to one reader (hashable, so it can key a cache)."""

    uid: str
    summary: str
    description: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    updated_at: datetime
    created_at: datetime
    sequence: int
    status: str = "CONFIRMED"
    location: str | None = None
    geo: tuple[float, float] | None = None
    url: str | None = None
    categories: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for moment in (self.starts_at, self.ends_at, self.updated_at, self.created_at):
            if moment.utcoffset() is None:
                raise ValueError(f"{self.uid}: feed times must be timezone-aware")
        if self.status not in STATUSES:
            raise ValueError(f"{self.uid}: status must be one of {sorted(STATUSES)}")


def render_vevent(item: FeedItem) -> bytes:
    """One folded VEVENT block; the same item always gives the same bytes."""
    zone = ZoneInfo(item.timezone)
    stamp = _utc(item.updated_at)
    parts = [
        "BEGIN:VEVENT\r\n",
        fold("UID:" + escape_text(item.uid)),
        f"DTSTAMP:{stamp}\r\nCREATED:{_utc(item.created_at)}\r\nLAST-MODIFIED:{stamp}\r\n",
        f"SEQUENCE:{int(item.sequence)}\r\n",
        fold(_zoned("DTSTART", item.starts_at, zone, item.timezone)),
    ]
    # DTEND must be later than DTSTART (RFC 5545 §3.8.2.2); without it the event is an instant.
    if item.ends_at > item.starts_at:
        parts.append(fold(_zoned("DTEND", item.ends_at, zone, item.timezone)))
    parts.append(fold("SUMMARY:" + escape_text(item.summary)))
    if item.description:
        parts.append(fold("DESCRIPTION:" + escape_text(item.description)))
    if item.location:
        parts.append(fold("LOCATION:" + escape_text(item.location)))
    if item.geo is not None:
        latitude, longitude = item.geo
        parts.append(f"GEO:{latitude:.6f};{longitude:.6f}\r\n")
    if item.url:
        parts.append(fold("URL:" + _URI_CONTROL_CHARACTERS.sub("", item.url)))
    if item.categories:
        categories = ",".join([escape_text(category) for category in item.categories if category])
        if categories:
            parts.append(fold("CATEGORIES:" + categories))
    # A cancelled event stays visible for a while but should not make anyone look busy.
    transparency = "TRANSPARENT" if item.status == "CANCELLED" else "OPAQUE"
    parts.append(f"STATUS:{item.status}\r\nTRANSP:{transparency}\r\nEND:VEVENT\r\n")
    return "".join(parts).encode()


def render_vtimezone(tzid: str, first: datetime, last: datetime) -> bytes:
    """An RRULE-based VTIMEZONE valid from the year before `first` to the year after `last`."""
    return _vtimezone(tzid, first.year - 1, last.year + 1)


def render_calendar(
    name: str,
    items: Iterable[FeedItem],
    *,
    vevents: Iterable[bytes] | None = None,
    refresh: timedelta = timedelta(hours=1),
    description: str | None = None,
) -> bytes:
    """A whole VCALENDAR: header, one VTIMEZONE per TZID written, then the events in order.

    `vevents`, when given, are the already rendered VEVENTs of `items`, in the same order.
    """
    items = list(items)
    blocks = list(vevents) if vevents is not None else [render_vevent(item) for item in items]
    if len(blocks) != len(items):
        raise ValueError("vevents must hold exactly one block per item")
    every = _duration(refresh)
    header = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:" + PRODID,
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "NAME:" + escape_text(name),
        "X-WR-CALNAME:" + escape_text(name),
    ]
    if description:
        header += [
            "DESCRIPTION:" + escape_text(description),
            "X-WR-CALDESC:" + escape_text(description),
        ]
    header += ["REFRESH-INTERVAL;VALUE=DURATION:" + every, "X-PUBLISHED-TTL:" + every]
    spans = _zone_spans(items)
    if spans:
        timezones = [render_vtimezone(tzid, *spans[tzid]) for tzid in sorted(spans)]
    else:
        # RFC 5545 wants at least one component; a UTC zone keeps an empty feed valid.
        timezones = [_vtimezone("UTC", 1970, 1970)]
    return "".join([fold(line) for line in header]).encode() + b"".join(
        [*timezones, *blocks, b"END:VCALENDAR\r\n"]
    )


def escape_text(value: str) -> str:
    """A TEXT value (RFC 5545 §3.3.11): control characters dropped, \\ ; , and newline escaped."""
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = _CONTROL_CHARACTERS.sub("", value)
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def fold(line: str) -> str:
    """A content line and its CRLF, folded at 75 UTF-8 octets between whole characters."""
    if len(line) <= MAX_LINE_OCTETS and line.isascii():
        return line + "\r\n"
    data = line.encode("utf-8", "replace")
    pieces = []
    start, room = 0, MAX_LINE_OCTETS
    while len(data) - start > room:
        end = start + room
        while data[end] & 0xC0 == 0x80:  # a UTF-8 continuation byte: back off to its lead byte
            end -= 1
        pieces.append(data[start:end])
        start, room = end, MAX_LINE_OCTETS - 1
    pieces.append(data[start:])
    return b"\r\n ".join(pieces).decode() + "\r\n"


def _utc(moment: datetime) -> str:
    return _basic(moment.astimezone(UTC)) + "Z"


def _basic(moment: datetime) -> str:
    """YYYYMMDDTHHMMSS of the wall time, fractions of a second dropped."""
    # %-formatting is about twice as fast as an f-string here, and runs three times per event.
    return "%04d%02d%02dT%02d%02d%02d" % (  # noqa: UP031
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
    )


def _is_ambiguous(local: datetime) -> bool:
    return local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset()


def _zoned(name: str, moment: datetime, zone: ZoneInfo, tzid: str) -> str:
    local = moment.astimezone(zone)
    # A wall time repeated when clocks go back is read differently by each parser: write the instant.
    if _is_ambiguous(local):
        return f"{name}:{_utc(moment)}"
    return f"{name};TZID={tzid}:{_basic(local)}"


def _zone_spans(items: list[FeedItem]) -> dict[str, tuple[datetime, datetime]]:
    """The first and last moment of the items of each TZID that some item writes."""
    spans: dict[str, tuple[datetime, datetime]] = {}
    for item in items:
        first, last = item.starts_at, max(item.starts_at, item.ends_at)
        span = spans.get(item.timezone)
        if span is not None:
            if first < span[0] or last > span[1]:
                spans[item.timezone] = (min(first, span[0]), max(last, span[1]))
        elif _writes_tzid(item):
            spans[item.timezone] = (first, last)
    return spans


def _writes_tzid(item: FeedItem) -> bool:
    zone = ZoneInfo(item.timezone)
    if not _is_ambiguous(item.starts_at.astimezone(zone)):
        return True
    return item.ends_at > item.starts_at and not _is_ambiguous(item.ends_at.astimezone(zone))


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds <= 0:
        raise ValueError("a refresh interval must be positive")
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    clock = ""
    if hours:
        clock += f"{hours}H"
    if minutes or (hours and seconds):  # dur-hour may only be followed by dur-minute
        clock += f"{minutes}M"
    if seconds:
        clock += f"{seconds}S"
    return "P" + (f"{days}D" if days else "") + ("T" + clock if clock else "")


def _offset(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{sign}{hours:02d}{minutes:02d}" + (f"{seconds:02d}" if seconds else "")


@dataclass(frozen=True, slots=True)
class _Transition:
    at: datetime  # the UTC instant
    offset_from: timedelta
    offset_to: timedelta
    tzname: str
    is_daylight: bool

    @property
    def onset(self) -> datetime:
        """The local wall time of the change, read on the clock before it (RFC 5545 §3.6.5)."""
        return (self.at + self.offset_from).replace(tzinfo=None)

    @property
    def rule_key(self) -> tuple[object, ...]:
        onset = self.onset
        return (
            self.is_daylight,
            self.offset_from,
            self.offset_to,
            self.tzname,
            onset.month,
            onset.weekday(),
            onset.time(),
        )

    @property
    def weekday_positions(self) -> frozenset[int]:
        """How BYDAY can name this date's weekday in its month: 1..4 from the start, -1 for last."""
        onset = self.onset
        positions = set()
        if onset.day <= 28:
            positions.add((onset.day - 1) // 7 + 1)
        if onset.day + 7 > calendar.monthrange(onset.year, onset.month)[1]:
            positions.add(-1)
        return frozenset(positions)


@dataclass(slots=True)
class _Run:
    """Transitions that follow one yearly rule in consecutive years."""

    first: _Transition
    last: _Transition
    last_year: int
    positions: frozenset[int]
    count: int = 1


def _transitions(zone: ZoneInfo, year: int) -> list[_Transition]:
    """Every change of UTC offset in a year: a daily scan, then bisection to the second."""
    found = []
    moment = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    offset = moment.astimezone(zone).utcoffset()
    day = timedelta(days=1)
    while moment < end:
        following = moment + day
        following_offset = following.astimezone(zone).utcoffset()
        if following_offset != offset:
            low, high = 0, 86400  # the offset at moment+low is the old one, at moment+high the new
            while high - low > 1:
                middle = (low + high) // 2
                if (moment + timedelta(seconds=middle)).astimezone(zone).utcoffset() == offset:
                    low = middle
                else:
                    high = middle
            at = moment + timedelta(seconds=high)
            local = at.astimezone(zone)
            assert offset is not None and following_offset is not None
            found.append(
                _Transition(at, offset, following_offset, local.tzname() or "", bool(local.dst()))
            )
        moment, offset = following, following_offset
    return found


def _observance(transition: _Transition, rrule: str | None) -> list[str]:
    kind = "DAYLIGHT" if transition.is_daylight else "STANDARD"
    lines = [
        "BEGIN:" + kind,
        "DTSTART:" + _basic(transition.onset),
        "TZOFFSETFROM:" + _offset(transition.offset_from),
        "TZOFFSETTO:" + _offset(transition.offset_to),
        "TZNAME:" + escape_text(transition.tzname),
    ]
    if rrule:
        lines.append("RRULE:" + rrule)
    lines.append("END:" + kind)
    return lines


@lru_cache(maxsize=512)
def _vtimezone(tzid: str, first_year: int, last_year: int) -> bytes:
    zone = ZoneInfo(tzid)
    runs: list[_Run] = []
    open_runs: dict[tuple[object, ...], _Run] = {}
    for year in range(first_year, last_year + 1):
        for transition in _transitions(zone, year):
            key = transition.rule_key
            positions = transition.weekday_positions
            run = open_runs.get(key)
            if run and run.last_year == year - 1 and run.positions & positions:
                run.last, run.last_year = transition, year
                run.positions, run.count = run.positions & positions, run.count + 1
            else:
                open_runs[key] = _Run(transition, transition, year, positions)
                runs.append(open_runs[key])

    lines = ["BEGIN:VTIMEZONE", "TZID:" + tzid]
    if not runs or runs[0].first.at.year > first_year:
        # Nothing changes early in the range: one observance says which time applies from its start.
        start = datetime(first_year, 1, 1, tzinfo=zone)
        offset = start.utcoffset()
        assert offset is not None
        steady = _Transition(
            start.astimezone(UTC), offset, offset, start.tzname() or "", bool(start.dst())
        )
        lines += _observance(steady, None)
    for run in runs:
        rrule = None
        if run.count > 1:
            onset = run.first.onset
            position = -1 if -1 in run.positions else min(run.positions)
            rrule = (
                f"FREQ=YEARLY;BYMONTH={onset.month};BYDAY={position}{_WEEKDAYS[onset.weekday()]}"
            )
            if run.last_year < last_year:
                # Some parsers compare UNTIL with the local DTSTART clock, others with the instant:
                # the later of the two readings keeps the last change for both.
                until = max(run.last.at, run.last.onset.replace(tzinfo=UTC))
                rrule += ";UNTIL=" + _utc(until)
        lines += _observance(run.first, rrule)
    lines.append("END:VTIMEZONE")
    return "".join([fold(line) for line in lines]).encode()
