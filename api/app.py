"""The application factory: routes, dependencies, error mapping, lifespan."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any, get_args

import msgspec
from litestar import Litestar, Request, Response
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.params import QueryParameter
from litestar.routes import HTTPRoute
from litestar.types import Message, Scope

from api.config import Settings, load_settings
from api.crypto import Keyring
from api.deps import (
    provide_account,
    provide_caller,
    provide_conn,
    provide_keyring,
    provide_languages,
    provide_partner,
    provide_passwords,
    provide_settings,
)
from api.errors import EXCEPTION_HANDLERS, BadRequest, ProblemError
from api.openapi import finalize
from api.request_log import request_log
from api.response_caches import FeedCache, ResponseCache, release_render_lead
from api.routes.accounts import AccountController, SessionController, TwoFactorController
from api.routes.audit import AuditController
from api.routes.challenges import ChallengeController
from api.routes.cohosts import CohostController
from api.routes.events import EventController, SeriesController, cached_list_response
from api.routes.feed_imports import FeedImportController
from api.routes.feeds import FeedController, FeedTokenController, cached_feed_response
from api.routes.health import HealthController
from api.routes.notifications import NotificationController
from api.routes.orgs import OrgController
from api.routes.partners import ApiKeyController, PartnerController
from api.routes.retention import RetentionController
from api.routes.rides import RideController
from api.routes.rsvps import RsvpController
from api.routes.shifts import ShiftController
from api.routes.trips import TripApplicationController, TripController
from api.routes.webhooks import WebhookController
from api.services.accounts import Passwords
from api.services.rate_limits import (
    MemoryWindows,
    add_rate_limit_headers,
    challenged_routes,
    rate_limit_guard,
)
from db.pool import create_pool

log = logging.getLogger("caravan")

_JSON_TYPES = ("application/json", "application/merge-patch+json")
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-site",
}


class UnsupportedMediaType(ProblemError):
    """Raised when a request body is not JSON."""

    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


async def check_request_shape(request: Request[Any, Any, Any]) -> Response[Any] | None:
    """Refuse non-JSON bodies (415) and NUL characters anywhere in the input (400) up front;
    answer cacheable public lists from the cache before any dependency runs."""
    if (
        "\x00" in request.url.path
        or "\x00" in (request.url.query or "")
        or "%00" in (request.url.query or "")
    ):
        raise BadRequest("The request contains a NUL character, which no field accepts.")
    _check_query(request)
    if request.method not in ("POST", "PUT", "PATCH"):
        if request.route_handler.opt.get("public_cache"):
            return await cached_list_response(request)
        if request.route_handler.opt.get("feed_cache"):
            return await cached_feed_response(request)
        return None
    body = await request.body()
    if not body:
        return None
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in _JSON_TYPES and not content_type.endswith("+json"):
        raise UnsupportedMediaType(
            f"Send the body as application/json (got {content_type or 'no content type'!r})."
        )
    # JSON can only carry NUL as the escape \u0000; Postgres text cannot store it.
    if b"\\u0000" in body.lower():
        raise BadRequest("The body contains a NUL character (\\u0000), which no field accepts.")
    _check_body_types(request, body)
    return None


_AT_PATH = re.compile(r"`\$\.(.+)`$")


def _check_body_types(request: Request[Any, Any, Any], body: bytes) -> None:
    """Decode the body strictly against the handler's type. Litestar converts leniently (0 or
    "1" for a boolean, "12" for a number), which the published contract does not allow."""
    handler = request.route_handler
    data = handler.parsed_fn_signature.parameters.get("data")
    if data is None:
        return
    try:
        # JSON Schema counts 2.0 as an integer; msgspec's strict mode would not
        msgspec.convert(_integral(msgspec.json.decode(body)), data.annotation, strict=True)
    except msgspec.ValidationError as exc:
        # the same error item Litestar builds from msgspec's message: the text, then the path
        text = str(exc)
        item = {"message": text.split(" - ", maxsplit=1)[0], "source": "body"}
        if at := _AT_PATH.search(text):
            item["key"] = at.group(1)
        raise ValidationException(detail="Validation failed", extra=[item]) from None
    except msgspec.DecodeError:
        return  # not JSON at all: Litestar's own reading answers that, as for every body


def _integral(value: Any) -> Any:
    """The JSON document with whole floats (2.0) as ints."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral(v) for v in value]
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    return value


def _query_error(key: str, message: str) -> ValidationException:
    return ValidationException(
        detail="Validation failed", extra=[{"message": message, "key": key, "source": "query"}]
    )


def _check_query(request: Request[Any, Any, Any]) -> None:
    """What Litestar reads leniently from the query: a value given twice where one is
    expected (it keeps one) and a time that is not RFC 3339 (`to=0.5` is a Unix time)."""
    for name, field in request.route_handler.parsed_fn_signature.parameters.items():
        definition = field.kwarg_definition
        if not isinstance(definition, QueryParameter):
            continue
        key = definition.name or definition.query or name
        values = request.query_params.getall(key, [])
        if len(values) > 1 and not field.is_non_string_sequence:
            raise _query_error(key, "Given more than once; send it once")
        kinds = get_args(field.annotation) or (field.annotation,)
        kind = next((t for t in (datetime, date) if t in kinds), None)
        if kind is None:
            continue
        for raw in values:
            try:
                msgspec.convert(raw, kind, strict=True)
            except msgspec.ValidationError:
                raise _query_error(key, f"Expected an RFC 3339 {kind.__name__}") from None


