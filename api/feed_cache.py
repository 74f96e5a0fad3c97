"""Rendered calendar feeds kept in memory, so that polling an unchanged feed costs almost nothing.

Calendar apps poll every feed again and again, mostly to hear that nothing changed. Each
rendered feed is kept with the *fingerprint* of the data behind it (db/queries/feeds.py):

- within `FRESH_S` of the last check, and while this process has committed no write since,
  the entry is served as it is, without touching the database (public feeds; a token feed
  still looks its token up on every request, so a revoked token stops working at once);
- after that, one query recomputes the fingerprint: if it matches, the entry is served again;
  if not, the feed is rendered anew;
- an entry is re-rendered at least every `MAX_AGE_S` whatever its fingerprint, because time
  alone moves events in and out of a feed's window and reveals timed places.

So another process's change (a second server worker, the background worker) shows in a feed
within about a second (while one request checks a feed, others are served the entry: two
seconds at most), a change the fingerprint cannot see within `MAX_AGE_S`, and this process's
own changes at once. Bodies are bounded in bytes; past that, the least recently used entries
keep only their validators, which still answer If-None-Match with 304.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, replace

from api.response_cache import Renders
from api.services.feed_rendering import Feed

FRESH_S = 1.0
MAX_AGE_S = 300.0


@dataclass(slots=True)
class FeedEntry:
    feed: Feed
    fingerprint: str
    rendered_at: float
    checked_at: float
    generation: int
    #: when a request began checking the fingerprint, if one is checking it now
    checking_since: float | None = None

    @property
    def has_body(self) -> bool:
        """False once the body was dropped to stay within the byte budget (a feed is never
        empty: it holds at least its VCALENDAR envelope)."""
        return bool(self.feed.body)


@dataclass(frozen=True, slots=True)
class Check:
    """What a request learned before rendering: stored with the feed it renders. Taken before
    the rows are read, so a change that commits meanwhile makes the next check render again."""

    key: Hashable
    fingerprint: str
    checked_at: float
    generation: int


class FeedCache:
    def __init__(self, max_body_bytes: int = 32_000_000, max_entries: int = 50_000) -> None:
        self._entries: OrderedDict[Hashable, FeedEntry] = OrderedDict()
        self._body_bytes = 0
        self._max_body_bytes = max_body_bytes
        self._max_entries = max_entries
        #: moves whenever this process commits a write (api/deps.py)
        self.generation = 0
        self.renders = Renders()

    def wrote(self) -> None:
        """This process committed a write: no entry is fresh without a new check."""
        self.generation += 1

    def fresh(self, key: Hashable) -> FeedEntry | None:
        """The entry, if it may be served without asking the database: checked within
        FRESH_S, or being checked by another request right now (served meanwhile, so that a
        busy feed is checked once a second, not by every request that arrives during it)."""
        entry = self._live(key)
        if entry is None or entry.generation != self.generation:
            return None
        now = time.monotonic()
        if now - entry.checked_at <= FRESH_S:
            return entry
        if entry.checking_since is not None and now - entry.checking_since <= FRESH_S:
            return entry
        return None

    def checking(self, key: Hashable) -> None:
        """This request is checking `key`'s fingerprint: others may serve the entry meanwhile."""
        entry = self._entries.get(key)
        if entry is not None:
            entry.checking_since = time.monotonic()

    def confirm(self, check: Check) -> FeedEntry | None:
        """The entry, if its fingerprint still matches the one just read; it is fresh again."""
        entry = self._live(check.key)
        if entry is None or entry.fingerprint != check.fingerprint:
            return None
        entry.checked_at = check.checked_at
        entry.generation = check.generation
        entry.checking_since = None
        return entry

    def put(self, check: Check, feed: Feed) -> None:
        old = self._entries.pop(check.key, None)
        if old is not None:
            self._body_bytes -= len(old.feed.body)
        self._entries[check.key] = FeedEntry(
            feed=feed,
            fingerprint=check.fingerprint,
            rendered_at=check.checked_at,
            checked_at=check.checked_at,
            generation=check.generation,
        )
        self._body_bytes += len(feed.body)
        self._trim()
        self.renders.finished(check.key)

    def clear(self) -> None:
        self._entries.clear()
        self._body_bytes = 0
        self.renders.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _live(self, key: Hashable) -> FeedEntry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if time.monotonic() - entry.rendered_at > MAX_AGE_S:
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key)
        self._body_bytes -= len(entry.feed.body)  # 0 once trimmed

    def _trim(self) -> None:
        while len(self._entries) > self._max_entries:
            self._drop(next(iter(self._entries)))
        for entry in self._entries.values():  # least recently used first
            if self._body_bytes <= self._max_body_bytes:
                break
            if entry.has_body:
                self._body_bytes -= len(entry.feed.body)
                entry.feed = replace(entry.feed, body=b"")
