"""Solidarity trips: the trip, its shared field types, and its announcements.

The itinerary is in schemas/itinerary.py; questions, applications, participant data and
checklists in schemas/trip_applications.py.
"""

from typing import Annotated, Literal
from uuid import UUID

from msgspec import UNSET, Meta, Struct, UnsetType, field

from schemas.announcements import AnnouncementBody
from schemas.common import NextCursor, Slug, Timezone
from schemas.events import Area, AwareDatetime, Location, Venue, When
from schemas.feeds import FeedLinks
from schemas.texts import LanguageTag, ShortTexts, Texts

TripStatus = Annotated[
    Literal["draft", "open", "full", "closed", "cancelled", "completed"],
    Meta(
        description=(
            "draft: organizers only; open: taking applications; full: every place taken (flips "
            "back to open when one frees); closed: no new applications; cancelled is final; "
            "completed: the trip happened"
        ),
        examples=["open"],
    ),
]
TripVisibility = Annotated[
    Literal["public", "members"],
    Meta(
        description="public: anyone; members: members of a hosting org (others get a 404)",
        examples=["public"],
    ),
]
TripLocationPolicy = Annotated[
    Literal["public", "attendees", "reveal_at"],
    Meta(
        description=(
            "Who sees the exact meeting point and itinerary places. public: everyone; "
            "attendees: accepted participants and organizers; reveal_at: accepted participants "
            "from `reveal_at` on. Everyone else sees the `area` and a point on a ~5 km grid."
        ),
        examples=["attendees"],
    ),
]
ApplicationStatus = Annotated[
    Literal["applied", "accepted", "waitlisted", "declined", "withdrawn"],
    Meta(
        description=(
            "applied → accepted | waitlisted | declined (organizers); waitlisted → accepted "
            "(organizers, or promotion when a place frees); withdrawn by the applicant"
        ),
        examples=["accepted"],
    ),
]
Capacity = Annotated[int, Meta(ge=0, le=1000, description="Places on the trip", examples=[12])]
Amount = Annotated[
    str,
    Meta(
        pattern=r"^[0-9]{1,10}(\.[0-9]{1,2})?$",
        description="A decimal amount as a string (at most 2 decimals)",
        examples=["350.00"],
    ),
]
Currency = Annotated[
    str, Meta(pattern=r"^[A-Z]{3}$", description="ISO 4217 code", examples=["USD"])
]
Requirements = Annotated[
    list[ShortTexts],
    Meta(
        max_length=20,
        description="What participants need, each in one or more languages",
        examples=[[{"en": "Passport needed", "es": "Se necesita pasaporte"}]],
    ),
]
Languages = Annotated[
    list[LanguageTag],
    Meta(
        min_length=1,
        max_length=20,
        description="Languages of the trip, first = default; defaults to the title's languages",
        examples=[["es", "en"]],
    ),
]
TripId = Annotated[UUID, Meta(examples=["7d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d"])]
Reason = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=2000,
        pattern=r"^[^\x00]*\S[^\x00]*$",
        examples=["The crossing is closed this week"],
    ),
]


class Cost(Struct, forbid_unknown_fields=True, kw_only=True):
    """What the trip costs a participant, and whether help is available."""

    amount: Amount | None = None
    currency: Currency | None = None
    scholarships_available: bool = False
    notes: Texts = {}


class TripCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """A new trip; it starts as a draft until opened for applications."""

    title: ShortTexts
    summary: Texts = {}
    description: Texts = {}
    languages: Languages | None = None
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    timezone: Timezone
    meeting_point: Venue | None = None
    area: Area | None = None
    location_policy: TripLocationPolicy = "attendees"
    reveal_at: AwareDatetime | None = None
    capacity: Capacity
    application_deadline: AwareDatetime | None = None
    cost: Cost = field(default_factory=Cost)
    visibility: TripVisibility = "public"
    requirements: Requirements = []
    promote_from_waitlist: Annotated[
        bool,
        Meta(description="When an accepted participant withdraws, accept the oldest waitlisted"),
    ] = True


