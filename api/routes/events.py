"""Events: create, read, change, publish, postpone, cancel; discovery; co-hosts; series."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter

from api.conditional import conditional_response, etag_of, not_modified
from api.config import Settings
from api.deps import caller_account_id, provide_languages
from api.errors import BadRequest
from api.pagination import Cursor, Limit, link_header
from api.response_caches import Cached
from api.services import cohosting, event_lifecycle, event_search, events, jsonld, locations, series
from api.services.accounts import Caller
from schemas.common import NEAR_PATTERN
from schemas.events import (
    Cohost,
    CohostAdd,
    CohostList,
    Event,
    EventCancel,
    EventCreate,
    EventPage,
    EventPatch,
    Kind,
    Series,
    SeriesCreate,
)
from schemas.problems import FieldError

Lang = Annotated[
    str | None,
    QueryParameter(
        max_length=35,
        description="Language for `display` (else Accept-Language, else the event's first)",
    ),
]
FromQuery = Annotated[
    datetime | None,
    QueryParameter(
        name="from",
        description="Events still going on at or after this time (RFC 3339); default now",
    ),
]
ToQuery = Annotated[
    datetime | None, QueryParameter(description="Events starting before this time (RFC 3339)")
]
KindQuery = Annotated[list[Kind] | None, QueryParameter(description="Kinds (repeatable)")]
TagQuery = Annotated[
    list[str] | None,
    QueryParameter(max_items=10, description="Events carrying every given tag (repeatable)"),
]
OrgQuery = Annotated[
    str | None, QueryParameter(max_length=50, description="Hosted or co-hosted by this org")
]
LanguageQuery = Annotated[
    str | None,
    QueryParameter(
        max_length=35,
        pattern=r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$",
        description="Held in this language (`es` also matches `es-MX`)",
    ),
]
NearQuery = Annotated[
    str | None,
    QueryParameter(
        max_length=60,
        pattern=NEAR_PATTERN,
        description="`lat,lon`: sort by distance and return `distance_km` (needs radius_km)",
    ),
]
RadiusQuery = Annotated[
    float | None,
    QueryParameter(gt=0, le=20_000, description="Kilometres around `near` (great-circle)"),
]
TextQuery = Annotated[
    str | None,
    QueryParameter(
        min_length=1,
        max_length=200,
        description=(
            "Words, in any language, with or without accents: title, summary, description,"
            " tags and area (the venue too when its location is public); title matches first"
        ),
    ),
]
IncludeCancelled = Annotated[
    bool, QueryParameter(description="Also list cancelled events (so calendars can update)")
]
IfNoneMatch = Annotated[str | None, HeaderParameter(name="If-None-Match", required=False)]
Scope = Annotated[
    Literal["this", "this_and_following"],
    QueryParameter(
        name="scope", description="Change only this occurrence, or it and every later one"
    ),
]


def _aware(name: str, value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise BadRequest(
            f"`{name}` needs a UTC offset (e.g. 2026-12-05T10:00:00-08:00 or …Z).",
            errors=[FieldError(pointer=f"#/query/{name}", detail="datetime without offset")],
        )
    return value


def _encoded_page(
    body: bytes, etag: str, if_none_match: str | None, headers: dict[str, str]
) -> Response[EventPage]:
    """The encoded page with its ETag; 304 when the client already has it."""
    headers = {
        **headers,
        "ETag": etag,
        "Vary": "Accept-Language, Authorization",
        "Cache-Control": "no-cache",
    }
    return conditional_response(body, "application/json", headers, if_none_match)


def _cached_page(
    page: EventPage, if_none_match: str | None, headers: dict[str, str]
) -> Response[EventPage]:
    """The page with an ETag (a hash of the body); 304 when the client already has it."""
    body = msgspec.json.encode(page)
    return _encoded_page(body, etag_of(body), if_none_match, headers)


_CACHE_KEY = "public_list_cache_key"


async def cached_list_response(request: Request[Any, Any, Any]) -> Response[Any] | None:
    """An anonymous discovery page straight from the encoded-response cache, before any
    dependency runs: one indexed lookup on a pooled connection, no transaction, no query.

    Anonymous lists are the same for everyone; the key holds the events' change counter, so
    any change makes a new key (see ResponseCache for the few seconds a race may last).
    """
    if request.headers.get("authorization"):
        return None
    state = request.app.state
    async with state.pool.acquire(timeout=state.settings.pool_acquire_timeout_s) as conn:
        version = await event_search.events_version(conn)
    key = (version, request.url.query, tuple(provide_languages(request)))
    if_none_match = request.headers.get("if-none-match")

    def servable(hit: Cached | None) -> bool:
        # an entry past the byte budget kept its ETag: it can still say "not modified"
        return hit is not None and (bool(hit.body) or not_modified(hit.etag, if_none_match))

    hit = state.response_cache.get(key)
    if not servable(hit) and not await state.response_cache.renders.lead_or_wait(
        key, request.state
    ):
        hit = state.response_cache.get(key)  # rendered meanwhile by the request we waited for
    if not servable(hit):
        request.state[_CACHE_KEY] = key
        return None
    assert hit is not None
    return _encoded_page(hit.body, hit.etag, if_none_match, dict(hit.headers))


class EventController(Controller):
    tags = ["events"]

    @post("/v1/orgs/{slug:str}/events", opt={"problems": (401, 403, 404, 422)})
    async def create_event(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        settings: NamedDependency[Settings],
        languages: NamedDependency[list[str]],
        slug: FromPath[str],
        data: JSONBody[EventCreate],
    ) -> Event:
        """Create an event as a draft (organizers and owners); private events get a share link."""
        return await events.create_event(
            conn, settings.public_url, slug, caller_account_id(caller), data, languages
        )

    @get("/v1/orgs/{slug:str}/events", opt={"problems": (404, 422)})
    async def list_org_events(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[asyncpg.Connection],
        settings: NamedDependency[Settings],
        caller: NamedDependency[Caller | None],
        languages: NamedDependency[list[str]],
        slug: FromPath[str],
        if_none_match: IfNoneMatch = None,
        from_: FromQuery = None,
        to: ToQuery = None,
        include_cancelled: IncludeCancelled = False,
        lang: Lang = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[EventPage]:
        """An org's upcoming events and those it co-hosts (members also see members-only ones,
        organizers also drafts and private ones)."""
        query = event_search.EventQuery(
            starts_from=_aware("from", from_),
            starts_to=_aware("to", to),
            include_cancelled=include_cancelled,
        )
        page = await event_search.list_events(
            conn,
            settings.public_url,
            caller_account_id(caller),
            query,
            cursor,
            limit,
            languages,
            org_slug=slug,
        )
        return _cached_page(
            page,
            if_none_match,
            link_header(request, page.next_cursor),
        )

    @get("/v1/events", opt={"problems": (401, 422), "public_cache": True})
    async def list_events(
        self,
        conn: NamedDependency[asyncpg.Connection],
        settings: NamedDependency[Settings],
        caller: NamedDependency[Caller | None],
        languages: NamedDependency[list[str]],
        request: Request[Any, Any, Any],
        if_none_match: IfNoneMatch = None,
        from_: FromQuery = None,
        to: ToQuery = None,
        kind: KindQuery = None,
        tag: TagQuery = None,
        org: OrgQuery = None,
        language: LanguageQuery = None,
        near: NearQuery = None,
        radius_km: RadiusQuery = None,
        q: TextQuery = None,
        include_cancelled: IncludeCancelled = False,
        lang: Lang = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[EventPage]:
        """Find upcoming public events (and your orgs' members-only ones): by time, kind, tag,
        org, language, words, or distance from a point."""
        # a miss of cached_list_response (below) left the key to store this page under
        cache_key = request.state.get(_CACHE_KEY) if caller is None else None
        query = event_search.EventQuery(
            starts_from=_aware("from", from_),
            starts_to=_aware("to", to),
            kinds=kind,
            tags=tag,
            org=org,
            language=language,
            near=locations.parse_near(near) if near is not None else None,
            radius_km=radius_km,
            text=q,
            include_cancelled=include_cancelled,
        )
        page = await event_search.list_events(
            conn, settings.public_url, caller_account_id(caller), query, cursor, limit, languages
        )
        headers = link_header(request, page.next_cursor)
        body = msgspec.json.encode(page)
        etag = etag_of(body)
        if cache_key is not None:
            request.app.state.response_cache.put(cache_key, body, etag, headers)
        return _encoded_page(body, etag, if_none_match, headers)

    @get("/v1/events/{event_id:uuid}", opt={"problems": (404,)})
    async def get_event(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        languages: NamedDependency[list[str]],
        settings: NamedDependency[Settings],
        request: Request[Any, Any, Any],
        event_id: FromPath[UUID],
        lang: Lang = None,
    ) -> Event:
        """An event, with its location as precise as you may know it."""
        event = await events.get_event(
            conn, settings.public_url, event_id, caller_account_id(caller), languages
        )
        # `Accept: application/ld+json` asks for the same view as schema.org JSON-LD
        if jsonld.wants_jsonld(request.headers.get("accept")):
            document = await jsonld.event_jsonld_for(conn, event, settings.public_url)
            if document is not None:
                return Response(  # type: ignore[return-value]
                    content=msgspec.json.encode(document),
                    media_type=jsonld.MEDIA_TYPE,
                    headers={"Vary": "Accept"},
                )
        return event

    @get("/v1/events/shared/{token:str}", opt={"problems": (404,)})
    async def get_shared_event(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        languages: NamedDependency[list[str]],
        settings: NamedDependency[Settings],
        token: FromPath[str],
        lang: Lang = None,
    ) -> Event:
        """A private event, through its share link."""
        return await events.get_shared_event(
            conn, settings.public_url, token, caller_account_id(caller), languages
        )

    @patch("/v1/events/{event_id:uuid}", opt={"problems": (401, 403, 404, 409, 422)})
    async def update_event(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        settings: NamedDependency[Settings],
        languages: NamedDependency[list[str]],
        event_id: FromPath[UUID],
        data: JSONBody[EventPatch],
    ) -> Event:
        """Change an event (organizers of a hosting org); new times republish a postponed one."""
        return await events.update_event(
            conn, settings.public_url, event_id, caller_account_id(caller), data, languages
        )

    @delete("/v1/events/{event_id:uuid}", opt={"problems": (401, 403, 404, 409)})
    async def delete_event(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        event_id: FromPath[UUID],
    ) -> None:
        """Delete a draft; published events are cancelled instead."""
        await events.delete_event(conn, event_id, caller_account_id(caller))

    @post(
        "/v1/events/{event_id:uuid}/publish",
        status_code=200,
        opt={"problems": (401, 403, 404, 409)},
    )
    async def publish_event(
        self,
        conn: NamedDependency[asyncpg.Connection],
        settings: NamedDependency[Settings],
        caller: NamedDependency[Caller | None],
        languages: NamedDependency[list[str]],
        event_id: FromPath[UUID],
    ) -> Event:
        """Publish a draft."""
        return await event_lifecycle.publish_event(
            conn, settings.public_url, event_id, caller_account_id(caller), languages
        )

    @post(
        "/v1/events/{event_id:uuid}/postpone",
        status_code=200,
        opt={"problems": (401, 403, 404, 409)},
    )
    async def postpone_event(
        self,
        conn: NamedDependency[asyncpg.Connection],
        settings: NamedDependency[Settings],
        caller: NamedDependency[Caller | None],
        languages: NamedDependency[list[str]],
        event_id: FromPath[UUID],
    ) -> Event:
        """Postpone a published event until new times are known; everyone coming is told."""
        return await event_lifecycle.postpone_event(
            conn, settings.public_url, event_id, caller_account_id(caller), languages
        )

    @post(
        "/v1/events/{event_id:uuid}/cancel", status_code=200, opt={"problems": (401, 403, 404, 409)}
    )
    async def cancel_event(
        self,
        conn: NamedDependency[asyncpg.Connection],
        settings: NamedDependency[Settings],
        caller: NamedDependency[Caller | None],
        languages: NamedDependency[list[str]],
        event_id: FromPath[UUID],
        data: JSONBody[EventCancel],
    ) -> Event:
        """Cancel an event, with a reason everyone coming is told; cancelled is final."""
        return await event_lifecycle.cancel_event(
            conn, settings.public_url, event_id, caller_account_id(caller), data.reason, languages
        )

    @post(
        "/v1/events/{event_id:uuid}/share-link",
        status_code=200,
        opt={"problems": (401, 403, 404, 409)},
    )
    async def rotate_share_link(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        settings: NamedDependency[Settings],
        languages: NamedDependency[list[str]],
        event_id: FromPath[UUID],
    ) -> Event:
        """A new share link for a private event (in `share_url`); the old one stops working."""
        return await events.rotate_share_link(
            conn, settings.public_url, event_id, caller_account_id(caller), languages
        )

    @get("/v1/events/{event_id:uuid}/cohosts", opt={"problems": (401, 403, 404)})
    async def list_cohosts(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        event_id: FromPath[UUID],
    ) -> CohostList:
        """The co-hosting organizations and their access (organizers)."""
        return await cohosting.list_cohosts(
            events.EVENTS, conn, event_id, caller_account_id(caller)
        )

    @post("/v1/events/{event_id:uuid}/cohosts", opt={"problems": (401, 403, 404, 409, 422)})
    async def add_cohost(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        event_id: FromPath[UUID],
        data: JSONBody[CohostAdd],
    ) -> Cohost:
        """Invite an organization to co-host (organizers of the creating org); it co-hosts once
        one of its organizers accepts."""
        return await cohosting.add_cohost(
            events.EVENTS, conn, event_id, caller_account_id(caller), data
        )

    @delete("/v1/events/{event_id:uuid}/cohosts/{slug:str}", opt={"problems": (401, 403, 404)})
    async def remove_cohost(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        event_id: FromPath[UUID],
        slug: FromPath[str],
    ) -> None:
        """Remove a co-hosting organization, or withdraw its invitation (organizers of the
        creating org)."""
        await cohosting.remove_cohost(
            events.EVENTS, conn, event_id, caller_account_id(caller), slug
        )

    @post(
        "/v1/events/{event_id:uuid}/cohosts/{slug:str}/accept",
        status_code=200,
        opt={"problems": (401, 403, 404, 409)},
    )
    async def accept_cohost(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        event_id: FromPath[UUID],
        slug: FromPath[str],
    ) -> Cohost:
        """Accept an invitation to co-host (organizers of the invited org)."""
        return await cohosting.accept_cohost(
            events.EVENTS, conn, event_id, caller_account_id(caller), slug
        )

    @post(
        "/v1/events/{event_id:uuid}/cohosts/{slug:str}/decline",
        status_code=204,
        opt={"problems": (401, 403, 404)},
    )
    async def decline_cohost(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        event_id: FromPath[UUID],
        slug: FromPath[str],
    ) -> None:
        """Decline an invitation to co-host (organizers of the invited org)."""
        await cohosting.decline_cohost(
            events.EVENTS, conn, event_id, caller_account_id(caller), slug
        )


class SeriesController(Controller):
    tags = ["events"]

    @post("/v1/orgs/{slug:str}/series", opt={"problems": (401, 403, 404, 422)})
    async def create_series(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        settings: NamedDependency[Settings],
        languages: NamedDependency[list[str]],
        slug: FromPath[str],
        data: JSONBody[SeriesCreate],
    ) -> Series:
        """Create a weekly or monthly series; each occurrence is a real event."""
        return await series.create_series(
            conn, settings.public_url, slug, caller_account_id(caller), data, languages
        )

    @get("/v1/series/{series_id:uuid}", opt={"problems": (404,)})
    async def get_series(
        self,
        conn: NamedDependency[asyncpg.Connection],
        settings: NamedDependency[Settings],
        caller: NamedDependency[Caller | None],
        languages: NamedDependency[list[str]],
        series_id: FromPath[UUID],
        lang: Lang = None,
    ) -> Series:
        """A series and the occurrences you may see."""
        return await series.get_series(
            conn, settings.public_url, series_id, caller_account_id(caller), languages
        )

    @patch(
        "/v1/series/{series_id:uuid}/occurrences/{index:int}",
        opt={"problems": (401, 403, 404, 409, 422)},
    )
    async def update_occurrences(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        settings: NamedDependency[Settings],
        languages: NamedDependency[list[str]],
        series_id: FromPath[UUID],
        index: FromPath[int],
        data: JSONBody[EventPatch],
        edit_scope: Scope = "this",
    ) -> Series:
        """Change one occurrence, or it and every later one (a time change moves each by the
        same wall-clock amount in the series' time zone)."""
        return await series.update_occurrences(
            conn,
            settings.public_url,
            series_id,
            index,
            caller_account_id(caller),
            data,
            edit_scope,
            languages,
        )