def allow_header(app: Litestar) -> Any:
    """OPTIONS answers list every method of the path. Litestar's automatic OPTIONS handler
    keeps the methods of the first handler registered for a path (e.g. only DELETE)."""
    allowed: dict[str, bytes] = {}

    async def list_methods(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
            return
        if not allowed:
            for route in app.routes:
                if isinstance(route, HTTPRoute):
                    listed = set(route.methods)
                    if "GET" in listed:
                        listed.add("HEAD")  # head_as_get
                    allowed[route.path_format] = ", ".join(sorted(listed)).encode()
        methods = allowed.get(scope.get("path_template", ""))
        if methods is not None:
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
            message["headers"] = [*headers, (b"allow", methods)]

    return list_methods


def head_as_get(handler: Any) -> Any:
    """HEAD answers as GET does, without the body (RFC 9110 §9.3.2): same status, same ETag
    and caching headers. Litestar answers 405 to HEAD unless a route lists HEAD itself (the
    calendar feeds do); a HEAD it refuses so is answered again as a GET whose body is dropped.
    A 405 comes from routing, before any guard or handler ran."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await handler(scope, receive, send)
            return
        refused = False

        async def unless_refused(message: Message) -> None:
            nonlocal refused
            if message["type"] == "http.response.start" and message["status"] == 405:
                refused = True
            if not refused:
                await send(message)

        await handler(scope, receive, unless_refused)
        if not refused:
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body"):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await handler({**scope, "method": "GET"}, receive, without_body)

    return app


def security_headers(settings: Settings) -> dict[str, str]:
    headers = dict(_SECURITY_HEADERS)
    if settings.hsts_seconds:
        headers["Strict-Transport-Security"] = f"max-age={settings.hsts_seconds}; includeSubDomains"
    return headers


def _header_adder(headers: dict[str, str]) -> Any:
    async def add_headers(response: Response[Any]) -> Response[Any]:
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response

    return add_headers


def create_app(settings: Settings | None = None, *, pool: Any = None) -> Litestar:
    """Build the app. Tests pass `pool` (their own connection source); otherwise the lifespan opens one."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncGenerator[None, None]:
        if app.state.pool is not None:
            yield
            return
        if settings.database_url is None:
            raise RuntimeError(
                "DATABASE_URL is not set; `caravan serve` starts an embedded database"
            )
        app.state.pool = await create_pool(
            settings.database_url,
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
            statement_timeout_ms=settings.statement_timeout_ms,
            pooler=settings.database_pooler,
        )
        try:
            yield
        finally:
            await app.state.pool.close()

    state = State(
        {
            "settings": settings,
            "pool": pool,
            "keyring": Keyring(settings.secret_key),
            "passwords": Passwords(settings),
            "response_cache": ResponseCache(),
            "feed_cache": FeedCache(),
            "rate_windows": MemoryWindows(),
        }
    )
    app = Litestar(
        route_handlers=[
            HealthController,
            AccountController,
            SessionController,
            TwoFactorController,
            ChallengeController,
            AuditController,
            CohostController,
            OrgController,
            EventController,
            SeriesController,
            ShiftController,
            RsvpController,
            NotificationController,
            ApiKeyController,
            PartnerController,
            WebhookController,
            FeedImportController,
            TripController,
            TripApplicationController,
            RideController,
            RetentionController,
            FeedController,
            FeedTokenController,
        ],
        dependencies={
            "conn": Provide(provide_conn),
            "settings": Provide(provide_settings, sync_to_thread=False),
            "keyring": Provide(provide_keyring, sync_to_thread=False),
            "passwords": Provide(provide_passwords, sync_to_thread=False),
            "caller": Provide(provide_caller, sync_to_thread=False),
            "account": Provide(provide_account, sync_to_thread=False),
            "languages": Provide(provide_languages, sync_to_thread=False),
            "partner": Provide(provide_partner, sync_to_thread=False),
        },
        state=state,
        lifespan=[lifespan],
        exception_handlers=EXCEPTION_HANDLERS,
        before_request=check_request_shape,
        after_exception=[release_render_lead],
        # abuse limits per route (api/services/rate_limits.py): counted before any transaction
        guards=[rate_limit_guard],
        before_send=[add_rate_limit_headers],
        after_request=_header_adder(security_headers(settings)),
        request_max_body_size=settings.max_body_bytes,
        cors_config=CORSConfig(allow_origins=list(settings.cors_origins))
        if settings.cors_origins
        else None,
        openapi_config=OpenAPIConfig(
            title="Caravan API",
            version="0.1.0",
            description=(
                "Plan mobilizations with migrant-rights organizations: events, RSVPs, solidarity "
                "trips, carpools and calendar feeds. Errors are RFC 9457 problem+json."
            ),
            # interactive docs at /docs; the contract itself at /v1/openapi.json
            path="/docs",
            render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")],
            use_handler_docstrings=True,
            create_examples=False,
        ),
        debug=False,
    )
    app.before_send.append(allow_header(app))
    finalize(app, challenged_routes())
    # outermost, so requests no route matched are logged too (by a placeholder, not their path)
    app.asgi_handler = request_log(head_as_get(app.asgi_handler))
    return app
