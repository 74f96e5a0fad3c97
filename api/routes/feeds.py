"""Calendar feeds (text/calendar, GET and HEAD, conditional) and personal feed tokens."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
from litestar import Controller, HttpMethod, Request, Response, delete, get, post, route
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter

from api.conditional import conditional_response, not_modified
from api.config import Settings
from api.crypto import Keyring
from api.deps import after_commit, caller_account_id, provide_languages
from api.response_caches import Check, FeedCache, FeedEntry
from api.services import feed_rendering, feed_tokens, personal_feeds, public_feeds
from api.services.accounts import Caller
from schemas.feeds import FeedTokenCreate, FeedTokenCreated, FeedTokenList

CALENDAR = "text/calendar"
FEED_METHODS = [HttpMethod.GET, HttpMethod.HEAD]
FEED_DESCRIPTION = (
    "An iCalendar feed (RFC 5545): CRLF lines folded at 75 octets, one RRULE-based VTIMEZONE "
    "per TZID, stable UIDs, SEQUENCE and LAST-MODIFIED that move with every change; cancelled "
    "events kept as STATUS:CANCELLED for a while. Conditional: answers 304 to a matching "
    "If-None-Match, or (without one) to an If-Modified-Since at or after Last-Modified."
)
FEED_HEADERS = [
    ResponseHeader(
        name="ETag",
        description="Strong validator: a hash of the body, the same on every server",
        documentation_only=True,
    ),
    ResponseHeader(
        name="Last-Modified",
        description="The latest change behind the feed's contents",
        documentation_only=True,
    ),
    ResponseHeader(
        name="Cache-Control",
        description="`public, max-age=900` for public feeds; `private, max-age=900` otherwise",
        documentation_only=True,
    ),
]
MAX_AGE = 900

Lang = Annotated[
    str | None,
    QueryParameter(
        max_length=35,
        description="Language of titles and descriptions (else Accept-Language, else the first)",
    ),
]
IfNoneMatch = Annotated[str | None, HeaderParameter(name="If-None-Match", required=False)]
IfModifiedSince = Annotated[str | None, HeaderParameter(name="If-Modified-Since", required=False)]
KindQuery = Annotated[
    list[Literal["rally", "march", "vigil", "training", "meeting", "rapid_response", "other"]]
    | None,
    QueryParameter(description="Only these kinds (repeatable)"),
]
TagQuery = Annotated[
    list[str] | None,
    QueryParameter(max_items=10, description="Only events carrying every given tag (repeatable)"),
]
LanguageQuery = Annotated[
    str | None,
    QueryParameter(
        max_length=35,
        pattern=r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$",
        description="Only events held in this language (`es` also matches `es-MX`)",
    ),
]


def _reader(settings: Settings, languages: list[str]) -> feed_rendering.Reader:
    return feed_rendering.Reader(
        languages=languages, public_url=settings.public_url, now=datetime.now(UTC)
    )


def _respond(
    feed: feed_rendering.Feed, if_none_match: str | None, if_modified_since: str | None
) -> Response[bytes]:
    headers = {
        "ETag": feed.etag,
        "Last-Modified": format_datetime(feed.last_modified, usegmt=True),
        "Vary": "Accept-Language, Authorization",
    }
    if feed.private:
        # a secret in the URL: nothing shared may keep it, index it, or pass it on
        headers |= {
            "Cache-Control": f"private, max-age={MAX_AGE}",
            "X-Robots-Tag": "noindex",
            "Referrer-Policy": "no-referrer",
        }
    else:
        headers["Cache-Control"] = f"public, max-age={MAX_AGE}"
    return conditional_response(
        feed.body, CALENDAR, headers, if_none_match, feed.last_modified, if_modified_since
    )


_FEED_CHECK = "feed_cache_check"


async def cached_feed_response(request: Request[Any, Any, Any]) -> Response[bytes] | None:
    """An org feed or a personal feed from the feed cache (api/response_caches.py), before any
    dependency runs; None when it must be rendered, leaving the check for the handler to store
    the feed under. A personal feed's token is looked up on every request."""
    state = request.app.state
    key = (request.url.path, request.url.query, tuple(provide_languages(request)))
    timeout = state.settings.pool_acquire_timeout_s
    # before the token lookup: a render of a token revoked after this is not kept
    started = time.monotonic()
    if request.route_handler.opt["feed_cache"] == "personal":
        async with state.pool.acquire(timeout=timeout) as conn:
            account_id = await feed_tokens.feed_token_account(conn, request.path_params["token"])
        if account_id is None:
            return None  # the handler answers 404

        async def personal() -> str | None:
            async with state.pool.acquire(timeout=timeout) as conn:
                return await personal_feeds.personal_feed_fingerprint(conn, account_id)

        return await _from_cache(request, state.feed_cache, key, personal, started, account_id)

    async def org() -> str | None:
        async with state.pool.acquire(timeout=timeout) as conn:
            return await public_feeds.org_feed_fingerprint(conn, request.path_params["slug"])

    # No connection is held from here on: a request waiting for another one's render must not
    # keep a connection that the render needs.
    return await _from_cache(request, state.feed_cache, key, org, started)