class TripPatch(Struct, forbid_unknown_fields=True, kw_only=True):
    """Change a trip; omitted fields stay as they are."""

    title: ShortTexts | UnsetType = UNSET
    summary: Texts | UnsetType = UNSET
    description: Texts | UnsetType = UNSET
    languages: Languages | UnsetType = UNSET
    starts_at: AwareDatetime | UnsetType = UNSET
    ends_at: AwareDatetime | UnsetType = UNSET
    timezone: Timezone | UnsetType = UNSET
    meeting_point: Venue | None | UnsetType = UNSET
    area: Area | None | UnsetType = UNSET
    location_policy: TripLocationPolicy | UnsetType = UNSET
    reveal_at: AwareDatetime | None | UnsetType = UNSET
    capacity: Capacity | UnsetType = UNSET
    application_deadline: AwareDatetime | None | UnsetType = UNSET
    cost: Cost | UnsetType = UNSET
    visibility: TripVisibility | UnsetType = UNSET
    requirements: Requirements | UnsetType = UNSET
    promote_from_waitlist: bool | UnsetType = UNSET


class TripCancel(Struct, forbid_unknown_fields=True):
    """Why the trip is cancelled (told to every applicant)."""

    reason: Reason


class TripDisplay(Struct):
    """The texts in the language chosen for the caller (`lang`, else Accept-Language)."""

    lang: Annotated[str, Meta(examples=["es"])]
    title: Annotated[str, Meta(description="The title in the chosen language")]
    summary: Annotated[str, Meta(description="The summary in the chosen language")]
    description: Annotated[str, Meta(description="The description in the chosen language")]
    requirements: list[str]
    cost_notes: Annotated[str, Meta(description="Cost notes in the chosen language")]


class MyApplicationRef(Struct):
    """The caller's own live application to this trip."""

    id: Annotated[UUID, Meta(description="Your application id")]
    status: ApplicationStatus


class TripLinks(Struct):
    self: Annotated[str, Meta(examples=["/v1/trips/7d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d"])]
    org: Annotated[str, Meta(examples=["/v1/orgs/frontera-unida"])]
    itinerary: Annotated[str, Meta(description="The trip's itinerary")]
    applications: Annotated[str, Meta(description="Where to apply or list applications")]


class Trip(Struct, kw_only=True):
    """A trip as this caller may see it (never any applicant's data)."""

    id: TripId
    org: Slug
    cohosts: list[Slug]
    title: ShortTexts
    summary: Texts
    description: Texts
    languages: list[str]
    display: TripDisplay
    starts_at: When
    ends_at: When
    timezone: Timezone
    location: Annotated[
        Location, Meta(description="The meeting point, as precise as you may know it")
    ]
    location_policy: TripLocationPolicy
    reveal_at: When | None
    visibility: TripVisibility
    status: TripStatus
    cancel_reason: str | None
    capacity: Annotated[int, Meta(description="Places on the trip")]
    places_taken: Annotated[int, Meta(description="Accepted participants")]
    spots_left: Annotated[int, Meta(description="Places still free")]
    application_deadline: When | None
    accepting_applications: Annotated[
        bool, Meta(description="Open (or full, for the waitlist) and before the deadline")
    ]
    cost: Cost
    requirements: list[ShortTexts]
    promote_from_waitlist: bool
    my_application: MyApplicationRef | None
    sequence: Annotated[int, Meta(description="Rises on every change a calendar shows")]
    change_seq: Annotated[int, Meta(description="Monotonic change counter (partner sync)")]
    created_at: When
    updated_at: When
    links: TripLinks
    feeds: Annotated[
        FeedLinks | None,
        Meta(description="Subscribe links to the trip's calendar feed (public trips; else null)"),
    ] = None


class TripPage(Struct):
    """A page of trips."""

    items: list[Trip]
    next_cursor: NextCursor = None


class TripAnnouncementCreate(Struct, forbid_unknown_fields=True):
    """An update for every accepted participant; it lands in each one's inbox."""

    body: AnnouncementBody


class TripAnnouncement(Struct, kw_only=True):
    id: Annotated[UUID, Meta(description="The announcement id")]
    trip_id: Annotated[UUID, Meta(description="The trip it belongs to")]
    body: AnnouncementBody
    display_body: Annotated[str, Meta(description="The body in the caller's language")]
    lang: str | None
    created_at: When
    recipients: Annotated[
        int | None, Meta(description="On posting: how many inboxes it reached")
    ] = None


class TripAnnouncementPage(Struct):
    """The trip's announcements, newest first."""

    items: list[TripAnnouncement]
    next_cursor: NextCursor = None
