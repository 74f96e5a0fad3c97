"""Shifts: volunteer slots within an event, with counts; organizers create and change them."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import asyncpg
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from api.deps import caller_account_id
from api.pagination import Cursor, Limit, link_header
from api.services import shifts
from api.services.accounts import Caller
from schemas.shifts import Shift, ShiftCreate, ShiftPage, ShiftPatch

Lang = Annotated[
    str | None,
    QueryParameter(max_length=35, description="Language for `display_name` (else Accept-Language)"),
]
ShareTokenQuery = Annotated[
    str | None,
    QueryParameter(max_length=200, description="A private event's share token"),
]


class ShiftController(Controller):
    tags = ["shifts"]

    @get("/v1/events/{event_id:uuid}/shifts", opt={"problems": (404,)})
    async def list_shifts(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        languages: NamedDependency[list[str]],
        event_id: FromPath[UUID],
        share_token: ShareTokenQuery = None,
        lang: Lang = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[ShiftPage]:
        """An event's shifts by start time, with counts (unless the event hides them)."""
        page = await shifts.list_shifts(
            conn, event_id, caller_account_id(caller), share_token, languages, cursor, limit
        )
        return Response(
            page,
            headers=link_header(request, page.next_cursor),
        )

    @post("/v1/events/{event_id:uuid}/shifts", opt={"problems": (401, 403, 404, 409, 422)})
    async def create_shift(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        languages: NamedDependency[list[str]],
        event_id: FromPath[UUID],
        data: JSONBody[ShiftCreate],
    ) -> Shift:
        """Add a shift (organizers of a hosting org); one with a `language` is an interpreter shift for it."""
        return await shifts.create_shift(conn, event_id, caller_account_id(caller), data, languages)

    @patch("/v1/shifts/{shift_id:uuid}", opt={"problems": (401, 403, 404, 409, 422)})
    async def update_shift(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        languages: NamedDependency[list[str]],
        shift_id: FromPath[UUID],
        data: JSONBody[ShiftPatch],
    ) -> Shift:
        """Change a shift; capacity cannot drop below the places taken, and a raise admits the waitlist."""
        return await shifts.update_shift(conn, shift_id, caller_account_id(caller), data, languages)

    @delete("/v1/shifts/{shift_id:uuid}", opt={"problems": (401, 403, 404, 409)})
    async def delete_shift(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        shift_id: FromPath[UUID],
    ) -> None:
        """Delete a shift nobody is signed up for."""
        await shifts.delete_shift(conn, shift_id, caller_account_id(caller))
