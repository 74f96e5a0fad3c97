"""Feed rendering: bytes, folding, escaping, time zones, and agreement of independent parsers."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject
from hypothesis import HealthCheck, given, settings
from ical.calendar_stream import IcsCalendarStream

from api.ical import (
    FeedItem,
    escape_text,
    fold,
    render_calendar,
    render_vevent,
    render_vtimezone,
)
from tests import calendar_parsers
from tests.calendar_parsers import (
    PYTHON_PARSERS,
    REPO,
    exists,
    feed_text,
    forget_vobject_zones,
    is_repeated,
    times_by_icaljs,
    unfolded_lines,
)

icaljs = calendar_parsers.icaljs

DST_ZONES = ("America/Tijuana", "America/Mexico_City", "America/Los_Angeles", "Europe/Madrid")
# The days clocks change in 2026 and 2027 (Mexico City's are the US ones, where it no longer changes).
CHANGE_DAYS = {
    "America/Tijuana": ("2026-03-08", "2026-11-01", "2027-03-14", "2027-11-07"),
    "America/Los_Angeles": ("2026-03-08", "2026-11-01", "2027-03-14", "2027-11-07"),
    "America/Mexico_City": ("2026-03-08", "2026-11-01", "2027-03-14", "2027-11-07"),
    "Europe/Madrid": ("2026-03-29", "2026-10-25", "2027-03-28", "2027-10-31"),
}
# Mexico City last changed clocks in 2022: events then make its VTIMEZONE end a rule with UNTIL.
HISTORIC_CHANGE_DAYS = {"America/Mexico_City": ("2022-04-03", "2022-10-30")}
# Zones whose rules are unusual: southern summer, negative DST, half-hour and 45-minute
# offsets, Friday changes, Ramadan suspensions, a rule change, no DST at all.
UNUSUAL_ZONES = {
    "Australia/Sydney": (2025, 2027),
    "Europe/Dublin": (2025, 2027),
    "Asia/Jerusalem": (2025, 2030),
    "Africa/Casablanca": (2025, 2027),
    "America/Santiago": (2021, 2027),
    "Pacific/Chatham": (2025, 2027),
    "Australia/Lord_Howe": (2025, 2027),
    "America/Mexico_City": (2020, 2024),
    "Asia/Kolkata": (2025, 2027),
    "America/Tijuana": (2008, 2012),
}
STAMP = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
MIXED_SCRIPT = (
    "Acción migrante: ¡pingüinos, corazón y año nuevo! "
    "Xch'a'w ri ajq'ij: utz awach, nimalaj matyox. "
    "حقوق المهاجرين حقوق الإنسان "
    "🌵✊🏽👨‍👩‍👧‍👦🇲🇽 "
    "移民の権利 "
)


def feed_item(uid: str, tzid: str, starts_at: datetime, ends_at: datetime, **fields) -> FeedItem:
    values = {
        "summary": f"Vigil {uid}",
        "description": "Bring water; wear a hat, please.",
        "updated_at": STAMP,
        "created_at": STAMP - timedelta(days=3),
        "sequence": 0,
    }
    values.update(fields)
    return FeedItem(uid=uid, starts_at=starts_at, ends_at=ends_at, timezone=tzid, **values)


def wall(tzid: str, day: str, clock: str, later: bool = False) -> datetime:
    """A local wall time that exists in the zone; `later` picks the second of a repeated one."""
    naive = datetime.fromisoformat(f"{day}T{clock}")
    moment = naive.replace(tzinfo=ZoneInfo(tzid), fold=int(later))
    assert exists(moment)
    return moment


def dst_fixture() -> list[FeedItem]:
    """Events around every clock change in four zones, with both readings of repeated times."""
    items = []
    for tzid in DST_ZONES:
        zone = ZoneInfo(tzid)
        for day in CHANGE_DAYS[tzid] + HISTORIC_CHANGE_DAYS.get(tzid, ()):
            change = datetime.fromisoformat(day)
            starts = [
                (change - timedelta(days=1) + timedelta(hours=10), timedelta(hours=2)),
                (change - timedelta(hours=2), timedelta(hours=8)),  # spans the change
                (change + timedelta(days=1) + timedelta(hours=10), timedelta(hours=2)),
            ]
            starts += [
                (change + timedelta(hours=hours), timedelta(minutes=45))
                for hours in (0.5, 1, 1.5, 2, 2.5, 3, 3.5, 12)
            ]
            for naive, length in starts:
                for second_reading in (0, 1):
                    starts_at = naive.replace(tzinfo=zone, fold=second_reading)
                    if not exists(starts_at) or (second_reading and not is_repeated(starts_at)):
                        continue
                    key = f"{tzid}/{starts_at.isoformat()}/{second_reading}"
                    uid = f"event-{uuid.uuid5(uuid.NAMESPACE_URL, key)}@caravan"
                    items.append(feed_item(uid, tzid, starts_at, starts_at + length))
    return items


def unusual_zone_fixture() -> list[FeedItem]:
    """In each unusual zone: an event hourly through every day clocks change, else monthly."""
    items = []
    for tzid, (first_year, last_year) in UNUSUAL_ZONES.items():
        zone = ZoneInfo(tzid)
        moments = []
        noon = datetime(first_year, 1, 1, 12, tzinfo=UTC)
        while noon.year <= last_year:
            following = noon + timedelta(days=1)
            if noon.astimezone(zone).utcoffset() != following.astimezone(zone).utcoffset():
                moments += [noon + timedelta(hours=hours) for hours in range(25)]
            elif noon.day == 1:
                moments.append(noon)
            noon = following
        for moment in moments:
            uid = f"event-{uuid.uuid5(uuid.NAMESPACE_URL, f'{tzid}/{moment.isoformat()}')}@caravan"
            local = moment.astimezone(zone)
            items.append(feed_item(uid, tzid, local, local + timedelta(hours=1, minutes=30)))
    return items


def ground_truth(items: list[FeedItem]) -> dict[str, tuple[datetime, datetime]]:
    return {
        item.uid: (item.starts_at.astimezone(UTC), item.ends_at.astimezone(UTC)) for item in items
    }


# ------------------------------------------------------------------ parsers agree with zoneinfo


@pytest.mark.parametrize("parser", PYTHON_PARSERS)
def test_every_parser_reads_the_zoneinfo_instants_across_dst_changes(parser: str) -> None:
    items = dst_fixture()
    feed = render_calendar("Caravan DST", items)
    assert PYTHON_PARSERS[parser](feed) == ground_truth(items)


def test_icaljs_reads_the_zoneinfo_instants_across_dst_changes(icaljs) -> None:
    items = dst_fixture()
    feed = render_calendar("Caravan DST", items)
    assert times_by_icaljs(icaljs(feed)) == ground_truth(items)


@pytest.mark.parametrize("parser", ["icalendar", "vobject"])
def test_vtimezones_of_unusual_zones_read_like_zoneinfo(parser: str) -> None:
    """icalendar and vobject resolve IANA names themselves; here they must use our VTIMEZONE."""
    for tzid, (first_year, last_year) in UNUSUAL_ZONES.items():
        block = render_vtimezone(tzid, datetime(first_year, 6, 1), datetime(last_year, 6, 1))
        if parser == "icalendar":
            tzinfo = icalendar.Timezone.from_ical(block).to_tz(lookup_tzid=False)
        else:
            forget_vobject_zones()
            wrapper = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n%sEND:VCALENDAR\r\n"
            tzinfo = vobject.readOne((wrapper % block).decode()).vtimezone.gettzinfo()
        zone = ZoneInfo(tzid)
        local = datetime(first_year, 1, 1, 0, 7)
        while local.year <= last_year:
            expected = local.replace(tzinfo=zone)
            if exists(expected) and not is_repeated(expected):
                assert local.replace(tzinfo=tzinfo).utcoffset() == expected.utcoffset(), (
                    tzid,
                    local,
                )
            local += timedelta(hours=7, minutes=13)


def test_icaljs_reads_unusual_zones_from_their_vtimezones(icaljs) -> None:
    items = unusual_zone_fixture()
    feed = render_calendar("Caravan zones", items)
    assert times_by_icaljs(icaljs(feed)) == ground_truth(items)


def test_repeated_wall_times_are_written_as_utc_instants() -> None:
    first = wall("America/Tijuana", "2026-11-01", "01:30")
    second = wall("America/Tijuana", "2026-11-01", "01:30", later=True)
    lines = [
        unfolded_lines(
            render_vevent(
                feed_item(f"e{n}", "America/Tijuana", at, at.astimezone(UTC) + timedelta(hours=2))
            )
        )
        for n, at in enumerate((first, second))
    ]
    assert "DTSTART:20261101T083000Z" in lines[0]
    assert "DTEND;TZID=America/Tijuana:20261101T023000" in lines[0]
    assert "DTSTART:20261101T093000Z" in lines[1]
    assert "DTEND;TZID=America/Tijuana:20261101T033000" in lines[1]


# ------------------------------------------------------------------ VTIMEZONE shape


def vtimezone_blocks(feed: bytes) -> dict[str, str]:
    text = feed.replace(b"\r\n ", b"").decode()
    blocks = re.findall(r"BEGIN:VTIMEZONE\r\n.*?END:VTIMEZONE\r\n", text, flags=re.S)
    by_tzid: dict[str, str] = {}
    for block in blocks:
        tzid = re.search(r"^TZID:(.+)\r$", block, flags=re.M).group(1)
        assert tzid not in by_tzid, f"two VTIMEZONEs for {tzid}"
        by_tzid[tzid] = block
    return by_tzid


def test_exactly_one_vtimezone_per_tzid_used_and_before_the_events() -> None:
    items = dst_fixture()
    feed = render_calendar("Caravan DST", items)
    used = {match.decode() for match in re.findall(rb";TZID=([^:;]+):", feed)}
    assert set(vtimezone_blocks(feed)) == used == set(DST_ZONES)
    assert feed.rindex(b"END:VTIMEZONE") < feed.index(b"BEGIN:VEVENT")
    assert icalendar.Calendar.from_ical(feed).get_missing_tzids() == set()


def test_a_zone_no_item_writes_gets_no_vtimezone() -> None:
    repeated = wall("Europe/Madrid", "2026-10-25", "02:10")
    items = [
        feed_item("madrid", "Europe/Madrid", repeated, repeated + timedelta(minutes=30)),
        feed_item("tijuana", "America/Tijuana", STAMP, STAMP + timedelta(hours=1)),
    ]
    feed = render_calendar("Caravan", items)
    assert b"TZID=Europe/Madrid" not in feed
    assert set(vtimezone_blocks(feed)) == {"America/Tijuana"}


def test_no_rdate_anywhere_and_dst_rules_are_yearly_by_weekday() -> None:
    feed = render_calendar("Caravan DST", dst_fixture())
    assert b"RDATE" not in feed
    blocks = vtimezone_blocks(feed)
    for tzid in ("America/Los_Angeles", "America/Tijuana"):
        assert "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\n" in blocks[tzid]
        assert "RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r\n" in blocks[tzid]
    assert "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n" in blocks["Europe/Madrid"]
    assert "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n" in blocks["Europe/Madrid"]
    # The fixture reaches back to 2022, when Mexico City still changed clocks: rules end there.
    assert (
        "RRULE:FREQ=YEARLY;BYMONTH=4;BYDAY=1SU;UNTIL=20220403T080000Z"
        in blocks["America/Mexico_City"]
    )
    assert ";BYMONTH=10;BYDAY=-1SU;UNTIL=20221030T070000Z" in blocks["America/Mexico_City"]


def test_a_zone_without_dst_has_a_single_standard_observance() -> None:
    starts_at = wall("America/Mexico_City", "2026-05-01", "18:00")
    items = [feed_item("mx", "America/Mexico_City", starts_at, starts_at + timedelta(days=400))]
    block = vtimezone_blocks(render_calendar("Caravan", items))["America/Mexico_City"]
    assert block.count("BEGIN:STANDARD") == 1
    assert "DAYLIGHT" not in block
    assert "RRULE" not in block
    assert "TZOFFSETFROM:-0600\r\nTZOFFSETTO:-0600\r\nTZNAME:CST\r\n" in block


def test_the_first_observance_starts_before_the_first_event() -> None:
    items = dst_fixture()
    feed = render_calendar("Caravan DST", items)
    for tzid, block in vtimezone_blocks(feed).items():
        first_onset = min(re.findall(r"^DTSTART:(\d{8}T\d{6})\r$", block, flags=re.M))
        earliest = min(item.starts_at for item in items if item.timezone == tzid)
        local = earliest.astimezone(ZoneInfo(tzid)).strftime("%Y%m%dT%H%M%S")
        assert first_onset <= local


def test_vtimezones_are_small() -> None:
    for tzid, (first_year, last_year) in UNUSUAL_ZONES.items():
        if tzid != "Africa/Casablanca":  # its changes follow Ramadan: one observance per change
            block = render_vtimezone(tzid, datetime(first_year, 6, 1), datetime(last_year, 6, 1))
            assert len(block) <= 1_500, tzid


# ------------------------------------------------------------------ bytes and envelope


def test_the_envelope_names_the_feed_and_asks_for_hourly_refresh() -> None:
    feed = render_calendar("Caravan, Tijuana", dst_fixture(), description="Public events")
    assert feed.startswith(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert feed.endswith(b"END:VCALENDAR\r\n")
    lines = unfolded_lines(feed)
    for line in (
        "PRODID:-//Caravan//Caravan Feeds//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "NAME:Caravan\\, Tijuana",
        "X-WR-CALNAME:Caravan\\, Tijuana",
        "DESCRIPTION:Public events",
        "X-WR-CALDESC:Public events",
        "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
        "X-PUBLISHED-TTL:PT1H",
    ):
        assert lines.count(line) == 1, line
    assert not re.search(rb"^(ATTENDEE|ORGANIZER|BEGIN:VALARM)", feed, flags=re.M)


def test_refresh_intervals_are_rfc_durations() -> None:
    for refresh, text in [
        (timedelta(minutes=30), "PT30M"),
        (timedelta(days=1), "P1D"),
        (timedelta(days=1, hours=2), "P1DT2H"),
        (timedelta(hours=1, seconds=5), "PT1H0M5S"),
    ]:
        feed = render_calendar("Caravan", [], refresh=refresh)
        assert f"REFRESH-INTERVAL;VALUE=DURATION:{text}\r\n".encode() in feed
        assert f"X-PUBLISHED-TTL:{text}\r\n".encode() in feed
    with pytest.raises(ValueError):
        render_calendar("Caravan", [], refresh=timedelta(0))


def test_crlf_everywhere_no_bare_lf_or_cr_and_no_bom() -> None:
    items = [
        feed_item(
            "lines", "Europe/Madrid", STAMP, STAMP + timedelta(hours=1), description="a\nb\r\nc\rd"
        )
    ]
    feed = render_calendar("Caravan", dst_fixture() + items)
    assert feed.count(b"\n") == feed.count(b"\r\n") == feed.count(b"\r")
    assert not feed.startswith(b"\xef\xbb\xbf")


def test_two_renders_are_byte_identical_even_in_another_process() -> None:
    items = dst_fixture()
    feed = render_calendar("Caravan DST", items)
    assert render_calendar("Caravan DST", items) == feed
    program = (
        "import sys; sys.path[:0] = [sys.argv[1]];"
        "from tests.test_ical_render import dst_fixture; from api.ical import render_calendar;"
        "sys.stdout.buffer.write(render_calendar('Caravan DST', dst_fixture()))"
    )
    other = subprocess.run(
        [sys.executable, "-c", program, str(REPO)],
        capture_output=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
        cwd=REPO,
    )
    assert other.stdout == feed


def test_cached_vevents_give_the_same_feed() -> None:
    items = dst_fixture()
    cached = [render_vevent(item) for item in items]
    assert render_calendar("Caravan", items, vevents=cached) == render_calendar("Caravan", items)
    with pytest.raises(ValueError):
        render_calendar("Caravan", items, vevents=cached[1:])


def test_an_empty_feed_is_still_a_valid_calendar() -> None:
    feed = render_calendar("Nothing yet", [])
    assert feed.count(b"BEGIN:VTIMEZONE") == 1
    icalendar.Calendar.from_ical(feed).validate()
    assert IcsCalendarStream.calendar_from_ics(feed.decode()).events == []
    vobject.readOne(feed.decode()).validate()


# ------------------------------------------------------------------ event content


def test_event_properties_are_written_once_and_read_back() -> None:
    starts_at = wall("America/Tijuana", "2026-05-01", "17:00")
    item = feed_item(
        "event-0b3c@caravan",
        "America/Tijuana",
        starts_at,
        starts_at + timedelta(hours=2),
        created_at=datetime(2026, 4, 1, 9, 30, 15, 999, tzinfo=UTC),
        sequence=3,
        location="Plaza Santa Cecilia, Zona Centro",
        geo=(32.533456789, -117.0367891),
        url="https://caravan.example.org/events/0b3c",
        categories=("vigil", "derechos, humanos", "a;b"),
    )
    lines = unfolded_lines(render_vevent(item))
    assert lines[0] == "BEGIN:VEVENT" and lines[-1] == "END:VEVENT"
    for line in (
        "UID:event-0b3c@caravan",
        "DTSTAMP:20260110T120000Z",
        "LAST-MODIFIED:20260110T120000Z",
        "CREATED:20260401T093015Z",
        "SEQUENCE:3",
        "DTSTART;TZID=America/Tijuana:20260501T170000",
        "DTEND;TZID=America/Tijuana:20260501T190000",
        "LOCATION:Plaza Santa Cecilia\\, Zona Centro",
        "GEO:32.533457;-117.036789",
        "URL:https://caravan.example.org/events/0b3c",
        "CATEGORIES:vigil,derechos\\, humanos,a\\;b",
        "STATUS:CONFIRMED",
        "TRANSP:OPAQUE",
    ):
        assert lines.count(line) == 1, line
    assert len({line.split(":")[0].split(";")[0] for line in lines[1:-1]}) == len(lines) - 2

    feed = render_calendar("c", [item])
    event = icalendar.Calendar.from_ical(feed).walk("VEVENT")[0]
    assert [str(category) for category in event["CATEGORIES"].cats] == list(item.categories)
    assert event.decoded("GEO") == (32.533457, -117.036789)
    forget_vobject_zones()
    assert vobject.readOne(feed.decode()).vevent.categories.value == list(item.categories)
    event = IcsCalendarStream.calendar_from_ics(feed.decode()).events[0]
    assert (event.geo.lat, event.geo.lng) == (32.533457, -117.036789)
    assert event.location == "Plaza Santa Cecilia, Zona Centro"
    assert (event.sequence, event.url) == (3, "https://caravan.example.org/events/0b3c")
    # ical 14.3 splits CATEGORIES at escaped commas too, so only comma-free tags are compared.
    assert event.categories[0] == "vigil"


def test_optional_properties_are_left_out_when_empty() -> None:
    item = feed_item("bare", "Europe/Madrid", STAMP, STAMP + timedelta(hours=1), description="")
    names = {line.split(":")[0] for line in unfolded_lines(render_vevent(item))}
    assert not names & {"DESCRIPTION", "LOCATION", "GEO", "URL", "CATEGORIES"}


def test_cancelled_items_stay_marked_cancelled_and_free() -> None:
    item = feed_item(
        "gone",
        "Europe/Madrid",
        STAMP,
        STAMP + timedelta(hours=1),
        summary="CANCELLED: Vigil",
        status="CANCELLED",
        sequence=4,
    )
    feed = render_calendar("Caravan", [item])
    lines = unfolded_lines(feed)
    assert "STATUS:CANCELLED" in lines and "TRANSP:TRANSPARENT" in lines and "SEQUENCE:4" in lines
    assert str(icalendar.Calendar.from_ical(feed).walk("VEVENT")[0]["STATUS"]) == "CANCELLED"
    forget_vobject_zones()
    assert vobject.readOne(feed.decode()).vevent.status.value == "CANCELLED"
    assert IcsCalendarStream.calendar_from_ics(feed.decode()).events[0].status == "CANCELLED"


def test_feed_items_refuse_naive_times_and_unknown_statuses() -> None:
    with pytest.raises(ValueError):
        feed_item("naive", "Europe/Madrid", datetime(2026, 5, 1), STAMP)
    with pytest.raises(ValueError):
        feed_item("odd", "Europe/Madrid", STAMP, STAMP + timedelta(hours=1), status="CANCELED")


def test_a_url_cannot_smuggle_properties() -> None:
    item = feed_item(
        "url",
        "Europe/Madrid",
        STAMP,
        STAMP + timedelta(hours=1),
        url="https://caravan.example.org/e\r\nATTENDEE:mailto:someone@example.org",
    )
    assert not any(line.startswith("ATTENDEE") for line in unfolded_lines(render_vevent(item)))


# ------------------------------------------------------------------ text: escaping and folding


def test_text_escaping_of_commas_semicolons_backslashes_and_newlines() -> None:
    text = 'Rally, march; vigil \\ "sign-up": 10:00\nBring water'
    assert escape_text(text) == 'Rally\\, march\\; vigil \\\\ "sign-up": 10:00\\nBring water'
    assert escape_text("bell\x07 nul\x00 del\x7f nel\x85 tab\t crlf\r\nend") == (
        "bell nul del nel tab\t crlf\\nend"
    )
    item = feed_item(
        "esc", "Europe/Madrid", STAMP, STAMP + timedelta(hours=1), summary=text, description=text
    )
    feed = render_calendar("Caravan", [item])
    event = icalendar.Calendar.from_ical(feed).walk("VEVENT")[0]
    assert (str(event["SUMMARY"]), str(event["DESCRIPTION"])) == (text, text)
    forget_vobject_zones()
    parsed = vobject.readOne(feed.decode()).vevent
    assert (parsed.summary.value, parsed.description.value) == (text, text)
    event = IcsCalendarStream.calendar_from_ics(feed.decode()).events[0]
    assert (event.summary, event.description) == (text, text)


def test_a_long_mixed_script_description_folds_at_75_octets_and_unfolds_back() -> None:
    description = (MIXED_SCRIPT * 200)[:5_000]
    item = feed_item(
        "long", "America/Tijuana", STAMP, STAMP + timedelta(hours=1), description=description
    )
    feed = render_calendar("Caravan", [item])
    physical = feed.split(b"\r\n")[:-1]
    assert max(len(line) for line in physical) <= 75
    for line in physical:
        line.decode("utf-8")  # a split character would not decode on its own
    description_lines = [line for line in unfolded_lines(feed) if line.startswith("DESCRIPTION:")]
    assert description_lines == ["DESCRIPTION:" + escape_text(description)]
    assert str(icalendar.Calendar.from_ical(feed).walk("VEVENT")[0]["DESCRIPTION"]) == description
    forget_vobject_zones()
    assert vobject.readOne(feed.decode()).vevent.description.value == description
    assert IcsCalendarStream.calendar_from_ics(feed.decode()).events[0].description == description


@pytest.mark.parametrize("width", range(70, 82))
def test_folding_never_splits_a_character_at_any_offset(width: int) -> None:
    line = "X" * (width - 70) + "DESCRIPTION:" + "ñ🇲🇽ع€a" * 40
    folded = fold(line).encode()
    pieces = folded.split(b"\r\n")[:-1]
    assert all(len(piece) <= 75 and piece.decode() for piece in pieces)
    assert all(piece.startswith(b" ") for piece in pieces[1:])
    assert folded.replace(b"\r\n ", b"").decode() == line + "\r\n"


def test_icaljs_reads_mixed_script_text_unchanged(icaljs) -> None:
    text = (MIXED_SCRIPT * 30)[:1_500] + '\n, ; \\ : "'
    item = feed_item(
        "text",
        "Europe/Madrid",
        STAMP,
        STAMP + timedelta(hours=1),
        summary=text[:200],
        description=text,
    )
    [row] = icaljs(render_calendar("Caravan", [item]))
    assert (row["summary"], row["description"]) == (text[:200], text)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(summary=feed_text, description=feed_text)
def test_random_unicode_titles_and_descriptions_survive_every_parser(
    summary: str, description: str
) -> None:
    item = feed_item(
        "prop",
        "America/Tijuana",
        STAMP,
        STAMP + timedelta(hours=1),
        summary=summary,
        description=description,
    )
    feed = render_calendar("Caravan", [item])
    event = icalendar.Calendar.from_ical(feed).walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == summary
    assert str(event.get("DESCRIPTION", "")) == description
    forget_vobject_zones()
    parsed = vobject.readOne(feed.decode()).vevent
    assert parsed.summary.value == summary
    assert (parsed.description.value if hasattr(parsed, "description") else "") == description
    event = IcsCalendarStream.calendar_from_ics(feed.decode()).events[0]
    assert ((event.summary or ""), (event.description or "")) == (summary, description)
