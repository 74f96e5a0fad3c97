"""Encoded responses kept in this process (anonymous public lists, calendar feeds), one policy.

Both caches evict the same way (`Lru`): least recently used first, past a number of entries;
past a budget of body bytes the least recently used entries keep only their validators, which
still answer If-None-Match with 304; and nothing older than the cache's maximum age is served.

Public lists (`ResponseCache`): a key carries the data's version (the events' highest
change_seq) so a visible change makes a new key at once. Entries expire after a few seconds:
time alone changes which events are upcoming, and a change that commits with a lower change_seq
than one already committed (sequence values are handed out before commit) shows within that.

Calendar feeds (`FeedCache`): calendar apps poll every feed again and again, mostly to hear that
nothing changed. Each rendered feed is kept with the *fingerprint* of the data behind it
(db/queries/feeds.py):

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
own changes at once. Revoking or rotating a feed token forgets its account's personal feeds at
once: their bytes do not wait in memory to be evicted.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, replace
from typing import Any, Generic, Protocol, TypeVar

from api.services.feed_rendering import Feed

FRESH_S = 1.0
MAX_AGE_S = 300.0

#: request state: (Renders, key) of a render this request leads (released if it fails)
RENDER_LEAD = "render_lead"


async def release_render_lead(exception: Exception, scope: Any) -> None:
    """An app `after_exception` hook: a request that led a render and failed (a bad query, say)
    must not hold back the next identical request."""
    lead = scope.get("state", {}).get(RENDER_LEAD)
    if lead is not None:
        lead[0].finished(lead[1])


class Renders:
    """Misses of one key that arrive together wait for the first to render it, instead of
    all running the same query at once (a page expiring under load, a feed after a change).

    The first request leads; later ones wait at most WAIT_S for it to finish, then look in
    the cache again and render themselves if it is still missing (the leader failed, say).
    A lead older than WAIT_S no longer holds anyone back.
    """

    WAIT_S = 2.0

    def __init__(self) -> None:
        self._leads: dict[Hashable, tuple[asyncio.Event, float]] = {}

    async def lead_or_wait(self, key: Hashable, state: Any) -> bool:
        """True when this request (whose state is `state`) is to render `key`; False after
        waiting for another."""
        now = time.monotonic()
        lead = self._leads.get(key)
        if lead is None or now - lead[1] > self.WAIT_S:
            self._leads[key] = (asyncio.Event(), now)
            state[RENDER_LEAD] = (self, key)
            return True
        try:
            await asyncio.wait_for(lead[0].wait(), self.WAIT_S - (now - lead[1]))
        except TimeoutError:
            pass
        return False

    def finished(self, key: Hashable) -> None:
        """`key` is in the cache now: wake whoever waits for it."""
        lead = self._leads.pop(key, None)
        if lead is not None:
            lead[0].set()

    def clear(self) -> None:
        self._leads.clear()


class Entry(Protocol):
    @property
    def body(self) -> bytes: ...

    @property
    def stored_at(self) -> float: ...

    def drop_body(self) -> None: ...


E = TypeVar("E", bound=Entry)


class Lru(Generic[E]):
    """The eviction policy both caches share (see the module docstring)."""

    def __init__(self, max_entries: int, max_body_bytes: int, max_age_s: float) -> None:
        self._entries: OrderedDict[Hashable, E] = OrderedDict()
        self._body_bytes = 0
        self._max_entries = max_entries
        self._max_body_bytes = max_body_bytes
        self.max_age_s = max_age_s

    def get(self, key: Hashable) -> E | None:
        """The entry if it is not too old, now the most recently used."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if time.monotonic() - entry.stored_at > self.max_age_s:
            self.pop(key)
            return None
        self._entries.move_to_end(key)
        return entry

    def peek(self, key: Hashable) -> E | None:
        """The entry, its age and its place in the order untouched."""
        return self._entries.get(key)

    def put(self, key: Hashable, entry: E) -> None:
        self.pop(key)
        self._entries[key] = entry
        self._body_bytes += len(entry.body)
        while len(self._entries) > self._max_entries:
            self.pop(next(iter(self._entries)))
        for old in self._entries.values():  # least recently used first
            if self._body_bytes <= self._max_body_bytes:
                break
            if old.body:
                self._body_bytes -= len(old.body)
                old.drop_body()

    def pop(self, key: Hashable) -> E | None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._body_bytes -= len(entry.body)  # 0 once its body was dropped
        return entry

    def items(self) -> list[tuple[Hashable, E]]:
        return list(self._entries.items())

    def clear(self) -> None:
        self._entries.clear()
        self._body_bytes = 0

    def __len__(self) -> int:
        return len(self._entries)


