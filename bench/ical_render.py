"""Times a cold render of a 1,000-event feed by api.ical against the same feed built with icalendar."""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar

from api.ical import FeedItem, render_calendar, render_vevent, render_vtimezone

ZONES = ("America/Tijuana", "America/Mexico_City", "America/Los_Angeles", "Europe/Madrid")
EVENTS = 1_000
RUNS = 7


def feed_items(count: int) -> list[FeedItem]:
    """Realistic events: accented titles, a paragraph of description, a place, four zones."""
    items = []
    first = datetime(2026, 1, 5, 18, 0, tzinfo=UTC)
    for number in range(count):
        tzid = ZONES[number % len(ZONES)]
        starts_at = (first + timedelta(hours=7 * number)).astimezone(ZoneInfo(tzid))
        updated_at = datetime(2025, 12, 1, tzinfo=UTC) + timedelta(minutes=number)
        items.append(
            FeedItem(
                uid=f"event-{uuid.UUID(int=number)}@caravan",
                summary=f"Vigilia por la dignidad migrante n.º {number}: ¡acompáñanos, con café!",
                description=(
                    "Nos reunimos frente al consulado; trae agua, sombrero y tu identificación.\n"
                    "Habrá intérpretes (español, K'iche', English) y observadores legales."
                ),
                starts_at=starts_at,
                ends_at=starts_at + timedelta(hours=2),
                timezone=tzid,
                updated_at=updated_at,
                created_at=updated_at - timedelta(days=3),
                sequence=number % 4,
                location="Plaza Santa Cecilia, Zona Centro, Tijuana, B.C.",
                geo=(32.533_456, -117.036_789),
                url=f"https://caravan.example.org/events/{uuid.UUID(int=number)}",
                categories=("vigil", "derechos"),
            )
        )
    return items


def render_with_icalendar(name: str, items: list[FeedItem]) -> bytes:
    """The same feed with plain icalendar objects and the same RRULE-based VTIMEZONEs."""
    calendar = icalendar.Calendar()
    calendar.add("version", "2.0")
    calendar.add("prodid", "-//Caravan//Caravan Feeds//EN")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("name", name)
    calendar.add("x-wr-calname", name)
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", timedelta(hours=1))
    for tzid in sorted({item.timezone for item in items}):
        starts = [item.starts_at for item in items if item.timezone == tzid]
        block = render_vtimezone(tzid, min(starts), max(starts))
        calendar.add_component(icalendar.Timezone.from_ical(block))
    for item in items:
        zone = ZoneInfo(item.timezone)
        event = icalendar.Event()
        event.add("uid", item.uid)
        event.add("dtstamp", item.updated_at.astimezone(UTC))
        event.add("created", item.created_at.astimezone(UTC))
        event.add("last-modified", item.updated_at.astimezone(UTC))
        event.add("sequence", item.sequence)
        event.add("dtstart", item.starts_at.astimezone(zone))
        event.add("dtend", item.ends_at.astimezone(zone))
        event.add("summary", item.summary)
        # the optional properties only when the item has them, as api.ical does
        if item.description:
            event.add("description", item.description)
        if item.location:
            event.add("location", item.location)
        if item.geo is not None:
            event.add("geo", item.geo)
        if item.url:
            event.add("url", item.url)
        if item.categories:
            event.add("categories", list(item.categories))
        event.add("status", item.status)
        event.add("transp", "OPAQUE")
        calendar.add_component(event)
    return calendar.to_ical()


def timings(runs: int, render: Callable[[], bytes]) -> list[float]:
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        render()
        seconds.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    items = feed_items(EVENTS)
    # The first render also computes the four VTIMEZONEs; later ones find them cached.
    [first] = timings(1, lambda: render_calendar("Caravan bench", items))
    ours = timings(RUNS, lambda: render_calendar("Caravan bench", items))
    theirs = timings(RUNS, lambda: render_with_icalendar("Caravan bench", items))
    cached = [render_vevent(item) for item in items]
    joined = timings(RUNS, lambda: render_calendar("Caravan bench", items, vevents=cached))
    size = len(render_calendar("Caravan bench", items))
    ours_ms, theirs_ms = statistics.median(ours) * 1000, statistics.median(theirs) * 1000
    print(f"{EVENTS} events, {size / 1e6:.2f} MB, median of {RUNS} runs, no VEVENT cached")
    print(f"api.ical first render:    {first * 1000:8.1f} ms (VTIMEZONEs computed)")
    print(f"api.ical render_calendar: {ours_ms:8.1f} ms")
    print(f"icalendar objects:        {theirs_ms:8.1f} ms")
    print(f"ratio:                    {theirs_ms / ours_ms:8.1f}x")
    print(f"with cached VEVENTs:      {statistics.median(joined) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
