"""Sign-up, login sessions, profile and password rules."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from api.config import Settings
from api.crypto import Keyring, new_token, token_hash
from api.errors import Conflict, LoginFailed, NotFound, RateLimited, Unauthorized
from api.pagination import decode_cursor, split_page
from api.services import challenges, encryption, two_factor
from api.services.rate_limits import rate_headers
from api.services.two_factor import SecondFactorFailed, SecondFactorRequired
from db.queries import accounts as q
from db.queries import rate_limits, sessions
from schemas.accounts import (
    Account,
    AccountCreate,
    AccountPatch,
    PasswordChange,
    Session,
    SessionCreate,
    SessionCreated,
    SessionPage,
    TwoFactorDisable,
)

SESSION_TOKEN_PREFIX = "cvn_sess"
EMAIL_CLASS = "account_email"


class PasswordWrong(Unauthorized):
    """Raised when a signed-in caller confirms an irreversible step with a wrong password; the
    failure counter written before it must persist."""

    slug, title = "password-wrong", "The password is wrong"
    keep_writes = True


@dataclass(frozen=True)
class Caller:
    """Who is making the request: an account and the session it used."""

    account_id: UUID
    session_id: UUID
    display_name: str


class Passwords:
    """argon2id hashing off the event loop, with a dummy hash so unknown emails cost the same."""

    def __init__(self, settings: Settings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=1,
        )
        self._dummy = self._hasher.hash("caravan-dummy-password")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        def check() -> bool:
            try:
                return self._hasher.verify(stored or self._dummy, password) and stored is not None
            except (VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(check)


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _account(record: asyncpg.Record, email: str) -> Account:
    return Account(
        id=record["id"],
        email=email,
        display_name=record["display_name"],
        created_at=record["created_at"],
    )


async def register(
    conn: asyncpg.Connection, keyring: Keyring, passwords: Passwords, data: AccountCreate
) -> Account:
    email = normalize_email(data.email)
    account_id = uuid.uuid4()
    sealed = await encryption.seal(conn, keyring, "account", account_id, EMAIL_CLASS, email)
    assert sealed is not None
    record = await q.insert_account(
        conn,
        account_id,
        keyring.lookup_hash(email),
        sealed,
        data.display_name.strip(),
        await passwords.hash(data.password),
    )
    if record is None:
        raise Conflict("An account with this email already exists; log in instead.")
    return _account(record, email)


async def get_account(conn: asyncpg.Connection, keyring: Keyring, account_id: UUID) -> Account:
    record = await q.select_account(conn, account_id)
    if record is None:
        raise Unauthorized("This account no longer exists.")
    email = await encryption.open_sealed(
        conn, keyring, "account", account_id, EMAIL_CLASS, record["email_ciphertext"]
    )
    return _account(record, email or "")


async def find_account_id_by_email(
    conn: asyncpg.Connection, keyring: Keyring, email: str
) -> UUID | None:
    record = await q.select_account_by_email(conn, keyring.lookup_hash(normalize_email(email)))
    return record["id"] if record else None


@dataclass(frozen=True)
class LoginAttempt:
    """Where a login comes from: the client name (hashed before use, never stored) and the
    challenge solution it carries, or whether the route's guard already accepted one."""

    client: str
    solution: str | None = None
    solved: bool = False


def _too_many_codes(settings: Settings, seconds_left: int) -> RateLimited:
    wait = max(seconds_left, 1)
    return RateLimited(
        f"Too many wrong two-factor codes for this account; try again in {wait} seconds "
        "(or use a recovery code then).",
        headers={
            "Retry-After": str(wait),
            **rate_headers(settings.totp_attempts_per_window, 0, wait),
        },
    )


async def login(
    conn: asyncpg.Connection,
    keyring: Keyring,
    passwords: Passwords,
    settings: Settings,
    data: SessionCreate,
    attempt: LoginAttempt,
) -> SessionCreated:
    """Open a session. Failures look and take the same whether or not the email exists: two
    bucket reads, one account read, one argon2 verification, two counter writes.

    Failures are counted per (email, client) and per email: a client that failed often for
    this email (or failed at all while the email is under attack from many clients) must
    solve a challenge before each further attempt. Nobody is locked out, and a client that
    never failed, such as the owner's, signs in at once. Wrong two-factor codes after a right
    password have a per-account cap, so a password holder cannot grind the code."""
    email = normalize_email(data.email)
    mine = keyring.limiter_bucket("login-failed", email, attempt.client)
    everyone = keyring.limiter_bucket("login-failed", email)
    my_window = await rate_limits.select_bucket(conn, mine, settings.login_window_s)
    all_window = await rate_limits.select_bucket(conn, everyone, settings.login_window_s)
    my_failures = my_window["hits"] if my_window else 0
    all_failures = all_window["hits"] if all_window else 0
    if my_failures >= settings.login_attempts_per_window or (
        my_failures >= 1 and all_failures >= settings.login_global_failures
    ):
        if not attempt.solved:
            if attempt.solution is None:
                raise challenges.required("failed logins for this email from your network")
            await challenges.redeem(conn, settings, keyring, attempt.solution)
    record = await q.select_account_by_email(conn, keyring.lookup_hash(email))
    ok = await passwords.verify(record["password_hash"] if record else None, data.password)
    if record is None or not ok:
        await rate_limits.hit_bucket(conn, mine, settings.login_window_s)
        await rate_limits.hit_bucket(conn, everyone, settings.login_window_s)
        raise LoginFailed("Email or password is wrong.")
    codes = keyring.limiter_bucket("login-codes", str(record["id"]))
    if data.totp_code is None and data.recovery_code is None:
        if await two_factor.is_enabled(conn, record["id"]):
            raise SecondFactorRequired(
                "This account has two-factor authentication on: send `totp_code` from the "
                "authenticator app (or a `recovery_code`) with the email and password."
            )
    else:
        window = await rate_limits.select_bucket(conn, codes, settings.login_window_s)
        if window is not None and window["hits"] >= settings.totp_attempts_per_window:
            raise _too_many_codes(settings, int(window["seconds_left"]))
        second = await two_factor.check_second_factor(
            conn, keyring, record["id"], data.totp_code, data.recovery_code
        )
        if second is False:
            await rate_limits.hit_bucket(conn, codes, settings.login_window_s)
            raise SecondFactorFailed(
                "The two-factor code is wrong or was already used; wait for the next code."
            )
        await rate_limits.delete_bucket(conn, codes)
    await rate_limits.delete_bucket(conn, mine)
    await sessions.delete_expired_sessions_of(conn, record["id"])
    token = new_token(SESSION_TOKEN_PREFIX)
    row = await sessions.insert_session(
        conn, record["id"], token_hash(token), data.label, settings.session_ttl_hours
    )
    return SessionCreated(
        token=token,
        session=Session(
            id=row["id"], label=row["label"], expires_at=row["expires_at"], current=True
        ),
    )


