"""A small in-process cache of encoded public responses, keyed by what makes them change."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

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
        self.renders = Renders()

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
        self.renders.finished(key)
        return entry
