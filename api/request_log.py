"""One structured log line per request, naming the route template, never the raw path.

What a log line holds is what a subpoena or a leaked log can reach, so it carries only the
method, the matched route's template (`/v1/rsvps/manage/{token}`, never the token), the status
and the duration. No client address, query string, header or user agent is ever written.
uvicorn's own access log (client address and full path) stays off: see `logging_config`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import msgspec
from litestar.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("caravan.request")

#: the template logged for a request no route matched (a scan, a typo): its path may be secret
UNMATCHED = "(no route)"


class RequestLine(msgspec.Struct, kw_only=True):
    """The whole of what is logged about one request."""

    method: str
    route: str
    status: int
    duration_ms: float


def route_template(scope: Scope) -> str:
    """The matched route's path template (set by Litestar's router), or UNMATCHED."""
    template = scope.get("path_template")
    return template if isinstance(template, str) and template else UNMATCHED


def request_log(app: ASGIApp) -> ASGIApp:
    """Wrap the app's ASGI handler (outside routing, so unmatched paths are logged too)."""

    async def logged(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers when the app fails before it starts a response

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await app(scope, receive, send_and_note)
        finally:
            if log.isEnabledFor(logging.INFO):
                line = RequestLine(
                    method=str(scope.get("method", "")),
                    route=route_template(scope),
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 1),
                )
                log.info(msgspec.json.encode(line).decode())

    return logged


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """`logging.config.dictConfig` for `caravan serve`: uvicorn's error log and Caravan's own
    lines go to stderr; uvicorn's access log is dropped (it writes the client address and
    the full path, secret tokens included)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
            # request lines are JSON already: nothing around them but the JSON
            "json": {"format": "%(message)s"},
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
                "stream": "ext://sys.stderr",
            },
            "requests": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.error": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
            "caravan": {"handlers": ["stderr"], "level": level, "propagate": False},
            "caravan.request": {"handlers": ["requests"], "level": level, "propagate": False},
        },
    }
