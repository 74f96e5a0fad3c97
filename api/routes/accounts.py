"""Accounts, login sessions and the caller's own profile."""

from __future__ import annotations

from uuid import UUID

import asyncpg
from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from api.config import Settings
from api.crypto import Keyring
from api.pagination import Cursor, Limit
from api.services import accounts
from api.services.accounts import Caller, Passwords
from schemas.accounts import (
    Account,
    AccountCreate,
    AccountPatch,
    PasswordChange,
    SessionCreate,
    SessionCreated,
    SessionPage,
)


class AccountController(Controller):
    tags = ["accounts"]

    @post("/v1/accounts", opt={"problems": (409,)})
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

    @patch("/v1/me", opt={"problems": (401, 409)})
    async def update_me(
        self,
        conn: NamedDependency[asyncpg.Connection],
        keyring: NamedDependency[Keyring],
        account: NamedDependency[Caller],
        data: JSONBody[AccountPatch],
    ) -> Account:
        """Change your display name or email."""
        return await accounts.update_me(conn, keyring, account, data)

    @post("/v1/me/password", status_code=204, opt={"problems": (401,)})
    async def change_password(
        self,
        conn: NamedDependency[asyncpg.Connection],
        passwords: NamedDependency[Passwords],
        account: NamedDependency[Caller],
        data: JSONBody[PasswordChange],
    ) -> None:
        """Change your password; every other session is signed out."""
        await accounts.change_password(conn, passwords, account, data)


class SessionController(Controller):
    tags = ["sessions"]

    @post("/v1/sessions", opt={"problems": (401, 429)})
    async def create_session(
        self,
        conn: NamedDependency[asyncpg.Connection],
        keyring: NamedDependency[Keyring],
        passwords: NamedDependency[Passwords],
        settings: NamedDependency[Settings],
        data: JSONBody[SessionCreate],
    ) -> SessionCreated:
        """Log in: returns a bearer token, shown once."""
        return await accounts.login(conn, keyring, passwords, settings, data)

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
