"""Abuse limits per client and per account, counted under keyed-hash buckets.

A client is named by a keyed hash of its address (Keyring.limiter_bucket), so no address is
ever stored. Limits on writes are counted in PostgreSQL, shared by every process, on a
connection of their own outside the request's transaction: a request that then fails (a taken
email, a full event) still counts. Limits on public reads are counted in this process's memory:
a database write per read would cost more than the read it guards, and a per-process limit is
enough to stop a scraper (with N server processes a client gets at most N times the limit).

Anonymous writes are never simply refused for coming from a busy network: past a rule's free
threshold each request needs a solved challenge (api/services/challenges.py), so a rally on one
Wi-Fi gets in while a script pays for every request. A hard 429 is left for clients that keep
sending wrong solutions or pass a far higher ceiling (rate_ceiling_factor times the threshold).
Where the work is per event (RSVPs) or per trip or ride, the count is per (client, that object),
so flooding one event never slows RSVPs to another.

The client is the connection's peer address, or, only when that peer is one of
CARAVAN_TRUSTED_PROXIES, the rightmost address in Forwarded / X-Forwarded-For that is not
itself a trusted proxy. An IPv6 client counts as its /64. The address is hashed at once and
never stored or logged.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.types import Message, Scope

from api.config import Settings
from api.crypto import Keyring, token_hash
from api.errors import RateLimited
from api.services import challenges
from db.queries import rate_limits, sessions

#: where the headers of the request's tightest limit wait for the response
_STATE_KEY = "caravan_rate_limit_headers"
#: set on the request's state once the guard has accepted a challenge solution for it
SOLVED_KEY = "caravan_challenge_solved"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# ---------------------------------------------------------------- who the client is


@lru_cache(maxsize=8)
def _networks(
    trusted: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in trusted)


def _address(text: str) -> IPAddress | None:
    """An address from a header hop or the peer: `1.2.3.4`, `1.2.3.4:80`, `[::1]:80`, `"::1"`."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _forwarded_hops(headers: Any) -> list[str]:
    """The client hops a proxy reported, left (first) to right (nearest), from one header."""
    forwarded = headers.get("forwarded")
    if forwarded:
        hops = []
        for element in forwarded.split(","):
            for pair in element.split(";"):
                name, _, value = pair.strip().partition("=")
                if name.lower() == "for":
                    hops.append(value)
        return hops
    return [hop for hop in headers.get("x-forwarded-for", "").split(",") if hop.strip()]


def _name(address: IPAddress) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def client_key(connection: ASGIConnection[Any, Any, Any, Any], settings: Settings) -> str:
    """What per-client limits count under (hashed before use; never stored or logged)."""
    peer_text = connection.client.host if connection.client else ""
    peer = _address(peer_text)
    if peer is None:
        return peer_text or "unknown"
    trusted = _networks(settings.trusted_proxies)
    if not trusted or not any(peer in net for net in trusted):
        return _name(peer)
    client = peer
    for hop in reversed(_forwarded_hops(connection.headers)):
        address = _address(hop)
        if address is None:
            break  # an obfuscated or garbled hop: the last trusted proxy is all we know
        client = address
        if not any(address in net for net in trusted):
            break
    return _name(client)


@dataclass(frozen=True)
class Rule:
    """One limit: `name` counts per `per` ("client" or "account") under a setting, and per
    the path parameter `per_path` too when set. A `challenge` rule past its threshold asks
    for a solved challenge instead of refusing."""

    name: str
    per: str
    setting: str
    what: str
    in_memory: bool = False
    per_path: str | None = None
    challenge: bool = False

    def limit(self, settings: Settings) -> tuple[int, int]:
        value: tuple[int, int] = getattr(settings, self.setting)
        return value


_SIGNUP = Rule(
    "signup", "client", "rate_signup_per_client", "sign-ups from this network", challenge=True
)
_LOGIN = Rule(
    "login", "client", "rate_login_per_client", "logins from this network", challenge=True
)
_RSVP_CLIENT = Rule(
    "rsvp",
    "client",
    "rate_rsvp_per_client",
    "RSVPs to this event from this network",
    per_path="event_id",
    challenge=True,
)
_RSVP_ACCOUNT = Rule("rsvp", "account", "rate_rsvp_per_account", "RSVPs by this account")
_BOOKING_CLIENT = Rule(
    "booking",
    "client",
    "rate_booking_per_client",
    "ride bookings for this ride from this network",
    per_path="offer_id",
    challenge=True,
)
_APPLICATION_CLIENT = Rule(
    "application",
    "client",
    "rate_application_per_client",
    "applications to this trip from this network",
    per_path="trip_id",
    challenge=True,
)
_TIME_LOCK = Rule(
    "time-lock", "client", "rate_time_lock_per_client", "time-lock tokens for this network"
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
    ("POST", "/v1/trips/{trip_id}/applications"): (_APPLICATION_CLIENT,),
    ("GET", "/v1/challenges/time-lock"): (_TIME_LOCK,),
    ("GET", "/v1/events"): (_LISTING,),
    ("GET", "/v1/orgs"): (_LISTING,),
    ("GET", "/v1/orgs/{slug}/events"): (_LISTING,),
    ("GET", "/v1/orgs/{slug}/trips"): (_LISTING,),
}


