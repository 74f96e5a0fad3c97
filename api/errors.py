"""Error types and their one mapping to RFC 9457 problem+json responses."""

from __future__ import annotations

import ast
import asyncio
import logging
import re
from typing import Any

import asyncpg
import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    ValidationException,
)

from schemas.common import pattern_phrase
from schemas.problems import FieldError, Problem

log = logging.getLogger("caravan.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://caravan.example/problems/"


class ProblemError(Exception):
    """Base of every error the API answers deliberately; subclasses fix status and title."""

    status: int = 500
    slug: str = "internal"
    title: str = "Internal error"
    #: writes made before the error are committed anyway (e.g. a failed-login counter)
    keep_writes: bool = False

    def __init__(
        self,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}


class BadRequest(ProblemError):
    """Raised when a request does not match the schema (type, range, unknown field, bad cursor)."""

    status, slug, title = 400, "invalid-request", "The request does not match the schema"


class Unauthorized(ProblemError):
    """Raised when credentials are missing, expired or wrong."""

    status, slug, title = 401, "unauthorized", "Authentication required"


class Forbidden(ProblemError):
    """Raised when the caller may see the object but lacks the role for this action."""

    status, slug, title = 403, "forbidden", "Not allowed for your role"


class NotFound(ProblemError):
    """Raised when an object does not exist or the caller may not know that it exists."""

    status, slug, title = 404, "not-found", "Not found"


class Conflict(ProblemError):
    """Raised when a request conflicts with the current state (full, duplicate, transition)."""

    status, slug, title = 409, "conflict", "Conflicts with the current state"


class RuleViolation(ProblemError):
    """Raised when well-formed input breaks a rule about itself (ends before it starts)."""

    status, slug, title = 422, "rule-violation", "The request breaks a rule"


class RateLimited(ProblemError):
    """Raised when a caller exceeded a rate limit; carries Retry-After."""

    status, slug, title = 429, "rate-limited", "Too many requests"


class LoginFailed(Unauthorized):
    """Raised on a wrong email or password; the attempt counter it wrote must persist."""

    slug, title = "login-failed", "Email or password is wrong"
    keep_writes = True


class ServiceUnavailable(ProblemError):
    """Raised when the database is unreachable, overloaded or too slow."""

    status, slug, title = 503, "unavailable", "Service temporarily unavailable"


# ---------------------------------------------------------------- building bodies

_HTTP_TITLES = {
    400: ("invalid-request", "The request does not match the schema"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Not allowed for your role"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    413: ("body-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("rate-limited", "Too many requests"),
    500: ("internal", "Internal error"),
    503: ("unavailable", "Service temporarily unavailable"),
}


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    body = Problem(
        type=TYPE_BASE + slug, title=title, status=status, detail=detail, errors=errors or []
    )
    return Response(
        content=msgspec.json.encode(body),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers or {},
    )


_PATH_TOKEN = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|^([A-Za-z_][A-Za-z0-9_]*)")


def json_pointer(path: str) -> str:
    """Turn msgspec's `inner[0].n` / `$.inner[0].n` into the JSON pointer `#/inner/0/n`."""
    path = path.removeprefix("$")
    parts = [next(p for p in m.groups() if p is not None) for m in _PATH_TOKEN.finditer(path)]
    return "#/" + "/".join(parts) if parts else "#"


_NAMED_FIELD = re.compile(r"Object (contains unknown|missing required) field `([^`]*)`")
_AT_PATH = re.compile(r" - at `([^`]*)`$")

# ---------------------------------------------------------------- validation messages in words
# msgspec (and Litestar, which passes msgspec's text on) says `Expected `str` matching regex
# '^[^\x00]*$'`; a person reads "must not contain NUL characters". Every message shape that
# msgspec produces is mapped here, once; patterns are phrased where they are defined
# (schemas.common.PATTERN_PHRASES).

_TYPE_WORDS = {
    "str": "text",
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "null": "null",
    "array": "a list",
    "object": "an object",
    "datetime": "an RFC 3339 date-time",
    "date": "an RFC 3339 date",
    "uuid": "a UUID",
    "bytes": "base64 text",
}
_LENGTH_UNITS = {"str": "characters", "array": "items", "object": "entries", "bytes": "bytes"}
_COMPARISONS = {
    ">=": "at least",
    ">": "greater than",
    "<=": "at most",
    "<": "less than",
}
_REGEX = re.compile(r"^Expected `str` matching regex (?P<quoted>'.*'|\".*\")$")
_LENGTH = re.compile(r"^Expected `(?P<kind>\w+)` of length (?P<op>[<>]=?) (?P<n>\d+)$")
_BOUND = re.compile(r"^Expected `(?P<kind>int|float)` (?P<op>[<>]=?) (?P<n>-?[\d.e+-]+)$")
_MULTIPLE = re.compile(r"^Expected `(?:int|float)` that's a multiple of (?P<n>[\d.]+)$")
_TYPE = re.compile(r"^Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`$")
_PLAIN = {
    "Invalid UUID": "must be a UUID",
    "Invalid RFC3339 encoded datetime": (
        "must be an RFC 3339 date-time with an offset, such as 2026-12-05T10:00:00-08:00"
    ),
    "Invalid RFC3339 encoded date": "must be an RFC 3339 date such as 2026-12-05",
    "Invalid RFC3339 encoded time": "must be an RFC 3339 time such as 10:00:00",
    "Expected `datetime` with a timezone component": (
        "needs a UTC offset, such as 2026-12-05T10:00:00-08:00 or …Z"
    ),
    "Expected `time` with a timezone component": "needs a UTC offset, such as 10:00:00Z",
    "Invalid base64 encoded string": "must be base64 text",
    "Object contains unknown field": "is not a field of this object",
    "Object missing required field": "is required",
}


def _number(text: str) -> str:
    """`5.0` as 5: bounds read as people write them."""
    try:
        value = float(text)
    except ValueError:
        return text
    return str(int(value)) if value.is_integer() else text


def _type_words(names: str) -> str:
    words = [_TYPE_WORDS.get(name.strip(), name.strip()) for name in names.split("|")]
    unique = list(dict.fromkeys(words))
    return unique[0] if len(unique) == 1 else ", ".join(unique[:-1]) + " or " + unique[-1]


def readable(message: str) -> str:
    """One of msgspec's validation messages in words; never a regular expression."""
    message = message.strip()
    if message in _PLAIN:
        return _PLAIN[message]
    if message.startswith("Invalid enum value"):
        return "is not one of the allowed values (the schema lists them)"
    if (match := _REGEX.match(message)) is not None:
        # msgspec quotes the pattern as Python's repr does; the bare text is tried too
        try:
            pattern = ast.literal_eval(match["quoted"])
        except (ValueError, SyntaxError):
            pattern = None
        phrase = (pattern_phrase(pattern) if isinstance(pattern, str) else None) or pattern_phrase(
            match["quoted"][1:-1]
        )
        return phrase or "is not in the expected form (the schema describes it)"
    if (match := _LENGTH.match(message)) is not None:
        n, unit = match["n"], _LENGTH_UNITS.get(match["kind"], "items")
        if match["op"] == ">=" and n == "1":
            return "must not be empty"
        if n == "1":
            unit = unit.removesuffix("s").replace("entrie", "entry")
        return f"must have {_COMPARISONS[match['op']]} {n} {unit}"
    if (match := _BOUND.match(message)) is not None:
        return f"must be {_COMPARISONS[match['op']]} {_number(match['n'])}"
    if (match := _MULTIPLE.match(message)) is not None:
        return f"must be a multiple of {_number(match['n'])}"
    if (match := _TYPE.match(message)) is not None:
        return f"must be {_type_words(match['want'])}, not {_type_words(match['got'])}"
    # a message of Litestar's own (a missing query parameter, say) is already words
    return message.replace("`", "")


def _field_error(item: dict[str, Any]) -> FieldError:
    message = str(item.get("message", "invalid value"))
    key = str(item.get("key") or "")
    source = str(getattr(item.get("source"), "value", item.get("source") or "body"))
    at = _AT_PATH.search(message)
    if at:
        message = message[: at.start()]
        key = at.group(1)
    pointer = "#" if key in ("", "data") else json_pointer(key)
    named = _NAMED_FIELD.search(message)
    if named:
        # the pointer names the field itself, not the object that lacks or has it
        pointer = (pointer.rstrip("/") if pointer != "#" else "#") + "/" + named.group(2)
        message = message[: named.start(2) - 2]
    if source == "header":
        key = key.replace("_", "-").lower()  # the header's name, not the handler's argument
    if source != "body":
        pointer = f"#/{source}/{key}" if key else f"#/{source}"
    return FieldError(pointer=pointer, detail=readable(message))


# ---------------------------------------------------------------- handlers


def handle_problem(_: Request[Any, Any, Any], exc: ProblemError) -> Response[bytes]:
    return problem_response(exc.status, exc.slug, exc.title, exc.detail, exc.errors, exc.headers)


def handle_validation(_: Request[Any, Any, Any], exc: ValidationException) -> Response[bytes]:
    items = exc.extra if isinstance(exc.extra, list) else []
    errors = [_field_error(i) for i in items if isinstance(i, dict)]
    detail = (
        "; ".join(f"{e.pointer}: {e.detail}" for e in errors)
        if errors
        else _clean_detail(exc.detail)
    )
    return problem_response(400, "invalid-request", _HTTP_TITLES[400][1], detail, errors)


def _clean_detail(detail: str) -> str:
    if detail.startswith("Input data was truncated") or "utf-8" in detail.lower():
        return "The body is not valid UTF-8 JSON (a lone surrogate or a cut-off document)."
    return detail


def _misfiled_body_error(exc: HTTPException) -> ValidationException | None:
    """A body error Litestar reported as a server error, or None.

    Litestar blames a dependency (500) when a body field that fails validation shares its
    name with one (`languages` in an event or trip body is also the caller's languages); the
    cause names the body (`$.data.…`), so it is the client's error: 400.
    """
    cause = exc.__cause__
    if exc.status_code != 500 or not isinstance(cause, msgspec.ValidationError):
        return None
    message = str(cause)
    if "`$.data" not in message:
        return None
    message = message.replace("`$.data.", "`$.").replace("`$.data`", "`$`")
    return ValidationException(
        detail="Validation failed", extra=[{"message": message, "source": "body"}]
    )


def handle_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    if (body_error := _misfiled_body_error(exc)) is not None:
        return handle_validation(request, body_error)
    status = exc.status_code
    slug, title = _HTTP_TITLES.get(status, ("http-error", "HTTP error"))
    detail = exc.detail
    headers = dict(exc.headers or {})
    if isinstance(exc, NotFoundException):
        detail = "No resource lives at this path."
    elif isinstance(exc, MethodNotAllowedException):
        detail = "This path does not accept that method."
    elif status == 413:
        detail = "The request body is larger than this route accepts."
    elif status == 400:
        detail = _clean_detail(detail) if detail else "The request could not be read."
    if status >= 500:
        log.error("http exception", exc_info=exc)
        detail = "Something went wrong on our side."
    return problem_response(status, slug, title, detail, headers=headers)


_UNAVAILABLE = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.QueryCanceledError,
    asyncpg.LockNotAvailableError,
    asyncpg.InterfaceError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.ConnectionDoesNotExistError,
    ConnectionError,
    OSError,
    asyncio.TimeoutError,
)


def unavailable_response() -> Response[bytes]:
    return problem_response(
        503,
        "unavailable",
        _HTTP_TITLES[503][1],
        "The database is unavailable or busy; retry shortly.",
        headers={"Retry-After": "2"},
    )


def handle_postgres(_: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Map database errors no rule caught: integrity → 409/422, bad data → 400, outage → 503."""
    if isinstance(exc, asyncpg.UniqueViolationError):
        return problem_response(
            409,
            "duplicate",
            "Already exists",
            f"This would duplicate an existing record ({exc.constraint_name}).",
        )
    if isinstance(exc, asyncpg.ForeignKeyViolationError):
        return problem_response(
            409,
            "conflict",
            "Conflicts with the current state",
            f"A referenced record does not exist or is still referenced ({exc.constraint_name}).",
        )
    if isinstance(exc, asyncpg.CheckViolationError | asyncpg.ExclusionViolationError):
        return problem_response(
            422,
            "rule-violation",
            "The request breaks a rule",
            f"The value breaks the rule {exc.constraint_name}.",
        )
    if isinstance(exc, asyncpg.DataError | asyncpg.CharacterNotInRepertoireError):
        return problem_response(
            400,
            "invalid-request",
            _HTTP_TITLES[400][1],
            "A value is out of range or contains characters that cannot be stored (such as NUL).",
        )
    if isinstance(exc, _UNAVAILABLE) or (
        isinstance(exc, asyncpg.PostgresError)
        and (str(getattr(exc, "sqlstate", "")).startswith(("08", "53", "57")))
    ):
        log.warning("database unavailable: %s", type(exc).__name__)
        return unavailable_response()
    return handle_unexpected(_, exc)


def handle_unicode(_: Request[Any, Any, Any], exc: UnicodeError) -> Response[bytes]:
    return problem_response(
        400,
        "invalid-request",
        _HTTP_TITLES[400][1],
        "Text must be valid Unicode (no lone surrogates).",
    )


def handle_recursion(_: Request[Any, Any, Any], exc: RecursionError) -> Response[bytes]:
    return problem_response(
        400, "invalid-request", _HTTP_TITLES[400][1], "The JSON document is nested too deeply."
    )


def _unavailable(exc: BaseException) -> bool:
    """The database is gone or busy: directly, or every error of a group (Litestar groups
    the errors raised while it cleans up a request's dependencies)."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_unavailable(e) for e in exc.exceptions)
    return isinstance(exc, _UNAVAILABLE) or (
        isinstance(exc, asyncpg.PostgresError)
        and str(getattr(exc, "sqlstate", "")).startswith(("08", "53", "57"))
    )


def handle_unexpected(_: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    if _unavailable(exc):
        return unavailable_response()
    log.error("unhandled error", exc_info=exc)
    return problem_response(500, "internal", "Internal error", "Something went wrong on our side.")


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    ProblemError: handle_problem,
    ValidationException: handle_validation,
    HTTPException: handle_http,
    asyncpg.PostgresError: handle_postgres,
    asyncpg.InterfaceError: handle_postgres,
    UnicodeError: handle_unicode,
    RecursionError: handle_recursion,
    OSError: handle_unexpected,
    asyncio.TimeoutError: handle_unexpected,
    Exception: handle_unexpected,
}
