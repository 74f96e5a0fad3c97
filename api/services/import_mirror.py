"""How a partner's entries become events of the importing org.

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
entries that are the org's own events are skipped at every run (api/services/own_feeds.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from api.services import own_feeds
from api.services.feed_parsing import Entry
from db.queries import feed_imports as q
from db.queries import hosts
from db.queries.outbox import insert_outbox_entry

IMPORTED_TAG = "imported"


@dataclass
class Counts:
    added: int = 0
    updated: int = 0
    removed: int = 0
    shared: int = 0


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
            event_id = await hosts.insert_hosted(
                conn, "event", feed["org_id"], None, {**values, "status": status}
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
        await hosts.update_hosted(conn, "event", row["id"], values, bump_sequence=True)
        if status != row["status"]:
            # the source decides: a cancelled entry may even come back
            await hosts.update_status(conn, "event", row["id"], status)
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


def notice_for(skipped: int, total: int, shared: int) -> str | None:
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