def challenged_routes() -> frozenset[tuple[str, str]]:
    """(method, route template) of every route that may ask for a solved challenge."""
    return frozenset(key for key, rules in ROUTE_RULES.items() if any(r.challenge for r in rules))


class MemoryWindows:
    """Fixed-window counters in this process; buckets are keyed hashes, never addresses."""

    def __init__(self, max_buckets: int = 100_000) -> None:
        self._windows: dict[bytes, tuple[float, int]] = {}
        self._max = max_buckets
        #: shared buckets known to be past their free threshold, until their window ends
        self._past: dict[bytes, float] = {}

    def mark_past_threshold(self, bucket: bytes, seconds_left: int) -> None:
        """Remember that a shared bucket is past its threshold, so that a flood of unsolved
        requests is answered 428 from memory, without a database write each."""
        now = time.monotonic()
        if bucket not in self._past and len(self._past) >= self._max:
            self._past = {b: end for b, end in self._past.items() if end > now}
            if len(self._past) >= self._max:
                self._past.clear()
        self._past[bucket] = now + seconds_left

    def past_threshold(self, bucket: bytes) -> bool:
        end = self._past.get(bucket)
        if end is None:
            return False
        if end <= time.monotonic():
            del self._past[bucket]
            return False
        return True

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


def _subject_parts(rule: Rule, subject: str, scope: dict[str, Any]) -> tuple[str, ...]:
    parts: tuple[str, ...] = (rule.name, rule.per, subject)
    if rule.per_path is not None:
        parts += (rule.per_path, str((scope.get("path_params") or {}).get(rule.per_path)))
    return parts


async def _past_threshold(
    conn: Any,
    connection: ASGIConnection[Any, Any, Any, Any],
    settings: Settings,
    keyring: Keyring,
    rule: Rule,
    parts: tuple[str, ...],
    window_s: int,
    limit: int,
) -> tuple[int, int]:
    """A request past a challenge rule's free threshold: it passes with a good solution (up to
    the ceiling), else 428; wrong solutions are counted and, past the threshold, answered 429.
    Returns the solved hits and seconds left of the ceiling's window."""
    solution = connection.headers.get(challenges.HEADER)
    if connection.state.get(SOLVED_KEY) is not True:
        if solution is None:
            raise challenges.required(rule.what)
        try:
            await challenges.redeem(conn, settings, keyring, solution)
        except challenges.ChallengeNotYetValid:
            raise
        except (challenges.ChallengeInvalid, challenges.ChallengeFailed):
            failed = keyring.limiter_bucket("route-failed", *parts)
            row = await rate_limits.hit_bucket(conn, failed, window_s)
            if row["hits"] > limit:
                wait = max(int(row["seconds_left"]), 1)
                raise RateLimited(
                    f"Too many wrong challenge solutions for {rule.what}; try again in "
                    f"{wait} seconds.",
                    headers={"Retry-After": str(wait), **rate_headers(limit, 0, wait)},
                ) from None
            raise
        connection.state[SOLVED_KEY] = True
    solved = keyring.limiter_bucket("route-solved", *parts)
    row = await rate_limits.hit_bucket(conn, solved, window_s)
    return row["hits"], int(row["seconds_left"])


async def rate_limit_guard(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Count the request against its route's limits; past a challenge rule's threshold ask for
    a solved challenge (428); over any hard limit or ceiling → 429 with Retry-After.

    A guard runs before dependencies, so this happens before any transaction is open; a
    solution spent here stays spent whatever the request does next."""
    scope = cast("dict[str, Any]", connection.scope)
    rules = ROUTE_RULES.get((scope.get("method", ""), scope.get("path_template", "")))
    if not rules:
        return
    state = connection.app.state
    settings: Settings = state.settings
    keyring: Keyring = state.keyring
    client = client_key(connection, settings)
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
            bucket = keyring.limiter_bucket("route", *_subject_parts(rule, client, scope))
            hits, seconds_left = state.rate_windows.hit(bucket, window_s)
            count(rule, hits, seconds_left, limit)
    shared = [rule for rule in rules if not rule.in_memory]
    if connection.headers.get(challenges.HEADER) is None:
        for rule in shared:
            if rule.challenge and rule.per == "client":
                bucket = keyring.limiter_bucket("route", *_subject_parts(rule, client, scope))
                if state.rate_windows.past_threshold(bucket):
                    raise challenges.required(rule.what)
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
                parts = _subject_parts(rule, subject, scope)
                bucket = keyring.limiter_bucket("route", *parts)
                row = await rate_limits.hit_bucket(conn, bucket, window_s)
                hits, seconds_left = row["hits"], int(row["seconds_left"])
                if rule.challenge and hits > limit:
                    state.rate_windows.mark_past_threshold(bucket, seconds_left)
                    hits, seconds_left = await _past_threshold(
                        conn, connection, settings, keyring, rule, parts, window_s, limit
                    )
                    limit *= settings.rate_ceiling_factor
                count(rule, hits, seconds_left, limit)
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
