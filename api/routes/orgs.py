"""Organizations, their public directory, and memberships."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import asyncpg
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from api.config import Settings
from api.crypto import Keyring
from api.deps import caller_account_id
from api.pagination import Cursor, Limit, link_header
from api.services import orgs
from api.services.accounts import Caller
from schemas.orgs import (
    Member,
    MemberAdd,
    MemberPage,
    MemberPatch,
    MyOrgPage,
    Org,
    OrgCreate,
    OrgPage,
    OrgPatch,
)

NameQuery = Annotated[
    str | None, QueryParameter(min_length=1, max_length=100, description="Part of the name")
]


class OrgController(Controller):
    tags = ["organizations"]

    @get("/v1/orgs")
    async def list_orgs(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[asyncpg.Connection],
        settings: NamedDependency[Settings],
        q: NameQuery = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[OrgPage]:
        """The public directory of organizations, by name; `q` searches names."""
        page = await orgs.list_orgs(conn, settings.public_url, q, cursor, limit)
        return Response(
            page,
            headers=link_header(request, page.next_cursor),
        )

    @post("/v1/orgs", opt={"problems": (401, 409, 422)})
    async def create_org(
        self,
        conn: NamedDependency[asyncpg.Connection],
        settings: NamedDependency[Settings],
        account: NamedDependency[Caller],
        data: JSONBody[OrgCreate],
    ) -> Org:
        """Create an organization; you become its owner."""
        return await orgs.create_org(conn, settings.public_url, account.account_id, data)

    @get("/v1/me/orgs", opt={"problems": (401,)})
    async def list_my_orgs(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[asyncpg.Connection],
        settings: NamedDependency[Settings],
        account: NamedDependency[Caller],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[MyOrgPage]:
        """The organizations you belong to, with your role."""
        page = await orgs.list_my_orgs(conn, settings.public_url, account.account_id, cursor, limit)
        return Response(page, headers=link_header(request, page.next_cursor))

    @get("/v1/orgs/{slug:str}", opt={"problems": (404,)})
    async def get_org(
        self,
        conn: NamedDependency[asyncpg.Connection],
        settings: NamedDependency[Settings],
        slug: FromPath[str],
    ) -> Org:
        """An organization's public profile."""
        return await orgs.get_org(conn, settings.public_url, slug)

    @patch("/v1/orgs/{slug:str}", opt={"problems": (401, 403, 404, 409, 422)})
    async def update_org(
        self,
        conn: NamedDependency[asyncpg.Connection],
        settings: NamedDependency[Settings],
        caller: NamedDependency[Caller | None],
        slug: FromPath[str],
        data: JSONBody[OrgPatch],
    ) -> Org:
        """Change the profile (organizers and owners) or, for owners, `require_two_factor`."""
        return await orgs.update_org(
            conn, settings.public_url, slug, caller_account_id(caller), data
        )

    @get("/v1/orgs/{slug:str}/members", opt={"problems": (401, 403, 404)})
    async def list_members(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        slug: FromPath[str],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[MemberPage]:
        """Members with their roles (organizers and owners)."""
        page = await orgs.list_members(conn, slug, caller_account_id(caller), cursor, limit)
        return Response(
            page,
            headers=link_header(request, page.next_cursor),
        )

    @post("/v1/orgs/{slug:str}/members", opt={"problems": (401, 403, 404, 409, 422)})
    async def add_member(
        self,
        conn: NamedDependency[asyncpg.Connection],
        keyring: NamedDependency[Keyring],
        caller: NamedDependency[Caller | None],
        slug: FromPath[str],
        data: JSONBody[MemberAdd],
    ) -> Member:
        """Add someone with an account, by email (organizers and owners; owners add owners)."""
        return await orgs.add_member(conn, keyring, slug, caller_account_id(caller), data)

    @patch("/v1/orgs/{slug:str}/members/{account_id:uuid}", opt={"problems": (401, 403, 404, 409)})
    async def update_member(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        slug: FromPath[str],
        account_id: FromPath[UUID],
        data: JSONBody[MemberPatch],
    ) -> Member:
        """Change a member's role; the last owner cannot be demoted."""
        return await orgs.change_member_role(
            conn, slug, caller_account_id(caller), account_id, data
        )

    @delete("/v1/orgs/{slug:str}/members/{account_id:uuid}", opt={"problems": (401, 403, 404, 409)})
    async def remove_member(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        slug: FromPath[str],
        account_id: FromPath[UUID],
    ) -> None:
        """Remove a member, or leave (your own id); the last owner cannot leave."""
        await orgs.remove_member(conn, slug, caller_account_id(caller), account_id)
