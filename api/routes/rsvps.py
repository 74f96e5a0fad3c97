"""RSVPs: saying you're coming, manage links, your RSVPs, counts, and the organizers' tools."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter

from api.config import Settings
from api.crypto import Keyring
from api.deps import caller_account_id
from api.pagination import Cursor, Limit, link_header
from api.services import rsvp_attendees, rsvp_booking, rsvp_counts, rsvp_manage
from api.services.accounts import Caller
from schemas.rsvps import (
    AttendeePage,
    EventCounts,
    ManageView,
    MyRsvpPage,
    Rsvp,
    RsvpCreate,
    RsvpCreated,
    RsvpPatch,
)

Lang = Annotated[
    str | None,
    QueryParameter(max_length=35, description="Language for display texts (else Accept-Language)"),
]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=16,
        max_length=255,
        pattern=r"^[!-~]+$",
        description=(
            "Retry safely: a repeat within 24 h with the same key and body returns the same RSVP "
            "(201, with `Idempotent-Replayed: true`) and never makes a second one. 16–255 "
            "visible ASCII characters; a fresh UUID is ideal."
        ),
    ),
]
ShareTokenQuery = Annotated[
    str | None,
    QueryParameter(max_length=200, description="A private event's share token"),
]
ShiftFilter = Annotated[UUID | None, QueryParameter(description="Only RSVPs to this shift")]
EventOnly = Annotated[bool, QueryParameter(description="Only RSVPs to the event itself (no shift)")]
StatusFilter = Annotated[
    Literal["going", "waitlisted", "cancelled", "attended"] | None,
    QueryParameter(description="Only RSVPs with this status"),
]
_NO_STORE = {"Cache-Control": "no-store"}


#: an RSVP is an alias, a contact, a few numbers and tags: a larger body is refused (413)
RSVP_BODY_MAX = 8192


class RsvpController(Controller):
    tags = ["rsvps"]

    @post(
        "/v1/events/{event_id:uuid}/rsvps",
        status_code=201,
        opt={"problems": (401, 404, 409, 422)},
        request_max_body_size=RSVP_BODY_MAX,
    )
    async def create_rsvp(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        keyring: NamedDependency[Keyring],
        settings: NamedDependency[Settings],
        event_id: FromPath[UUID],
        data: JSONBody[RsvpCreate],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[RsvpCreated]:
        """Say you're coming (an account is optional); waitlisted unless your group fits in `spots_left` (strict arrival order); returns the secret manage link once."""
        created, replayed = await rsvp_booking.create_rsvp(
            conn, keyring, settings, event_id, caller_account_id(caller), data, idempotency_key
        )
        headers = dict(_NO_STORE)
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(created, status_code=201, headers=headers)

    @get("/v1/rsvps/manage/{token:str}", opt={"problems": (404,)})
    async def get_manage_view(
        self,
        conn: NamedDependency[asyncpg.Connection],
        keyring: NamedDependency[Keyring],
        languages: NamedDependency[list[str]],
        token: FromPath[str],
        lang: Lang = None,
    ) -> Response[ManageView]:
        """Your RSVP behind its manage link: status, place in line, the event, announcements, notifications."""
        view = await rsvp_manage.manage_view(conn, keyring, token, languages)
        return Response(view, headers=_NO_STORE)

    @patch(
        "/v1/rsvps/manage/{token:str}",
        opt={"problems": (404, 409, 422)},
        request_max_body_size=RSVP_BODY_MAX,
    )
    async def update_by_token(
        self,
        conn: NamedDependency[asyncpg.Connection],
        keyring: NamedDependency[Keyring],
        settings: NamedDependency[Settings],
        token: FromPath[str],
        data: JSONBody[RsvpPatch],
    ) -> Response[Rsvp]:
        """Change guests, alias, language needs or contact; more guests need free places (else 409, unchanged)."""
        updated = await rsvp_manage.update_by_token(conn, keyring, settings, token, data)
        return Response(updated, headers=_NO_STORE)

    @delete("/v1/rsvps/manage/{token:str}", status_code=200, opt={"problems": (404, 409)})
    async def cancel_by_token(
        self,
        conn: NamedDependency[asyncpg.Connection],
        keyring: NamedDependency[Keyring],
        token: FromPath[str],
    ) -> Response[Rsvp]:
        """Cancel your RSVP; your places go to the first in line at once. Repeating it changes nothing."""
        cancelled = await rsvp_manage.cancel_by_token(conn, keyring, token)
        return Response(cancelled, headers=_NO_STORE)

    @get("/v1/me/rsvps", opt={"problems": (401,)})
    async def list_my_rsvps(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        keyring: NamedDependency[Keyring],
        settings: NamedDependency[Settings],
        languages: NamedDependency[list[str]],
        lang: Lang = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[MyRsvpPage]:
        """Your RSVPs with their events, soonest first."""
        page = await rsvp_manage.list_my_rsvps(
            conn, keyring, settings, account.account_id, languages, cursor, limit
        )
        headers = dict(_NO_STORE)
        headers.update(link_header(request, page.next_cursor))
        return Response(page, headers=headers)

    @get("/v1/events/{event_id:uuid}/counts", opt={"problems": (403, 404)})
    async def get_counts(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        event_id: FromPath[UUID],
        share_token: ShareTokenQuery = None,
    ) -> EventCounts:
        """Counts without names: places going and waiting, spots a newcomer can take (0 while anyone waits), language needs against interpreters (small needs hidden from the public), per shift."""
        return await rsvp_counts.event_counts(
            conn, event_id, caller_account_id(caller), share_token
        )

    @get("/v1/events/{event_id:uuid}/rsvps", opt={"problems": (401, 403, 404)})
    async def list_attendees(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        keyring: NamedDependency[Keyring],
        languages: NamedDependency[list[str]],
        event_id: FromPath[UUID],
        shift_id: ShiftFilter = None,
        event_only: EventOnly = False,
        status: StatusFilter = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[AttendeePage]:
        """The attendee list with counts (organizers of the creating org, or co-hosts granted access); each read is audited."""
        page = await rsvp_attendees.list_attendees(
            conn,
            keyring,
            event_id,
            caller_account_id(caller),
            shift_id=shift_id,
            event_only=event_only,
            status=status,
            languages=languages,
            cursor=cursor,
            limit=limit,
        )
        headers = dict(_NO_STORE)
        headers.update(link_header(request, page.next_cursor))
        return Response(page, headers=headers)

    @get(
        "/v1/events/{event_id:uuid}/rsvps.csv",
        media_type="text/csv",  # Litestar adds "; charset=utf-8" to text types
        opt={"problems": (401, 403, 404)},
    )
    async def export_attendees(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        keyring: NamedDependency[Keyring],
        languages: NamedDependency[list[str]],
        event_id: FromPath[UUID],
        shift_id: ShiftFilter = None,
        status: StatusFilter = None,
    ) -> Response[str]:
        """The attendee list as CSV (same access as the list); each export is audited."""
        body = await rsvp_attendees.export_attendees(
            conn,
            keyring,
            event_id,
            caller_account_id(caller),
            shift_id=shift_id,
            status=status,
            languages=languages,
        )
        return Response(
            body,
            media_type="text/csv",  # Litestar adds "; charset=utf-8" to text types
            headers={
                **_NO_STORE,
                "Content-Disposition": f'attachment; filename="rsvps-{event_id}.csv"',
            },
        )

    @post(
        "/v1/rsvps/{rsvp_id:uuid}/check-in",
        status_code=200,
        opt={"problems": (401, 403, 404, 409)},
    )
    async def check_in(
        self,
        conn: NamedDependency[asyncpg.Connection],
        keyring: NamedDependency[Keyring],
        caller: NamedDependency[Caller | None],
        rsvp_id: FromPath[UUID],
    ) -> Response[Rsvp]:
        """Mark a going RSVP attended (organizers with attendee access); repeating it changes nothing."""
        checked = await rsvp_attendees.check_in(conn, keyring, rsvp_id, caller_account_id(caller))
        return Response(checked, headers=_NO_STORE)
