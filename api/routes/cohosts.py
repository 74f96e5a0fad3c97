"""Co-host invitations waiting for an organization's answer."""

from __future__ import annotations

import asyncpg
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from api.deps import caller_account_id
from api.services import cohosts
from api.services.accounts import Caller
from schemas.cohosts import CohostInvitationList


class CohostController(Controller):
    tags = ["co-hosts"]

    @get("/v1/orgs/{slug:str}/cohost-invitations", opt={"problems": (401, 403, 404)})
    async def list_cohost_invitations(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        slug: FromPath[str],
    ) -> Response[CohostInvitationList]:
        """Events and trips other organizations invite this one to co-host (organizers)."""
        invitations = await cohosts.list_org_invitations(conn, slug, caller_account_id(caller))
        return Response(invitations, headers={"Cache-Control": "no-store"})