async def reauthenticate(
    conn: asyncpg.Connection,
    keyring: Keyring,
    passwords: Passwords,
    settings: Settings,
    caller: Caller,
    password: str,
    totp_code: str | None,
    recovery_code: str | None,
) -> None:
    """Ask a signed-in caller again for the password (and a code when two-factor is on) before
    an irreversible step; failures count against a per-account limit."""
    bucket = keyring.limiter_bucket("reauth", str(caller.account_id))
    window = await rate_limits.select_bucket(conn, bucket, settings.login_window_s)
    if window is not None and window["hits"] >= settings.login_attempts_per_window:
        wait = max(int(window["seconds_left"]), 1)
        raise RateLimited(
            f"Too many wrong passwords or codes; try again in {wait} seconds.",
            headers={
                "Retry-After": str(wait),
                **rate_headers(settings.login_attempts_per_window, 0, wait),
            },
        )
    record = await q.select_account(conn, caller.account_id)
    if record is None or not await passwords.verify(record["password_hash"], password):
        await rate_limits.hit_bucket(conn, bucket, settings.login_window_s)
        raise PasswordWrong("The password is wrong.")
    second = await two_factor.check_second_factor(
        conn, keyring, caller.account_id, totp_code, recovery_code
    )
    if second is False:
        await rate_limits.hit_bucket(conn, bucket, settings.login_window_s)
        raise SecondFactorFailed(
            "Two-factor authentication is on: send a current `totp_code` (or a "
            "`recovery_code`); the one sent is wrong, missing or already used."
        )
    await rate_limits.delete_bucket(conn, bucket)


async def disable_two_factor(
    conn: asyncpg.Connection,
    keyring: Keyring,
    passwords: Passwords,
    settings: Settings,
    caller: Caller,
    data: TwoFactorDisable,
) -> None:
    """Turn two-factor off after the password and a current (or recovery) code."""
    if not await two_factor.is_enabled(conn, caller.account_id):
        raise Conflict("Two-factor authentication is already off.")
    await reauthenticate(
        conn,
        keyring,
        passwords,
        settings,
        caller,
        data.password,
        data.totp_code,
        data.recovery_code,
    )
    await two_factor.disable(conn, caller.account_id)


async def authenticate(conn: asyncpg.Connection, token: str) -> Caller | None:
    row = await sessions.select_session_account(conn, token_hash(token))
    if row is None:
        return None
    return Caller(row["account_id"], row["session_id"], row["display_name"])


async def update_me(
    conn: asyncpg.Connection, keyring: Keyring, caller: Caller, data: AccountPatch
) -> Account:
    display_name = data.display_name.strip() if isinstance(data.display_name, str) else None
    lookup = sealed = None
    if isinstance(data.email, str):
        email = normalize_email(data.email)
        lookup = keyring.lookup_hash(email)
        sealed = await encryption.seal(
            conn, keyring, "account", caller.account_id, EMAIL_CLASS, email
        )
    record = await q.update_account(conn, caller.account_id, display_name, lookup, sealed)
    if record is None:
        raise Conflict("Another account already uses this email.")
    return await get_account(conn, keyring, caller.account_id)


async def change_password(
    conn: asyncpg.Connection, passwords: Passwords, caller: Caller, data: PasswordChange
) -> None:
    record = await q.select_account(conn, caller.account_id)
    if record is None or not await passwords.verify(record["password_hash"], data.current_password):
        raise Unauthorized("The current password is wrong.")
    await q.update_password_hash(conn, caller.account_id, await passwords.hash(data.new_password))
    await sessions.delete_other_sessions(conn, caller.account_id, caller.session_id)


async def list_sessions(
    conn: asyncpg.Connection, caller: Caller, cursor: str | None, limit: int
) -> SessionPage:
    after = decode_cursor(cursor, tuple[datetime, UUID])
    rows = await sessions.select_account_sessions(conn, caller.account_id, after, limit + 1)
    page, next_cursor = split_page(rows, limit, lambda r: (r["expires_at"], r["id"]))
    items = [
        Session(
            id=r["id"],
            label=r["label"],
            expires_at=r["expires_at"],
            current=r["id"] == caller.session_id,
        )
        for r in page
    ]
    return SessionPage(items=items, next_cursor=next_cursor)


async def revoke_session(conn: asyncpg.Connection, caller: Caller, session_id: UUID) -> None:
    if not await sessions.delete_session(conn, caller.account_id, session_id):
        raise NotFound("You have no session with this id.")
