"""Per-request dependencies: the database connection (and its transaction) and the caller."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import asyncpg
from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency

from api.config import Settings
from api.crypto import Keyring
from api.errors import ProblemError, Unauthorized
from api.services.accounts import Caller, Passwords, authenticate


async def provide_conn(state: State) -> AsyncGenerator[asyncpg.Connection, None]:
    """A pooled connection inside the request's transaction: commit on success, else roll back."""
    settings: Settings = state.settings
    async with state.pool.acquire(timeout=settings.pool_acquire_timeout_s) as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            yield conn
        except ProblemError as exc:
            await (tx.commit() if exc.keep_writes else tx.rollback())
            raise
        except BaseException:
            await tx.rollback()
            raise
        else:
            await tx.commit()


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


async def provide_caller(
    request: Request[Any, Any, Any], conn: NamedDependency[asyncpg.Connection]
) -> Caller | None:
    """The signed-in caller, None for anonymous requests; a bad token is a 401, never anonymous."""
    token = bearer_token(request)
    if token is None:
        return None
    caller = await authenticate(conn, token)
    if caller is None:
        raise Unauthorized("This token is unknown, expired or revoked; log in again.")
    return caller


async def provide_account(caller: NamedDependency[Caller | None]) -> Caller:
    """The signed-in caller; 401 for anonymous requests."""
    if caller is None:
        raise Unauthorized("Log in first: send `Authorization: Bearer <token>`.")
    return caller


def provide_languages(request: Request[Any, Any, Any]) -> list[str]:
    """The caller's languages, best first: `?lang=` then Accept-Language."""
    from api.texts import parse_accept_language

    preferred = []
    lang = request.query_params.get("lang")
    if lang and len(lang) <= 35:
        preferred.append(lang.lower())
    return preferred + parse_accept_language(request.headers.get("accept-language"))
