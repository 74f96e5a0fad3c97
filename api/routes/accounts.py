"""Accounts, login sessions and the caller's own profile."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from api.config import Settings
from api.crypto import Keyring
from api.pagination import Cursor, Limit
from api.services import account_deletion, account_export, accounts, challenges, two_factor
from api.services.accounts import Caller, LoginAttempt, Passwords
from api.services.rate_limits import SOLVED_KEY, client_key
from schemas.accounts import (
    Account,
    AccountCreate,
    AccountDelete,
    AccountPatch,
    PasswordChange,
    RecoveryCodes,
    SessionCreate,
    SessionCreated,
    SessionPage,
    TwoFactorCode,
    TwoFactorDisable,
    TwoFactorEnrolment,
    TwoFactorStatus,
)
from schemas.privacy import AccountExport

#: request bodies here are a few short fields (16 KiB leaves room for a 400 that names the
#: field at fault); a larger body is refused (413) before it is parsed
SMALL_BODY = 16_384
_NO_STORE = {"Cache-Control": "no-store"}


class AccountController(Controller):
    tags = ["accounts"]

    @post("/v1/accounts", opt={"problems": (409,)}, request_max_body_size=SMALL_BODY)
    async def create_account(
        self,
        conn: NamedDependency[asyncpg.Connection],
        keyring: NamedDependency[Keyring],
        passwords: NamedDependency[Passwords],
        data: JSONBody[AccountCreate],
    ) -> Account:
        """Sign up with an email, a display name (an alias is fine) and a password."""
        return await accounts.register(conn, keyring, passwords, data)

    @get("/v1/me", opt={"problems": (401,)})
    async def get_me(
        self,
        conn: NamedDependency[asyncpg.Connection],
        keyring: NamedDependency[Keyring],
        account: NamedDependency[Caller],
    ) -> Account:
        """Your own account."""
        return await accounts.get_account(conn, keyring, account.account_id)

    @patch("/v1/me", opt={"problems": (401, 409)}, request_max_body_size=SMALL_BODY)
    async def update_me(
        self,
        conn: NamedDependency[asyncpg.Connection],
        keyring: NamedDependency[Keyring],
        account: NamedDependency[Caller],
        data: JSONBody[AccountPatch],
    ) -> Account:
        """Change your display name or email."""
        return await accounts.update_me(conn, keyring, account, data)

    @post(
        "/v1/me/password",
        status_code=204,
        opt={"problems": (401,)},
        request_max_body_size=SMALL_BODY,
    )
    async def change_password(
        self,
        conn: NamedDependency[asyncpg.Connection],
        passwords: NamedDependency[Passwords],
        account: NamedDependency[Caller],
        data: JSONBody[PasswordChange],
    ) -> None:
        """Change your password; every other session is signed out."""
        await accounts.change_password(conn, passwords, account, data)

    @get("/v1/me/export", opt={"problems": (401,)})
    async def export_me(
        self,
        conn: NamedDependency[asyncpg.Connection],
        keyring: NamedDependency[Keyring],
        settings: NamedDependency[Settings],
        account: NamedDependency[Caller],
    ) -> Response[AccountExport]:
        """Everything Caravan holds about your account, as JSON, sealed fields opened."""
        export = await account_export.export_account(conn, keyring, settings, account)
        return Response(export, headers=_NO_STORE)

    @delete(
        "/v1/me",
        opt={"problems": (401, 409, 429)},
        request_max_body_size=SMALL_BODY,
    )
    async def delete_me(
        self,
        conn: NamedDependency[asyncpg.Connection],
        keyring: NamedDependency[Keyring],
        passwords: NamedDependency[Passwords],
        settings: NamedDependency[Settings],
        account: NamedDependency[Caller],
        data: JSONBody[AccountDelete],
    ) -> None:
        """Delete your account: RSVPs become anonymous places, rides are cancelled with notice,
        trip applications withdrawn; refused while you are an organization's last owner."""
        await account_deletion.delete_account(conn, keyring, passwords, settings, account, data)


