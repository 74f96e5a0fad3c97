"""Caravan's own feeds seen from an import: which URLs and which feed entries are already ours.

An org importing its own feed would mirror its events onto themselves; a partner's Caravan
feed that carries this org's events back (the partner imports us, we import the partner)
would do the same one step later. Both are caught twice over:

- by address, when an import is registered or changed and at every redirect: any spelling of
  a URL on `CARAVAN_PUBLIC_URL` (host case, default port, trailing slash or dot segments,
  escapes, query, webcal://) that names this org's feed, one of its events' or trips' feeds,
  or a feed behind a secret (personal feed, manage link, share link: importing one would
  publish someone's calendar);
- by content, at every run: an entry whose UID is one Caravan gives to this org's events,
  shifts, trips or itinerary items (`event-<id>@caravan`, …), or to an event of another org
  here that mirrors one of them, is left out.

An entry that mirrors, through a Caravan feed here, a partner's entry takes that entry's
identity, so that importing the partner both directly and through the Caravan feed yields one
event. Another org's public Caravan feed stays importable.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit
from uuid import UUID

import asyncpg

from db.queries import feed_imports as q

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_DEFAULT_PORTS = {"http": 80, "https": 443, "webcal": 80, "webcals": 443}
_SECRET = "secret"
_FEED_PATHS = (
    (re.compile(r"/v1/events/shared/[^/]+/calendar\.ics", re.I), _SECRET),
    (re.compile(rf"/v1/events/({_UUID})/calendar\.ics", re.I), "event"),
    (re.compile(rf"/v1/trips/({_UUID})/calendar\.ics", re.I), "trip"),
    (re.compile(r"/v1/orgs/([^/]+)/calendar\.ics", re.I), "org"),
    (re.compile(r"/v1/feeds/[^/]+/calendar\.ics", re.I), _SECRET),
    (re.compile(r"/v1/rsvps/manage/[^/]+/calendar\.ics", re.I), _SECRET),
)
#: the UIDs api.services.feed_items gives what it renders (rides belong to people, not to orgs)
_CARAVAN_UID = re.compile(rf"(event|shift|trip|itinerary)-({_UUID})@caravan")
_CARAVAN_EVENT_UID = re.compile(rf"event-({_UUID})@caravan")

OWN_FEED = (
    "This is this organization's own Caravan feed: its events are already here, and "
    "importing them would only duplicate them."
)
OWN_OCCASION = (
    "This is the Caravan feed of one of this organization's own events or trips: it is "
    "already here, and importing it would only duplicate it."
)
SECRET_FEED = (
    "This is a private Caravan calendar link (a personal feed, a manage link or a share "
    "link): it is a secret, and importing it would publish someone's own calendar as public "
    "events."
)


def caravan_feed(url: str, public_url: str) -> tuple[str, str] | None:
    """(kind, what) when `url`, however spelled, names one of the feeds served at
    `public_url`: kind "org" (what = slug), "event" or "trip" (what = id) or "secret"."""
    try:
        parts = urlsplit(url.strip())
        base = urlsplit(public_url)
        port = parts.port
        base_port = base.port or _DEFAULT_PORTS.get(base.scheme.lower())
    except ValueError:
        return None
    if parts.scheme.lower() not in _DEFAULT_PORTS:
        return None
    host = (parts.hostname or "").rstrip(".")
    if not host or host != (base.hostname or "").rstrip("."):
        return None
    if port is not None and port not in (80, 443, base_port):
        return None
    path = posixpath.normpath("/" + unquote(parts.path)).lstrip("/")
    prefix = posixpath.normpath("/" + unquote(base.path)).strip("/")
    if prefix:
        if not (path + "/").startswith(prefix + "/"):
            return None
        path = path[len(prefix) :]
    path = "/" + path.strip("/")
    for pattern, kind in _FEED_PATHS:
        match = pattern.fullmatch(path)
        if match:
            return kind, (match.group(1).lower() if match.groups() else "")
    return None


async def refusal(
    conn: asyncpg.Connection, org_id: UUID, org_slug: str, url: str, public_url: str
) -> str | None:
    """Why this org may not import `url` (one of its own feeds, or a secret one), or None."""
    found = caravan_feed(url, public_url)
    if found is None:
        return None
    kind, what = found
    if kind == _SECRET:
        return SECRET_FEED
    if kind == "org":
        return OWN_FEED if what == org_slug.lower() else None
    if await q.select_own_occasions(conn, org_id, [UUID(what)]):
        return OWN_OCCASION
    return None


@dataclass(frozen=True)
class Sorted:
    """What a feed's entries are with regard to the importing org."""

    own: frozenset[str]  # UIDs of entries that are the org's own
    origins: dict[str, tuple[str, str]]  # UID → the (calendar, UID) of what it mirrors


async def sort_entries(conn: asyncpg.Connection, org_id: UUID, uids: list[str]) -> Sorted:
    """Which entries (by UID) are this org's own events, and which mirror a partner's."""
    by_id: dict[UUID, str] = {}
    events: list[UUID] = []
    for uid in uids:
        match = _CARAVAN_UID.fullmatch(uid)
        if match:
            by_id[UUID(match.group(2))] = uid
            if match.group(1) == "event":
                events.append(UUID(match.group(2)))
    if not by_id:
        return Sorted(frozenset(), {})
    own = {by_id[i] for i in await q.select_own_occasions(conn, org_id, list(by_id))}
    origins: dict[str, tuple[str, str]] = {}
    last: dict[UUID, asyncpg.Record] = {}
    for link in await q.select_caravan_chains(conn, org_id, events):
        if link["ours"]:
            own.add(by_id[link["start_id"]])
        last[link["start_id"]] = link  # ordered by depth: the last one is where it comes from
    for start, link in last.items():
        uid = by_id[start]
        if uid in own or not link["imported"] or _CARAVAN_EVENT_UID.fullmatch(link["source_uid"]):
            continue  # ours, an original of another org here, or a chain cut short
        origins[uid] = (link["source_calendar"] or "", link["source_uid"])
    return Sorted(frozenset(own), origins)
