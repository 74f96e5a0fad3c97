"""Rendering a calendar feed from its items, cut to what clients take, with HTTP validators.

Bytes are a pure function of the items, so the ETag is the hash of the body and is the same
in every process. Each VEVENT is cached by its FeedItem (which holds everything it shows):
an unchanged feed is a join of cached blocks; big cache misses render in a worker thread.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

import anyio.to_thread

from api.ical import FeedItem, render_calendar, render_vevent

WINDOW_BACK = timedelta(days=30)
WINDOW_AHEAD = timedelta(days=365)
#: at most this many VEVENTs, and fewer when they would take the feed past MAX_FEED_BYTES
MAX_ITEMS = 1_000
#: Google drops what lies beyond about 1 MB of a subscribed feed
MAX_FEED_BYTES = 1_000_000
#: room kept for the header and the VTIMEZONEs
ENVELOPE_RESERVE = 60_000
#: more cache misses than this render in a worker thread
THREAD_THRESHOLD = 64
REFRESH = timedelta(hours=1)
#: Last-Modified of a feed that never had anything in it
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Feed:
    """A rendered feed and its validators; `private` feeds must not be cached by proxies."""

    body: bytes
    etag: str
    last_modified: datetime
    private: bool


@dataclass(frozen=True, slots=True)
class Reader:
    """Who reads a feed, in which languages, and when (the window and reveals depend on it)."""

    languages: Sequence[str]
    public_url: str
    now: datetime

    @property
    def since(self) -> datetime:
        return self.now - WINDOW_BACK

    @property
    def until(self) -> datetime:
        return self.now + WINDOW_AHEAD


class VeventCache:
    """Rendered VEVENTs by FeedItem, least recently used out first, bounded in bytes."""

    def __init__(self, max_bytes: int = 64_000_000) -> None:
        self._blocks: OrderedDict[FeedItem, bytes] = OrderedDict()
        self._size = 0
        self._max_bytes = max_bytes
        self._lock = threading.Lock()

    def get(self, item: FeedItem) -> bytes | None:
        with self._lock:
            block = self._blocks.get(item)
            if block is not None:
                self._blocks.move_to_end(item)
            return block

    def put(self, item: FeedItem, block: bytes) -> None:
        with self._lock:
            if item in self._blocks:
                return
            self._blocks[item] = block
            self._size += len(block)
            while self._size > self._max_bytes and self._blocks:
                _, old = self._blocks.popitem(last=False)
                self._size -= len(old)

    def clear(self) -> None:
        with self._lock:
            self._blocks.clear()
            self._size = 0

    def __len__(self) -> int:
        return len(self._blocks)


VEVENTS = VeventCache()


async def _vevents(items: Sequence[FeedItem]) -> list[bytes]:
    blocks = [VEVENTS.get(item) for item in items]
    missing = [i for i, block in enumerate(blocks) if block is None]
    if len(missing) > THREAD_THRESHOLD:
        rendered = await anyio.to_thread.run_sync(
            lambda: [render_vevent(items[i]) for i in missing]
        )
    else:
        rendered = [render_vevent(items[i]) for i in missing]
    for i, block in zip(missing, rendered, strict=True):
        VEVENTS.put(items[i], block)
        blocks[i] = block
    return cast(list[bytes], blocks)


async def render_feed(
    name: str, items: Sequence[FeedItem], watermark: datetime | None, *, private: bool
) -> Feed:
    """The calendar of `items` by start time, cut to MAX_ITEMS and MAX_FEED_BYTES."""
    ordered = sorted(items, key=lambda item: (item.starts_at, item.uid))[:MAX_ITEMS]
    blocks = await _vevents(ordered)
    budget, count = MAX_FEED_BYTES - ENVELOPE_RESERVE, 0
    for block in blocks:
        budget -= len(block)
        if budget < 0:
            break
        count += 1
    while True:
        body = render_calendar(name, ordered[:count], vevents=blocks[:count], refresh=REFRESH)
        if len(body) < MAX_FEED_BYTES or count == 0:
            break
        count = count * 9 // 10
    modified = [item.updated_at for item in ordered[:count]]
    if watermark is not None:
        modified.append(watermark)
    return Feed(
        body=body,
        etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
        last_modified=max(modified, default=EPOCH).astimezone(UTC),
        private=private,
    )
