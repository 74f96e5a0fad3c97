"""Solidarity trips: the trip and its lifecycle, co-hosts, itinerary, questions, applications,
participant data, checklists, the roster, announcements, and your trips."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from api.config import Settings
from api.crypto import Keyring
from api.deps import caller_account_id
from api.pagination import Cursor, Limit, link_header
from api.services import (
    cohosting,
    itinerary,
    trip_announcements,
    trip_applications,
    trip_checklists,
    trip_decisions,
    trip_editing,
    trip_lifecycle,
    trip_participant_data,
    trip_questions,
    trip_roster,
    trips,
)
from api.services.accounts import Caller
from schemas.events import Cohost, CohostAdd, CohostList
from schemas.itinerary import (
    Itinerary,
    ItineraryItem,
    ItineraryItemCreate,
    ItineraryItemPatch,
    ItineraryOrder,
)
from schemas.trip_applications import (
    Application,
    ApplicationCreate,
    ApplicationDecision,
    ApplicationPage,
    Checklist,
    ChecklistItem,
    ChecklistItemCreate,
    ChecklistMark,
    MyTripPage,
    ParticipantChecklist,
    ParticipantData,
    ParticipantDataPut,
    Question,
    QuestionCreate,
    QuestionList,
)
from schemas.trips import (
    Trip,
    TripAnnouncement,
    TripAnnouncementCreate,
    TripAnnouncementPage,
    TripCancel,
    TripCreate,
    TripPage,
    TripPatch,
)

Lang = Annotated[
    str | None,
    QueryParameter(max_length=35, description="Language for display texts (else Accept-Language)"),
]
IncludePast = Annotated[bool, QueryParameter(description="Also list trips that have already ended")]
ApplicationStatusFilter = Annotated[
    Literal["applied", "accepted", "waitlisted", "declined", "withdrawn"] | None,
    QueryParameter(description="Only applications with this status"),
]
IncludeEmergencyContacts = Annotated[
    bool,
    QueryParameter(
        description="Add emergency contacts and notes (needs `reason`, which is audited)"
    ),
]
ExportReason = Annotated[
    str | None,
    QueryParameter(
        min_length=1,
        max_length=500,
        description="Why emergency contacts are needed; written to the audit log",
    ),
]
_NO_STORE = {"Cache-Control": "no-store"}


class TripController(Controller):
    tags = ["trips"]

    @post("/v1/orgs/{slug:str}/trips", opt={"problems": (401, 403, 404, 422)})
    async def create_trip(
        self,
        conn: NamedDependency[asyncpg.Connection],
        settings: NamedDependency[Settings],
        account: NamedDependency[Caller],
        languages: NamedDependency[list[str]],
        slug: FromPath[str],
        data: JSONBody[TripCreate],
    ) -> Trip:
        """Create a trip as a draft (organizers and owners)."""
        return await trip_editing.create_trip(
            conn, settings.public_url, slug, account.account_id, data, languages
        )

    @get("/v1/orgs/{slug:str}/trips", opt={"problems": (404,)})
    async def list_org_trips(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[asyncpg.Connection],
        settings: NamedDependency[Settings],
        caller: NamedDependency[Caller | None],
        languages: NamedDependency[list[str]],
        slug: FromPath[str],
        include_past: IncludePast = False,
        lang: Lang = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[TripPage]:
        """An org's trips and those it co-hosts, by start (members also see members-only ones,
        organizers also drafts)."""
        page = await trip_editing.list_org_trips(
            conn,
            settings.public_url,
            slug,
            caller_account_id(caller),
            include_past=include_past,
            cursor=cursor,
            limit=limit,
            languages=languages,
        )
        return Response(page, headers=link_header(request, page.next_cursor))

    @get("/v1/trips/{trip_id:uuid}", opt={"problems": (404,)})
    async def get_trip(
        self,
        conn: NamedDependency[asyncpg.Connection],
        settings: NamedDependency[Settings],
        caller: NamedDependency[Caller | None],
        languages: NamedDependency[list[str]],
        trip_id: FromPath[UUID],
        lang: Lang = None,
    ) -> Trip:
        """A trip, with its meeting point as precise as you may know it."""
        return await trip_editing.get_trip(
            conn, settings.public_url, trip_id, caller_account_id(caller), languages
        )

    @patch("/v1/trips/{trip_id:uuid}", opt={"problems": (401, 403, 404, 409, 422)})
    async def update_trip(
        self,
        conn: NamedDependency[asyncpg.Connection],
        settings: NamedDependency[Settings],
        account: NamedDependency[Caller],
        languages: NamedDependency[list[str]],
        trip_id: FromPath[UUID],
        data: JSONBody[TripPatch],
    ) -> Trip:
        """Change a trip (organizers of a hosting org); capacity never below the accepted."""
        return await trip_editing.update_trip(
            conn, settings.public_url, trip_id, account.account_id, data, languages
        )

    @post("/v1/trips/{trip_id:uuid}/open", status_code=200, opt={"problems": (401, 403, 404, 409)})
    async def open_trip(
        self,
        conn: NamedDependency[asyncpg.Connection],
        settings: NamedDependency[Settings],
        account: NamedDependency[Caller],
        languages: NamedDependency[list[str]],
        trip_id: FromPath[UUID],
    ) -> Trip:
        """Open a draft (or a closed trip) for applications."""
        return await trip_lifecycle.open_trip(
            conn, settings.public_url, trip_id, account.account_id, languages
        )

    @post("/v1/trips/{trip_id:uuid}/close", status_code=200, opt={"problems": (401, 403, 404, 409)})
    async def close_trip(
        self,
        conn: NamedDependency[asyncpg.Connection],
        settings: NamedDependency[Settings],
        account: NamedDependency[Caller],
        languages: NamedDependency[list[str]],
        trip_id: FromPath[UUID],
    ) -> Trip:
        """Stop taking applications; decisions on existing ones go on."""
        return await trip_lifecycle.close_trip(
            conn, settings.public_url, trip_id, account.account_id, languages
        )

    @post(
        "/v1/trips/{trip_id:uuid}/cancel", status_code=200, opt={"problems": (401, 403, 404, 409)}
    )
    async def cancel_trip(
        self,
        conn: NamedDependency[asyncpg.Connection],
        settings: NamedDependency[Settings],
        account: NamedDependency[Caller],
        languages: NamedDependency[list[str]],
        trip_id: FromPath[UUID],
        data: JSONBody[TripCancel],
    ) -> Trip:
        """Cancel a trip, with a reason every applicant is told; cancelled is final."""
        return await trip_lifecycle.cancel_trip(
            conn, settings.public_url, trip_id, account.account_id, data.reason, languages
        )

    @post(
        "/v1/trips/{trip_id:uuid}/complete",
        status_code=200,
        opt={"problems": (401, 403, 404, 409)},
    )
    async def complete_trip(
        self,
        conn: NamedDependency[asyncpg.Connection],
        settings: NamedDependency[Settings],
        account: NamedDependency[Caller],
        languages: NamedDependency[list[str]],
        trip_id: FromPath[UUID],
    ) -> Trip:
        """Mark a trip that has started as completed."""
        return await trip_lifecycle.complete_trip(
            conn, settings.public_url, trip_id, account.account_id, languages
        )

    # ------------------------------------------------------------ co-hosts

    @get("/v1/trips/{trip_id:uuid}/cohosts", opt={"problems": (401, 403, 404)})
    async def list_cohosts(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        trip_id: FromPath[UUID],
    ) -> CohostList:
        """The co-hosting organizations and their access (organizers)."""
        return await cohosting.list_cohosts(trips.TRIPS, conn, trip_id, account.account_id)

    @post("/v1/trips/{trip_id:uuid}/cohosts", opt={"problems": (401, 403, 404, 409, 422)})
    async def add_cohost(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        trip_id: FromPath[UUID],
        data: JSONBody[CohostAdd],
    ) -> Cohost:
        """Invite an organization to co-host (organizers of the creating org); it co-hosts once
        one of its organizers accepts."""
        return await cohosting.add_cohost(trips.TRIPS, conn, trip_id, account.account_id, data)

    @delete("/v1/trips/{trip_id:uuid}/cohosts/{slug:str}", opt={"problems": (401, 403, 404)})
    async def remove_cohost(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        trip_id: FromPath[UUID],
        slug: FromPath[str],
    ) -> None:
        """Remove a co-hosting organization, or withdraw its invitation (organizers of the
        creating org)."""
        await cohosting.remove_cohost(trips.TRIPS, conn, trip_id, account.account_id, slug)

    @post(
        "/v1/trips/{trip_id:uuid}/cohosts/{slug:str}/accept",
        status_code=200,
        opt={"problems": (401, 403, 404, 409)},
    )
    async def accept_cohost(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        trip_id: FromPath[UUID],
        slug: FromPath[str],
    ) -> Cohost:
        """Accept an invitation to co-host (organizers of the invited org)."""
        return await cohosting.accept_cohost(trips.TRIPS, conn, trip_id, account.account_id, slug)

    @post(
        "/v1/trips/{trip_id:uuid}/cohosts/{slug:str}/decline",
        status_code=204,
        opt={"problems": (401, 403, 404)},
    )
    async def decline_cohost(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        trip_id: FromPath[UUID],
        slug: FromPath[str],
    ) -> None:
        """Decline an invitation to co-host (organizers of the invited org)."""
        await cohosting.decline_cohost(trips.TRIPS, conn, trip_id, account.account_id, slug)

    # ------------------------------------------------------------ itinerary

    @get("/v1/trips/{trip_id:uuid}/itinerary", opt={"problems": (404,)})
    async def get_itinerary(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        languages: NamedDependency[list[str]],
        trip_id: FromPath[UUID],
        lang: Lang = None,
    ) -> Itinerary:
        """The itinerary in order: participant-only items and exact places for accepted
        participants and organizers."""
        return await itinerary.get_itinerary(conn, trip_id, caller_account_id(caller), languages)

    @post("/v1/trips/{trip_id:uuid}/itinerary", opt={"problems": (401, 403, 404, 409, 422)})
    async def add_itinerary_item(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        languages: NamedDependency[list[str]],
        trip_id: FromPath[UUID],
        data: JSONBody[ItineraryItemCreate],
    ) -> ItineraryItem:
        """Append an item within the trip's dates (organizers)."""
        return await itinerary.add_item(conn, trip_id, account.account_id, data, languages)

    @patch(
        "/v1/trips/{trip_id:uuid}/itinerary/{item_id:uuid}",
        opt={"problems": (401, 403, 404, 409, 422)},
    )
    async def update_itinerary_item(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        languages: NamedDependency[list[str]],
        trip_id: FromPath[UUID],
        item_id: FromPath[UUID],
        data: JSONBody[ItineraryItemPatch],
    ) -> ItineraryItem:
        """Change an item (organizers); its sequence and the trip's rise."""
        return await itinerary.update_item(
            conn, trip_id, item_id, account.account_id, data, languages
        )

    @delete(
        "/v1/trips/{trip_id:uuid}/itinerary/{item_id:uuid}",
        opt={"problems": (401, 403, 404, 409)},
    )
    async def delete_itinerary_item(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        trip_id: FromPath[UUID],
        item_id: FromPath[UUID],
    ) -> None:
        """Delete an item (organizers)."""
        await itinerary.delete_item(conn, trip_id, item_id, account.account_id)

    @post(
        "/v1/trips/{trip_id:uuid}/itinerary/order",
        status_code=200,
        opt={"problems": (401, 403, 404, 409, 422)},
    )
    async def reorder_itinerary(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        languages: NamedDependency[list[str]],
        trip_id: FromPath[UUID],
        data: JSONBody[ItineraryOrder],
    ) -> Itinerary:
        """Put the items in a new order (every item id once)."""
        return await itinerary.reorder(conn, trip_id, account.account_id, data, languages)

    # ------------------------------------------------------------ questions

    @get("/v1/trips/{trip_id:uuid}/questions", opt={"problems": (404,)})
    async def list_questions(
        self,
        conn: NamedDependency[asyncpg.Connection],
        caller: NamedDependency[Caller | None],
        languages: NamedDependency[list[str]],
        trip_id: FromPath[UUID],
        lang: Lang = None,
    ) -> QuestionList:
        """The questions applicants answer."""
        return await trip_questions.list_questions(
            conn, trip_id, caller_account_id(caller), languages
        )

    @post("/v1/trips/{trip_id:uuid}/questions", opt={"problems": (401, 403, 404, 409, 422)})
    async def add_question(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        languages: NamedDependency[list[str]],
        trip_id: FromPath[UUID],
        data: JSONBody[QuestionCreate],
    ) -> Question:
        """Add a question (organizers)."""
        return await trip_questions.add_question(conn, trip_id, account.account_id, data, languages)

    # ------------------------------------------------------------ checklist

    @get("/v1/trips/{trip_id:uuid}/checklist", opt={"problems": (401, 403, 404)})
    async def get_checklist(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        languages: NamedDependency[list[str]],
        trip_id: FromPath[UUID],
        lang: Lang = None,
    ) -> Response[Checklist]:
        """Checklist items with who has what outstanding (organizers: everyone; accepted
        participants: their own)."""
        checklist = await trip_checklists.get_checklist(
            conn, trip_id, account.account_id, languages
        )
        return Response(checklist, headers=_NO_STORE)

    @post("/v1/trips/{trip_id:uuid}/checklist", opt={"problems": (401, 403, 404, 409)})
    async def add_checklist_item(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        languages: NamedDependency[list[str]],
        trip_id: FromPath[UUID],
        data: JSONBody[ChecklistItemCreate],
    ) -> ChecklistItem:
        """Add a checklist item every accepted participant completes (organizers)."""
        return await trip_checklists.add_checklist_item(
            conn, trip_id, account.account_id, data, languages
        )

    # ------------------------------------------------------------ announcements

    @get("/v1/trips/{trip_id:uuid}/announcements", opt={"problems": (401, 403, 404)})
    async def list_announcements(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        languages: NamedDependency[list[str]],
        trip_id: FromPath[UUID],
        lang: Lang = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[TripAnnouncementPage]:
        """The trip's news, newest first (accepted participants and organizers)."""
        page = await trip_announcements.list_announcements(
            conn, trip_id, account.account_id, languages, cursor, limit
        )
        return Response(
            page,
            headers={
                **_NO_STORE,
                **link_header(request, page.next_cursor),
            },
        )

    @post("/v1/trips/{trip_id:uuid}/announcements", opt={"problems": (401, 403, 404, 409)})
    async def post_announcement(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        languages: NamedDependency[list[str]],
        trip_id: FromPath[UUID],
        data: JSONBody[TripAnnouncementCreate],
    ) -> TripAnnouncement:
        """Post an update; every accepted participant gets it in their inbox (organizers)."""
        return await trip_announcements.post_announcement(
            conn, trip_id, account.account_id, data, languages
        )

    # ------------------------------------------------------------ yours

    @get("/v1/me/trips", opt={"problems": (401,)})
    async def list_my_trips(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[asyncpg.Connection],
        settings: NamedDependency[Settings],
        account: NamedDependency[Caller],
        languages: NamedDependency[list[str]],
        lang: Lang = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[MyTripPage]:
        """Your trip applications with their status and trips, by the trip's start."""
        page = await trip_applications.list_my_trips(
            conn, settings.public_url, account.account_id, cursor, limit, languages
        )
        return Response(
            page,
            headers={
                **_NO_STORE,
                **link_header(request, page.next_cursor),
            },
        )


class TripApplicationController(Controller):
    tags = ["trip applications"]

    @post("/v1/trips/{trip_id:uuid}/applications", opt={"problems": (401, 404, 409, 422)})
    async def apply(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        keyring: NamedDependency[Keyring],
        trip_id: FromPath[UUID],
        data: JSONBody[ApplicationCreate],
    ) -> Response[Application]:
        """Apply with your roles and answers (and, optionally, your emergency contact)."""
        created = await trip_applications.apply(conn, keyring, trip_id, account.account_id, data)
        return Response(created, status_code=201, headers=_NO_STORE)

    @get("/v1/trips/{trip_id:uuid}/applications", opt={"problems": (401, 403, 404)})
    async def list_applications(
        self,
        request: Request[Any, Any, Any],
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        trip_id: FromPath[UUID],
        status: ApplicationStatusFilter = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[ApplicationPage]:
        """All applications with counts per status and role (organizers with participant
        access); each read is audited."""
        page = await trip_applications.list_applications(
            conn, trip_id, account.account_id, status=status, cursor=cursor, limit=limit
        )
        return Response(
            page,
            headers={
                **_NO_STORE,
                **link_header(request, page.next_cursor),
            },
        )

    @get("/v1/trips/{trip_id:uuid}/applications/mine", opt={"problems": (401, 404)})
    async def get_my_application(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        trip_id: FromPath[UUID],
    ) -> Response[Application]:
        """Your live application to this trip and its status."""
        mine = await trip_applications.get_my_application(conn, trip_id, account.account_id)
        return Response(mine, headers=_NO_STORE)

    @post(
        "/v1/trip-applications/{application_id:uuid}/accept",
        status_code=200,
        opt={"problems": (401, 403, 404, 409)},
    )
    async def accept(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        application_id: FromPath[UUID],
        data: JSONBody[ApplicationDecision | None] = None,
    ) -> Response[Application]:
        """Accept an application (optionally into other roles); refused when the trip is full."""
        roles = data.roles if data is not None else None
        decided = await trip_decisions.decide(
            conn, application_id, account.account_id, "accepted", roles
        )
        return Response(decided, headers=_NO_STORE)

    @post(
        "/v1/trip-applications/{application_id:uuid}/waitlist",
        status_code=200,
        opt={"problems": (401, 403, 404, 409)},
    )
    async def waitlist(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        application_id: FromPath[UUID],
    ) -> Response[Application]:
        """Put an application on the waitlist (served oldest first when a place frees)."""
        decided = await trip_decisions.decide(
            conn, application_id, account.account_id, "waitlisted"
        )
        return Response(decided, headers=_NO_STORE)

    @post(
        "/v1/trip-applications/{application_id:uuid}/decline",
        status_code=200,
        opt={"problems": (401, 403, 404, 409)},
    )
    async def decline(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        application_id: FromPath[UUID],
    ) -> Response[Application]:
        """Decline an application that is applied or waitlisted."""
        decided = await trip_decisions.decide(conn, application_id, account.account_id, "declined")
        return Response(decided, headers=_NO_STORE)

    @post(
        "/v1/trip-applications/{application_id:uuid}/withdraw",
        status_code=200,
        opt={"problems": (401, 403, 404, 409)},
    )
    async def withdraw(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        application_id: FromPath[UUID],
    ) -> Response[Application]:
        """Withdraw your application; an accepted place goes to the waitlist's head."""
        withdrawn = await trip_decisions.withdraw(conn, application_id, account.account_id)
        return Response(withdrawn, headers=_NO_STORE)

    @get(
        "/v1/trip-applications/{application_id:uuid}/participant-data",
        opt={"problems": (401, 403, 404)},
    )
    async def get_participant_data(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        keyring: NamedDependency[Keyring],
        application_id: FromPath[UUID],
    ) -> Response[ParticipantData]:
        """Emergency contact and notes (the participant, and organizers with participant
        access: each of their reads is audited)."""
        data = await trip_participant_data.get_participant_data(
            conn, keyring, application_id, account.account_id
        )
        return Response(data, headers=_NO_STORE)

    @put(
        "/v1/trip-applications/{application_id:uuid}/participant-data",
        opt={"problems": (401, 403, 404, 409)},
    )
    async def put_participant_data(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        keyring: NamedDependency[Keyring],
        application_id: FromPath[UUID],
        data: JSONBody[ParticipantDataPut],
    ) -> Response[ParticipantData]:
        """Replace your emergency contact and notes (encrypted at rest)."""
        stored = await trip_participant_data.put_participant_data(
            conn, keyring, application_id, account.account_id, data
        )
        return Response(stored, headers=_NO_STORE)

    @put(
        "/v1/trip-applications/{application_id:uuid}/checklist/{item_id:uuid}",
        opt={"problems": (401, 403, 404, 409)},
    )
    async def mark_checklist_item(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        application_id: FromPath[UUID],
        item_id: FromPath[UUID],
        data: JSONBody[ChecklistMark],
    ) -> Response[ParticipantChecklist]:
        """Mark a checklist item done or not (the participant, or organizers)."""
        state = await trip_checklists.mark_checklist_item(
            conn, application_id, item_id, account.account_id, data.done
        )
        return Response(state, headers=_NO_STORE)

    @get(
        "/v1/trips/{trip_id:uuid}/roster.csv",
        media_type="text/csv",  # Litestar adds "; charset=utf-8" to text types
        opt={"problems": (401, 403, 404, 422)},
    )
    async def export_roster(
        self,
        conn: NamedDependency[asyncpg.Connection],
        account: NamedDependency[Caller],
        keyring: NamedDependency[Keyring],
        languages: NamedDependency[list[str]],
        trip_id: FromPath[UUID],
        include_emergency_contacts: IncludeEmergencyContacts = False,
        reason: ExportReason = None,
        lang: Lang = None,
    ) -> Response[str]:
        """Accepted participants with roles and checklist state as CSV (organizers with
        participant access); audited. Emergency contacts only on request, with a reason."""
        body = await trip_roster.export_roster(
            conn,
            keyring,
            trip_id,
            account.account_id,
            include_emergency_contacts=include_emergency_contacts,
            reason=reason,
            languages=languages,
        )
        return Response(
            body,
            media_type="text/csv",  # Litestar adds "; charset=utf-8" to text types
            headers={
                **_NO_STORE,
                "Content-Disposition": f'attachment; filename="roster-{trip_id}.csv"',
            },
        )
