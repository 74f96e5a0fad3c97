"""Abuse limits per client and per account, counted under keyed-hash buckets.

A client is named by a keyed hash of its address (Keyring.limiter_bucket), so no address is
ever stored. Limits on writes are counted in PostgreSQL, shared by every process, on a
connection of their own outside the request's transaction: a request that then fails (a taken
email, a full event) still counts. Limits on public reads are counted in this process's memory:
a database write per read would cost more than the read it guards, and a per-process limit is
enough to stop a scraper (with N server processes a client gets at most N times the limit).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, cast

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.types import Message, Scope

from api.config import Settings
from api.crypto import Keyring, token_hash
from api.errors import RateLimited
from db.queries import rate_limits, sessions

#: where the headers of the request's tightest limit wait for the response
_STATE_KEY = "caravan_rate_limit_headers"


@dataclass(frozen=True)
class Rule:
    """One limit: `name` counts per `per` ("client" or "account") under a setting."""

    name: str
    per: str
    setting: str
    what: str
    in_memory: bool = False

    def limit(self, settings: Settings) -> tuple[int, int]:
        value: tuple[int, int] = getattr(settings, self.setting)
        return value


_SIGNUP = Rule("signup", "client", "rate_signup_per_client", "sign-ups from this network")
_LOGIN = Rule("login", "client", "rate_login_per_client", "logins from this network")
_RSVP_CLIENT = Rule("rsvp", "client", "rate_rsvp_per_client", "RSVPs from this network")
_RSVP_ACCOUNT = Rule("rsvp", "account", "rate_rsvp_per_account", "RSVPs by this account")
_BOOKING_CLIENT = Rule(
    "booking", "client", "rate_booking_per_client", "ride bookings from this network"
)
_BOOKING_ACCOUNT = Rule(
    "booking", "account", "rate_booking_per_account", "ride bookings by this account"
)
_LISTING = Rule(
    "listing", "client", "rate_listing_per_client", "list requests from this network", True
)

#: (method, route template) → the limits it counts against; a test checks every route exists
ROUTE_RULES: dict[tuple[str, str], tuple[Rule, ...]] = {
    ("POST", "/v1/accounts"): (_SIGNUP,),
    ("POST", "/v1/sessions"): (_LOGIN,),
    ("POST", "/v1/events/{event_id}/rsvps"): (_RSVP_CLIENT, _RSVP_ACCOUNT),
    ("POST", "/v1/ride-offers/{offer_id}/bookings"): (_BOOKING_CLIENT, _BOOKING_ACCOUNT),
    ("GET", "/v1/events"): (_LISTING,),
    ("GET", "/v1/orgs"): (_LISTING,),
    ("GET", "/v1/orgs/{slug}/events"): (_LISTING,),
    ("GET", "/v1/orgs/{slug}/trips"): (_LISTING,),
}


class MemoryWindows:
    """Fixed-window counters in this process; buckets are keyed hashes, never addresses."""

    def __init__(self, max_buckets: int = 100_000) -> None:
        self._windows: dict[bytes, tuple[float, int]] = {}
        self._max = max_buckets

    def hit(self, bucket: bytes, window_s: int) -> tuple[int, int]:
        """Count one hit; returns (hits in this window, seconds until it ends)."""
        now = time.monotonic()
        started, hits = self._windows.get(bucket, (now, 0))
        if now - started >= window_s:
            started, hits = now, 0
        hits += 1
        if bucket not in self._windows and len(self._windows) >= self._max:
            self._forget_expired(now, window_s)
        self._windows[bucket] = (started, hits)
        return hits, max(int(started + window_s - now + 0.999), 1)

    def _forget_expired(self, now: float, window_s: int) -> None:
        self._windows = {b: w for b, w in self._windows.items() if now - w[0] < window_s}
        if len(self._windows) >= self._max:  # all live: drop the oldest half
            keep = sorted(self._windows.items(), key=lambda item: item[1][0])[self._max // 2 :]
            self._windows = dict(keep)


def rate_headers(limit: int, remaining: int, reset_s: int) -> dict[str, str]:
    return {
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": str(max(remaining, 0)),
        "RateLimit-Reset": str(max(reset_s, 1)),
    }


async def _account_subject(conn: Any, connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The account behind a session token, if any; a bad token is left for provide_conn."""
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    row = await sessions.select_session_account(conn, token_hash(token.strip()))
    return str(row["account_id"]) if row else None


async def rate_limit_guard(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Count the request against its route's limits; over any of them → 429 with Retry-After.

    A guard runs before dependencies, so the 429 is raised before any transaction is open."""
    scope = cast("dict[str, Any]", connection.scope)
    rules = ROUTE_RULES.get((scope.get("method", ""), scope.get("path_template", "")))
    if not rules:
        return
    state = connection.app.state
    settings: Settings = state.settings
    keyring: Keyring = state.keyring
    client = connection.client.host if connection.client else "unknown"
    tightest: tuple[int, int, int, Rule] | None = None  # remaining, limit, reset, rule
    exceeded: tuple[int, int, int, Rule] | None = None

    def count(rule: Rule, hits: int, seconds_left: int, limit: int) -> None:
        nonlocal tightest, exceeded
        entry = (limit - hits, limit, max(seconds_left, 1), rule)
        if tightest is None or entry[0] < tightest[0]:
            tightest = entry
        if hits > limit and (exceeded is None or entry[2] > exceeded[2]):
            exceeded = entry

    for rule in rules:
        if rule.in_memory:
            limit, window_s = rule.limit(settings)
            bucket = keyring.limiter_bucket("route", rule.name, rule.per, client)
            hits, seconds_left = state.rate_windows.hit(bucket, window_s)
            count(rule, hits, seconds_left, limit)
    shared = [rule for rule in rules if not rule.in_memory]
    if shared:
        async with state.pool.acquire(timeout=settings.pool_acquire_timeout_s) as conn:
            account = None
            if any(rule.per == "account" for rule in shared):
                account = await _account_subject(conn, connection)
            for rule in shared:
                subject = client if rule.per == "client" else account
                if subject is None:
                    continue
                limit, window_s = rule.limit(settings)
                bucket = keyring.limiter_bucket("route", rule.name, rule.per, subject)
                row = await rate_limits.hit_bucket(conn, bucket, window_s)
                count(rule, row["hits"], int(row["seconds_left"]), limit)
    if tightest is None:
        return
    remaining, limit, reset, _rule = exceeded or tightest
    headers = rate_headers(limit, remaining, reset)
    connection.state[_STATE_KEY] = headers
    if exceeded is not None:
        raise RateLimited(
            f"Too many {exceeded[3].what}: at most {limit} in "
            f"{exceeded[3].limit(settings)[1]} seconds; try again in {reset} seconds.",
            headers={"Retry-After": str(reset), **headers},
        )


async def add_rate_limit_headers(message: Message, scope: Scope) -> None:
    """Put the RateLimit-* headers of a limited route on its response (success or error)."""
    if message["type"] != "http.response.start":
        return
    headers = (scope.get("state") or {}).get(_STATE_KEY)
    if not headers:
        return
    present = {name.lower() for name, _ in message.get("headers", [])}
    extra = [
        (name.lower().encode(), value.encode())
        for name, value in headers.items()
        if name.lower().encode() not in present
    ]
    message["headers"] = [*message.get("headers", []), *extra]