class TwoFactorController(Controller):
    tags = ["two-factor"]

    @get("/v1/me/two-factor", opt={"problems": (401,)})
    async def get_two_factor(
        self, conn: NamedDependency[asyncpg.Connection], account: NamedDependency[Caller]
    ) -> TwoFactorStatus:
        """Whether two-factor authentication is on, and how many recovery codes are left."""
        return await two_factor.get_status(conn, account.account_id)

    @post("/v1/me/two-factor", opt={"problems": (401, 409)})
    async def begin_two_factor(
        self,
        conn: NamedDependency[asyncpg.Connection],
        keyring: NamedDependency[Keyring],
        account: NamedDependency[Caller],
    ) -> Response[TwoFactorEnrolment]:
        """Start two-factor enrolment: a new TOTP secret for your authenticator app."""
        enrolment = await two_factor.begin_enrolment(
            conn, keyring, account.account_id, account.display_name
        )
        return Response(enrolment, status_code=201, headers=_NO_STORE)

    @post(
        "/v1/me/two-factor/confirm",
        status_code=200,
        opt={"problems": (401, 409, 422)},
        request_max_body_size=SMALL_BODY,
    )
    async def confirm_two_factor(
        self,
        conn: NamedDependency[asyncpg.Connection],
        keyring: NamedDependency[Keyring],
        account: NamedDependency[Caller],
        data: JSONBody[TwoFactorCode],
    ) -> Response[RecoveryCodes]:
        """Turn two-factor on with a first code: returns 10 recovery codes, shown this once;
        your other sessions are signed out."""
        codes = await two_factor.confirm_enrolment(
            conn, keyring, account.account_id, account.session_id, data.code
        )
        return Response(codes, headers=_NO_STORE)

    @post(
        "/v1/me/two-factor/recovery-codes",
        status_code=200,
        opt={"problems": (401, 409, 422)},
        request_max_body_size=SMALL_BODY,
    )
    async def regenerate_recovery_codes(
        self,
        conn: NamedDependency[asyncpg.Connection],
        keyring: NamedDependency[Keyring],
        account: NamedDependency[Caller],
        data: JSONBody[TwoFactorCode],
    ) -> Response[RecoveryCodes]:
        """A new set of 10 recovery codes for a current code; the old ones stop working."""
        codes = await two_factor.regenerate_recovery_codes(
            conn, keyring, account.account_id, data.code
        )
        return Response(codes, headers=_NO_STORE)

    @post(
        "/v1/me/two-factor/disable",
        status_code=204,
        opt={"problems": (401, 409, 429)},
        request_max_body_size=SMALL_BODY,
    )
    async def disable_two_factor(
        self,
        conn: NamedDependency[asyncpg.Connection],
        keyring: NamedDependency[Keyring],
        passwords: NamedDependency[Passwords],
        settings: NamedDependency[Settings],
        account: NamedDependency[Caller],
        data: JSONBody[TwoFactorDisable],
    ) -> None:
        """Turn two-factor off with your password and a code (or a recovery code)."""
        await accounts.disable_two_factor(conn, keyring, passwords, settings, account, data)


class SessionController(Controller):
    tags = ["sessions"]

    @post("/v1/sessions", opt={"problems": (401, 422, 428, 429)}, request_max_body_size=SMALL_BODY)
    async def create_session(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[asyncpg.Connection],
        keyring: NamedDependency[Keyring],
        passwords: NamedDependency[Passwords],
        settings: NamedDependency[Settings],
        data: JSONBody[SessionCreate],
    ) -> SessionCreated:
        """Log in: returns a bearer token, shown once (428: solve a challenge first)."""
        attempt = LoginAttempt(
            client=client_key(request, settings),
            solution=request.headers.get(challenges.HEADER),
            solved=request.state.get(SOLVED_KEY) is True,
        )
        return await accounts.login(conn, keyring, passwords, settings, data, attempt)

    @delete("/v1/sessions/current", opt={"problems": (401,)})
    async def delete_current_session(
        self, conn: NamedDependency[asyncpg.Connection], account: NamedDependency[Caller]
    ) -> None:
        """Log out: the token stops working at once."""
        await accounts.revoke_session(conn, account, account.session_id)

    @get("/v1/me/sessions", opt={"problems": (401,)})
    async def list_my_sessions(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> SessionPage:
        """Your signed-in devices."""
        return await accounts.list_sessions(conn, account, cursor, limit)

    @delete("/v1/me/sessions/{session_id:uuid}", opt={"problems": (401, 404)})
    async def delete_my_session(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        session_id: FromPath[UUID],
    ) -> None:
        """Sign out one of your devices."""
        await accounts.revoke_session(conn, account, session_id)