async def _from_cache(
    request: Request[Any, Any, Any],
    cache: FeedCache,
    key: Hashable,
    fingerprint: Callable[[], Awaitable[str | None]],
    started: float,
    owner: Hashable | None = None,
) -> Response[bytes] | None:
    if_none_match = request.headers.get("if-none-match")
    if_modified_since = request.headers.get("if-modified-since")

    def servable(entry: FeedEntry | None) -> bool:
        # a body-less entry can still say "not modified"
        return entry is not None and (
            entry.has_body
            or not_modified(
                entry.feed.etag, if_none_match, entry.feed.last_modified, if_modified_since
            )
        )

    entry = cache.fresh(key)
    if not servable(entry):
        generation = cache.generation
        cache.checking(key)
        value = await fingerprint()
        if value is None:
            return None  # no such org: the handler answers 404
        check = Check(key, value, started, generation, owner)
        entry = cache.confirm(check)
        if not servable(entry) and not await cache.renders.lead_or_wait(key, request.state):
            entry = cache.confirm(check)  # rendered meanwhile by the request we waited for
        if not servable(entry):
            request.state[_FEED_CHECK] = check
            return None
    assert entry is not None
    return _respond(entry.feed, if_none_match, if_modified_since)


def _remember(request: Request[Any, Any, Any], feed: feed_rendering.Feed) -> None:
    """Keep a feed rendered after a cache miss, under the check taken before rendering it."""
    check = request.state.get(_FEED_CHECK)
    if check is not None:
        request.app.state.feed_cache.put(check, feed)


def _forget_personal_feeds(request: Request[Any, Any, Any], account_id: UUID) -> None:
    """A token's feed bytes leave memory with the token, not when the cache evicts them."""
    cache: FeedCache = request.app.state.feed_cache
    after_commit(request, lambda: cache.forget(account_id))


