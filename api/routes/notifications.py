"""The notifications inbox, and announcements organizers post to an event's attendees."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import asyncpg
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from api.deps import caller_account_id
from api.pagination import Cursor, Limit, link_header
from api.services import notifications
from api.services.accounts import Caller
from schemas.announcements import AnnouncementCreate, AnnouncementPage, PostedAnnouncement
from schemas.notifications import Notification, NotificationOrder, NotificationPage, ReadAll

Lang = Annotated[
    str | None,
    QueryParameter(max_length=35, description="Language for `display_body` (else Accept-Language)"),
]
UnreadOnly = Annotated[bool, QueryParameter(description="Only unread notifications")]
Order = Annotated[
    NotificationOrder,
    QueryParameter(description="`newest` first (default) or `unread_first`, then newest"),
]


class NotificationController(Controller):
    tags = ["notifications"]

    @get("/v1/me/notifications", opt={"problems": (401,)})
    async def list_notifications(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        unread: UnreadOnly = False,
        order: Order = "newest",
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[NotificationPage]:
        """Your inbox: promotions from the waitlist, event changes, announcements."""
        page = await notifications.list_inbox(
            conn, account.account_id, order=order, unread_only=unread, cursor=cursor, limit=limit
        )
        return Response(page, headers=link_header(request, page.next_cursor))

    @post(
        "/v1/me/notifications/{notification_id:uuid}/read",
        status_code=200,
        opt={"problems": (401, 404)},
    )
    async def mark_read(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        notification_id: FromPath[UUID],
    ) -> Notification:
        """Mark one notification read."""
        return await notifications.mark_read(conn, account.account_id, notification_id)

    @post("/v1/me/notifications/read-all", status_code=200, opt={"problems": (401,)})
    async def mark_all_read(
        self, conn: NamedDependency[asyncpg.Connection], account: NamedDependency[Caller]
    ) -> ReadAll:
        """Mark every notification read."""
        return await notifications.mark_all_read(conn, account.account_id)

    @post(
        "/v1/events/{event_id:uuid}/announcements",
        opt={"problems": (401, 403, 404, 422)},
    )
    async def post_announcement(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        languages: NamedDependency[list[str]],
        event_id: FromPath[UUID],
        data: JSONBody[AnnouncementCreate],
    ) -> PostedAnnouncement:
        """Post an update to everyone going or waitlisted (organizers); it lands in each inbox."""
        return await notifications.post_announcement(
            conn, event_id, caller_account_id(caller), data, languages
        )

    @get("/v1/events/{event_id:uuid}/announcements", opt={"problems": (401, 403, 404)})
    async def list_announcements(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        languages: NamedDependency[list[str]],
        event_id: FromPath[UUID],
        lang: Lang = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[AnnouncementPage]:
        """An event's announcements, newest first (organizers, and people with a live RSVP)."""
        page = await notifications.list_announcements(
            conn, event_id, caller_account_id(caller), languages, cursor, limit
        )
        return Response(
            page,
            headers=link_header(request, page.next_cursor),
        )