# ---------------------------------------------------------------- public lists


@dataclass(slots=True)
class Cached:
    body: bytes
    etag: str
    headers: tuple[tuple[str, str], ...]
    stored_at: float

    def drop_body(self) -> None:
        self.body = b""


class ResponseCache:
    """Encoded responses for anonymous public lists, expiring after `ttl` seconds."""

    def __init__(
        self, max_entries: int = 512, ttl: float = 5.0, max_body_bytes: int = 32_000_000
    ) -> None:
        self._lru: Lru[Cached] = Lru(max_entries, max_body_bytes, ttl)
        self.renders = Renders()

    def get(self, key: Hashable) -> Cached | None:
        """The entry; its body is empty if dropped for the byte budget (a JSON page never is)."""
        return self._lru.get(key)

    def put(self, key: Hashable, body: bytes, etag: str, headers: dict[str, str]) -> Cached:
        entry = Cached(body, etag, tuple(headers.items()), time.monotonic())
        self._lru.put(key, entry)
        self.renders.finished(key)
        return entry


# ---------------------------------------------------------------- calendar feeds


@dataclass(slots=True)
class FeedEntry:
    feed: Feed
    fingerprint: str
    rendered_at: float
    checked_at: float
    generation: int
    #: whose feed it is, for forgetting it (an account, for personal feeds)
    owner: Hashable | None = None
    #: when a request began checking the fingerprint, if one is checking it now
    checking_since: float | None = None

    @property
    def body(self) -> bytes:
        return self.feed.body

    @property
    def stored_at(self) -> float:
        return self.rendered_at

    @property
    def has_body(self) -> bool:
        """False once the body was dropped to stay within the byte budget (a feed is never
        empty: it holds at least its VCALENDAR envelope)."""
        return bool(self.feed.body)

    def drop_body(self) -> None:
        self.feed = replace(self.feed, body=b"")


@dataclass(frozen=True, slots=True)
class Check:
    """What a request learned before rendering: stored with the feed it renders. Taken before
    the rows are read, so a change that commits meanwhile makes the next check render again."""

    key: Hashable
    fingerprint: str
    checked_at: float
    generation: int
    owner: Hashable | None = None


class FeedCache:
    def __init__(self, max_body_bytes: int = 32_000_000, max_entries: int = 50_000) -> None:
        self._lru: Lru[FeedEntry] = Lru(max_entries, max_body_bytes, MAX_AGE_S)
        #: owner → when its feeds were forgotten: a render checked before then is not kept
        self._forgotten: OrderedDict[Hashable, float] = OrderedDict()
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
        entry = self._lru.get(key)
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
        entry = self._lru.peek(key)
        if entry is not None:
            entry.checking_since = time.monotonic()

    def confirm(self, check: Check) -> FeedEntry | None:
        """The entry, if its fingerprint still matches the one just read; it is fresh again."""
        entry = self._lru.get(check.key)
        if entry is None or entry.fingerprint != check.fingerprint:
            return None
        entry.checked_at = check.checked_at
        entry.generation = check.generation
        entry.checking_since = None
        return entry

    def put(self, check: Check, feed: Feed) -> None:
        forgotten_at = self._forgotten.get(check.owner)
        # a render that began before its owner's feeds were forgotten may show a revoked token
        if forgotten_at is None or check.checked_at > forgotten_at:
            self._lru.put(
                check.key,
                FeedEntry(
                    feed=feed,
                    fingerprint=check.fingerprint,
                    rendered_at=check.checked_at,
                    checked_at=check.checked_at,
                    generation=check.generation,
                    owner=check.owner,
                ),
            )
        self.renders.finished(check.key)

    def forget(self, owner: Hashable) -> None:
        """Drop every feed of `owner` now (a feed token was revoked or rotated, and committed),
        and refuse those being rendered from checks taken before."""
        now = time.monotonic()
        for key, entry in self._lru.items():
            if entry.owner == owner:
                self._lru.pop(key)
        self._forgotten.pop(owner, None)
        self._forgotten[owner] = now
        # a render outlives no statement timeout, let alone the longest a feed is kept
        while self._forgotten and now - next(iter(self._forgotten.values())) > MAX_AGE_S:
            self._forgotten.popitem(last=False)

    def entries(self) -> list[FeedEntry]:
        return [entry for _, entry in self._lru.items()]

    def clear(self) -> None:
        self._lru.clear()
        self._forgotten.clear()
        self.renders.clear()

    def __len__(self) -> int:
        return len(self._lru)
