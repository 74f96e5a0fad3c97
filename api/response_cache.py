"""A small in-process cache of encoded public responses, keyed by what makes them change."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Cached:
    body: bytes
    etag: str
    headers: tuple[tuple[str, str], ...]
    stored_at: float


class ResponseCache:
    """Bounded LRU of encoded responses for anonymous public lists.

    A key carries the data's version (the events' highest change_seq) so a visible change makes
    a new key at once. Entries also expire after `ttl` seconds: time alone changes which events
    are upcoming, and a change that commits with a lower change_seq than one already committed
    (sequence values are handed out before commit) is picked up within `ttl`.
    """

    def __init__(self, max_entries: int = 512, ttl: float = 5.0) -> None:
        self._entries: OrderedDict[Hashable, Cached] = OrderedDict()
        self._max = max_entries
        self._ttl = ttl

    def get(self, key: Hashable) -> Cached | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if time.monotonic() - entry.stored_at > self._ttl:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, key: Hashable, body: bytes, etag: str, headers: dict[str, str]) -> Cached:
        entry = Cached(body, etag, tuple(headers.items()), time.monotonic())
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return entry
