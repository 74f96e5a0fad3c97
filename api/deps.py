"""Per-request dependencies: the database connection (and its transaction) and the caller."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import Any
from uuid import UUID

import asyncpg
from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency

from api.config import Settings
from api.crypto import Keyring
from api.errors import ProblemError, Unauthorized
from api.services.accounts import Caller, Passwords, authenticate
from api.services.api_keys import Partner, authenticate_key, is_api_key
from api.texts import parse_accept_language

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: request state: what to do once the request's writes are committed (after_commit)
_AFTER_COMMIT = "after_commit"


async def provide_conn(
    request: Request[Any, Any, Any], state: State
) -> AsyncGenerator[asyncpg.Connection, None]:
    """A pooled connection inside the request's transaction: commit on success, else roll back.
    Reads (GET, HEAD, OPTIONS) run without a transaction block: under READ COMMITTED every
    statement has its own snapshot either way, and BEGIN and COMMIT are two of a signed-in
    read's four round trips. What a read writes (an audit entry) commits as it is written.

    It also authenticates the caller, before it yields: Litestar does not clean up a yield
    dependency when a later dependency raises, so every 401 is raised here, never after.
    """
    settings: Settings = state.settings
    async with state.pool.acquire(timeout=settings.pool_acquire_timeout_s) as conn:
        # A partner key is checked and counted before the transaction, each statement
        # committing on its own: the key's counter row stays locked for one statement, not for
        # the whole request, so a partner's concurrent requests do not queue behind each other.
        request.state.partner = await _authenticate_partner(request, conn)
        # (tests hand in a connection already inside their transaction: reads then run in a
        # savepoint like writes, so that an error cannot abort the test's transaction)
        if request.method in _SAFE_METHODS and not conn.is_in_transaction():
            request.state.caller = await _authenticate(request, conn)
            yield conn
            # what a read wrote committed statement by statement
            _committed(request, cache_wrote=False)
            return
        tx = conn.transaction()
        await tx.start()
        try:
            request.state.caller = await _authenticate(request, conn)
        except BaseException:
            await _rollback(tx)
            raise
        try:
            yield conn
        except ProblemError as exc:
            if exc.keep_writes:
                await tx.commit()
                _committed(request, cache_wrote=True)
            else:
                await _rollback(tx)
            raise
        except BaseException:
            await _rollback(tx)
            raise
        else:
            await tx.commit()
            _committed(request, cache_wrote=request.method not in _SAFE_METHODS)


def after_commit(request: Request[Any, Any, Any], action: Callable[[], None]) -> None:
    """Run `action` once this request's writes are committed; never if they roll back."""
    actions = request.state.get(_AFTER_COMMIT)
    if actions is None:
        actions = request.state[_AFTER_COMMIT] = []
    actions.append(action)


def _committed(request: Request[Any, Any, Any], *, cache_wrote: bool) -> None:
    if cache_wrote:
        # this process's cached feeds must not outlive its own writes (api/response_caches.py)
        request.app.state.feed_cache.wrote()
    for action in request.state.get(_AFTER_COMMIT, ()):
        action()


async def _rollback(tx: Any) -> None:
    """Roll back, unless the connection is already gone: the server has then rolled back
    itself, and the error that ended the request (a 503) is the one to report, not this."""
    try:
        await tx.rollback()
    except (asyncpg.InterfaceError, asyncpg.PostgresConnectionError, OSError):
        pass


async def _authenticate_partner(
    request: Request[Any, Any, Any], conn: asyncpg.Connection
) -> Partner | None:
    """The partner behind an API key (counted against its rate limit); a bad key is a 401."""
    token = bearer_token(request)
    if token is None or not is_api_key(token):
        return None
    state = request.app.state
    partner = await authenticate_key(conn, token, state.settings, state.keyring)
    if partner is None:
        raise Unauthorized("This API key is unknown or was revoked.")
    return partner


def needs_account(handler: Any) -> bool:
    """Whether a route answers only callers with credentials (it takes `account`, or says so:
    a partner's routes)."""
    return "account" in handler.parsed_fn_signature.parameters or handler.opt.get("auth") == (
        "required"
    )


async def _authenticate(request: Request[Any, Any, Any], conn: asyncpg.Connection) -> Caller | None:
    """The caller behind the bearer token. A stale token (unknown, expired, revoked) is a 401
    on a route that needs an account; a public route answers it as it answers no token, so a
    browser that kept an old token still sees the public list and the feeds."""
    # A partner API key acts for its org, never as an account: no caller.
    token = None if request.state.partner is not None else bearer_token(request)
    caller = await authenticate(conn, token) if token is not None else None
    if token is not None and caller is None and needs_account(request.route_handler):
        raise Unauthorized("This token is unknown, expired or revoked; log in again.")
    # Handlers that take `account` need a signed-in caller (a partner's routes need its key).
    if caller is None and "account" in request.route_handler.parsed_fn_signature.parameters:
        raise Unauthorized("Log in first: send `Authorization: Bearer <token>`.")
    return caller


def caller_account_id(caller: Caller | None) -> UUID | None:
    """The signed-in caller's account, or None for anonymous callers (services decide)."""
    return caller.account_id if caller else None


def provide_settings(state: State) -> Settings:
    return state.settings  # type: ignore[no-any-return]


def provide_keyring(state: State) -> Keyring:
    return state.keyring  # type: ignore[no-any-return]


def provide_passwords(state: State) -> Passwords:
    return state.passwords  # type: ignore[no-any-return]


def bearer_token(request: Request[Any, Any, Any]) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send credentials as `Authorization: Bearer <token>`.")
    return token.strip()


def provide_caller(
    request: Request[Any, Any, Any], conn: NamedDependency[asyncpg.Connection]
) -> Caller | None:
    """The signed-in caller, or None for anonymous requests (authenticated by provide_conn)."""
    return request.state.caller  # type: ignore[no-any-return]


def provide_account(
    request: Request[Any, Any, Any], conn: NamedDependency[asyncpg.Connection]
) -> Caller:
    """The signed-in caller; provide_conn already answered 401 to anonymous requests."""
    caller: Caller = request.state.caller
    return caller


def provide_partner(
    request: Request[Any, Any, Any], conn: NamedDependency[asyncpg.Connection]
) -> Partner | None:
    """The partner behind an API key (authenticated by provide_conn), or None; never raises."""
    return getattr(request.state, "partner", None)


def provide_languages(request: Request[Any, Any, Any]) -> list[str]:
    """The caller's languages, best first: `?lang=` then Accept-Language."""
    preferred = []
    lang = request.query_params.get("lang")
    if lang and len(lang) <= 35:
        preferred.append(lang.lower())
    return preferred + parse_accept_language(request.headers.get("accept-language"))
