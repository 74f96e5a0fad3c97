"""Independent iCalendar parsers for tests: icalendar, vobject, ical (Python) and ical.js (Node).

Each reader returns what a calendar app would show: (UTC start, UTC end) or (summary,
description) by UID. ical.js is installed on first use under .caravan/node; tests that need
it are skipped with a clear message where Node is missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import icalendar
import pytest
import vobject
from hypothesis import strategies as st
from ical.calendar_stream import IcsCalendarStream

REPO = Path(__file__).resolve().parent.parent
NODE_DIR = REPO / ".caravan" / "node"

Times = dict[str, tuple[datetime, datetime]]
Texts = dict[str, tuple[str, str]]

# Text a feed carries unchanged: no surrogates, and no control characters but newline and tab.
feed_characters = st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from('\n\t,;\\:" ')
feed_text = st.text(feed_characters, max_size=300)


def exists(moment: datetime) -> bool:
    """False for a wall time skipped when clocks go forward."""
    return moment.astimezone(UTC).astimezone(moment.tzinfo).replace(tzinfo=None) == moment.replace(
        tzinfo=None
    )


def is_repeated(moment: datetime) -> bool:
    return moment.replace(fold=0).utcoffset() != moment.replace(fold=1).utcoffset()


def unfolded_lines(feed: bytes) -> list[str]:
    return feed.replace(b"\r\n ", b"").decode().split("\r\n")[:-1]


# ------------------------------------------------------------------ Python parsers


def forget_vobject_zones() -> None:
    """vobject keeps the first VTIMEZONE it sees per TZID for the whole process."""
    vars(vobject.icalendar)["__tzidMap"].clear()


def times_by_icalendar(feed: bytes) -> Times:
    calendar = icalendar.Calendar.from_ical(feed)
    return {
        str(event["UID"]): (
            event.decoded("DTSTART").astimezone(UTC),
            event.decoded("DTEND").astimezone(UTC),
        )
        for event in calendar.walk("VEVENT")
    }


def times_by_vobject(feed: bytes) -> Times:
    forget_vobject_zones()
    calendar = vobject.readOne(feed.decode())
    calendar.validate()
    return {
        event.uid.value: (
            event.dtstart.value.astimezone(UTC),
            event.dtend.value.astimezone(UTC),
        )
        for event in getattr(calendar, "vevent_list", [])
    }


def times_by_ical(feed: bytes) -> Times:
    calendar = IcsCalendarStream.calendar_from_ics(feed.decode())
    return {
        event.uid: (_aware(event.dtstart).astimezone(UTC), _aware(event.dtend).astimezone(UTC))
        for event in calendar.events
    }


def _aware(moment: object) -> datetime:
    assert isinstance(moment, datetime), moment
    return moment


PYTHON_PARSERS: dict[str, Callable[[bytes], Times]] = {
    "icalendar": times_by_icalendar,
    "vobject": times_by_vobject,
    "ical": times_by_ical,
}


def texts_by_icalendar(feed: bytes) -> Texts:
    calendar = icalendar.Calendar.from_ical(feed)
    return {
        str(event["UID"]): (str(event.get("SUMMARY", "")), str(event.get("DESCRIPTION", "")))
        for event in calendar.walk("VEVENT")
    }


def texts_by_vobject(feed: bytes) -> Texts:
    forget_vobject_zones()
    calendar = vobject.readOne(feed.decode())
    return {
        event.uid.value: (
            event.summary.value if hasattr(event, "summary") else "",
            event.description.value if hasattr(event, "description") else "",
        )
        for event in getattr(calendar, "vevent_list", [])
    }


def texts_by_ical(feed: bytes) -> Texts:
    calendar = IcsCalendarStream.calendar_from_ics(feed.decode())
    return {event.uid: (event.summary or "", event.description or "") for event in calendar.events}


PYTHON_TEXT_READERS: dict[str, Callable[[bytes], Texts]] = {
    "icalendar": texts_by_icalendar,
    "vobject": texts_by_vobject,
    "ical": texts_by_ical,
}


def vevents(feed: bytes) -> dict[str, Any]:
    """The feed's VEVENTs by UID (icalendar), to read any property."""
    return {str(event["UID"]): event for event in icalendar.Calendar.from_ical(feed).walk("VEVENT")}


# ------------------------------------------------------------------ ical.js

ICALJS_SCRIPT = """
import ICAL from 'ical.js';
import fs from 'node:fs';

const root = new ICAL.Component(ICAL.parse(fs.readFileSync(process.argv[2], 'utf8')));
// Only the feed's own VTIMEZONEs are known: a missing or wrong one shows up as a wrong time.
for (const vtimezone of root.getAllSubcomponents('vtimezone')) {
  ICAL.TimezoneService.register(vtimezone);
}
const rows = root.getAllSubcomponents('vevent').map((vevent) => {
  const event = new ICAL.Event(vevent);
  return {
    uid: event.uid,
    start: event.startDate.toJSDate().toISOString(),
    end: event.endDate.toJSDate().toISOString(),
    summary: event.summary,
    description: event.description,
  };
});
process.stdout.write(JSON.stringify(rows));
"""


@pytest.fixture(scope="module")
def icaljs(tmp_path_factory: pytest.TempPathFactory) -> Callable[[bytes], list[dict[str, str]]]:
    """Mozilla's ical.js (Thunderbird, Nextcloud), installed on first use under .caravan/node."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("ical.js check skipped: node and npm are needed on PATH")
    if not (NODE_DIR / "node_modules" / "ical.js" / "package.json").exists():
        try:
            subprocess.run(
                [npm, "install", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund", "ical.js@2"],
                check=True,
                capture_output=True,
                timeout=180,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
            pytest.skip(f"ical.js check skipped: `npm install ical.js@2` failed ({error})")
    script = NODE_DIR / "list_events.mjs"
    if not script.exists() or script.read_text() != ICALJS_SCRIPT:
        script.write_text(ICALJS_SCRIPT)
    workdir = tmp_path_factory.mktemp("icaljs")

    def list_events(feed: bytes) -> list[dict[str, str]]:
        path = workdir / "feed.ics"
        path.write_bytes(feed)
        done = subprocess.run(
            [node, str(script), str(path)], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)  # type: ignore[no-any-return]

    return list_events


def times_by_icaljs(rows: list[dict[str, str]]) -> Times:
    return {
        row["uid"]: (datetime.fromisoformat(row["start"]), datetime.fromisoformat(row["end"]))
        for row in rows
    }


def texts_by_icaljs(rows: list[dict[str, str]]) -> Texts:
    return {row["uid"]: (row["summary"] or "", row["description"] or "") for row in rows}