class FeedController(Controller):
    tags = ["feeds"]

    @route(
        "/v1/orgs/{slug:str}/calendar.ics",
        http_method=FEED_METHODS,
        media_type=CALENDAR,
        response_description="The org's public events as iCalendar",
        response_headers=FEED_HEADERS,
        opt={"problems": (404,), "feed_cache": "org"},
    )
    async def get_org_feed(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[asyncpg.Connection],
        settings: NamedDependency[Settings],
        languages: NamedDependency[list[str]],
        slug: FromPath[str],
        kind: KindQuery = None,
        tag: TagQuery = None,
        language: LanguageQuery = None,
        lang: Lang = None,
        if_none_match: IfNoneMatch = None,
        if_modified_since: IfModifiedSince = None,
    ) -> Response[bytes]:
        """An org's public events, co-hosted ones included, from 30 days ago to a year ahead;
        filter by kind, tag and language."""
        feed = await public_feeds.org_feed(
            conn, slug, _reader(settings, languages), kinds=kind, tags=tag, language=language
        )
        _remember(request, feed)
        return _respond(feed, if_none_match, if_modified_since)

    @route(
        "/v1/events/{event_id:uuid}/calendar.ics",
        http_method=FEED_METHODS,
        media_type=CALENDAR,
        response_description="The event as iCalendar",
        response_headers=FEED_HEADERS,
        opt={"problems": (404,)},
    )
    async def get_event_feed(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        settings: NamedDependency[Settings],
        languages: NamedDependency[list[str]],
        event_id: FromPath[UUID],
        lang: Lang = None,
        if_none_match: IfNoneMatch = None,
        if_modified_since: IfModifiedSince = None,
    ) -> Response[bytes]:
        """One event, with its place as precise as you may know it (private events: use the
        share link's feed)."""
        feed = await public_feeds.event_feed(
            conn, event_id, caller_account_id(caller), _reader(settings, languages)
        )
        return _respond(feed, if_none_match, if_modified_since)

    @route(
        "/v1/events/shared/{token:str}/calendar.ics",
        http_method=FEED_METHODS,
        media_type=CALENDAR,
        response_description="The private event as iCalendar",
        response_headers=FEED_HEADERS,
        opt={"problems": (404,)},
    )
    async def get_shared_event_feed(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        settings: NamedDependency[Settings],
        languages: NamedDependency[list[str]],
        token: FromPath[str],
        lang: Lang = None,
        if_none_match: IfNoneMatch = None,
        if_modified_since: IfModifiedSince = None,
    ) -> Response[bytes]:
        """A private event through its share link (a secret: never cached by shared caches)."""
        feed = await public_feeds.shared_event_feed(
            conn, token, caller_account_id(caller), _reader(settings, languages)
        )
        return _respond(feed, if_none_match, if_modified_since)

    @route(
        "/v1/trips/{trip_id:uuid}/calendar.ics",
        http_method=FEED_METHODS,
        media_type=CALENDAR,
        response_description="The trip and its itinerary as iCalendar",
        response_headers=FEED_HEADERS,
        opt={"problems": (404,)},
    )
    async def get_trip_feed(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        settings: NamedDependency[Settings],
        languages: NamedDependency[list[str]],
        trip_id: FromPath[UUID],
        lang: Lang = None,
        if_none_match: IfNoneMatch = None,
        if_modified_since: IfModifiedSince = None,
    ) -> Response[bytes]:
        """A trip and its public itinerary (participant-only items for its participants)."""
        feed = await public_feeds.trip_feed(
            conn, trip_id, caller_account_id(caller), _reader(settings, languages)
        )
        return _respond(feed, if_none_match, if_modified_since)

    @route(
        "/v1/rsvps/manage/{token:str}/calendar.ics",
        http_method=FEED_METHODS,
        media_type=CALENDAR,
        response_description="The RSVP's event (and shift) as iCalendar",
        response_headers=FEED_HEADERS,
        opt={"problems": (404,)},
    )
    async def get_manage_feed(
        self,
        conn: NamedDependency[asyncpg.Connection],
        settings: NamedDependency[Settings],
        languages: NamedDependency[list[str]],
        token: FromPath[str],
        lang: Lang = None,
        if_none_match: IfNoneMatch = None,
        if_modified_since: IfModifiedSince = None,
    ) -> Response[bytes]:
        """The event behind an RSVP's manage link and its shift, with the place as revealed to
        that RSVP; no account needed."""
        feed = await personal_feeds.manage_feed(conn, token, _reader(settings, languages))
        return _respond(feed, if_none_match, if_modified_since)

    @route(
        "/v1/feeds/{token:str}/calendar.ics",
        http_method=FEED_METHODS,
        media_type=CALENDAR,
        response_description="Your personal calendar as iCalendar",
        response_headers=FEED_HEADERS,
        opt={"problems": (404,), "feed_cache": "personal"},
    )
    async def get_personal_feed(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[asyncpg.Connection],
        settings: NamedDependency[Settings],
        keyring: NamedDependency[Keyring],
        languages: NamedDependency[list[str]],
        token: FromPath[str],
        lang: Lang = None,
        if_none_match: IfNoneMatch = None,
        if_modified_since: IfModifiedSince = None,
    ) -> Response[bytes]:
        """Your personal feed behind a secret token: events you are going to or waitlisted for,
        your shifts, your trips and their itineraries, your rides."""
        feed = await personal_feeds.personal_feed(
            conn, keyring, token, _reader(settings, languages)
        )
        _remember(request, feed)
        return _respond(feed, if_none_match, if_modified_since)


class FeedTokenController(Controller):
    tags = ["feeds"]

    @post("/v1/me/feed-tokens", opt={"problems": (401, 409)})
    async def create_feed_token(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        settings: NamedDependency[Settings],
        data: JSONBody[FeedTokenCreate | None] = None,
    ) -> Response[FeedTokenCreated]:
        """A secret URL for your personal feed; the token is shown only in this response."""
        created = await feed_tokens.create_feed_token(
            conn, settings.public_url, account.account_id, data.label if data else None
        )
        return Response(created, status_code=201, headers={"Cache-Control": "no-store"})

    @get("/v1/me/feed-tokens", opt={"problems": (401,)})
    async def list_feed_tokens(
        self, conn: NamedDependency[asyncpg.Connection], account: NamedDependency[Caller]
    ) -> FeedTokenList:
        """Your personal feed tokens (never their secrets)."""
        return await feed_tokens.list_feed_tokens(conn, account.account_id)

    @delete("/v1/me/feed-tokens/{token_id:uuid}", opt={"problems": (401, 404)})
    async def revoke_feed_token(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        token_id: FromPath[UUID],
    ) -> None:
        """Revoke a token: its feed answers 404 from now on."""
        await feed_tokens.revoke_feed_token(conn, account.account_id, token_id)
        _forget_personal_feeds(request, account.account_id)

    @post(
        "/v1/me/feed-tokens/{token_id:uuid}/rotate",
        status_code=200,
        opt={"problems": (401, 404)},
    )
    async def rotate_feed_token(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        settings: NamedDependency[Settings],
        token_id: FromPath[UUID],
    ) -> Response[FeedTokenCreated]:
        """Replace a token with a new one (same label); the old feed URL stops working."""
        created = await feed_tokens.rotate_feed_token(
            conn, settings.public_url, account.account_id, token_id
        )
        _forget_personal_feeds(request, account.account_id)
        return Response(created, headers={"Cache-Control": "no-store"})
