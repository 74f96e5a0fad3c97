"""Solidarity trips: the trip, its itinerary, questions, applications, participant data,
checklists and announcements.

No field asks for a legal name, a document number or immigration status. Emergency contacts
and notes are sealed at rest and shown only to the participant and the trip's organizers.
"""

from typing import Annotated, Any, Literal
from uuid import UUID

from msgspec import UNSET, Meta, Struct, UnsetType, field

from schemas.announcements import AnnouncementBody
from schemas.common import NextCursor, ShortText, Slug, Timezone
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
Role = Annotated[
    Literal["participant", "driver", "interpreter", "medic", "legal_observer", "lead"],
    Meta(examples=["interpreter"]),
]
ROLES: tuple[str, ...] = (
    "participant",
    "driver",
    "interpreter",
    "medic",
    "legal_observer",
    "lead",
)
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
ItemKind = Annotated[
    Literal["travel", "activity", "lodging", "meal", "briefing", "free"],
    Meta(examples=["lodging"]),
]
ItemVisibility = Annotated[
    Literal["everyone", "participants"],
    Meta(
        description=(
            "everyone: whoever sees the trip; participants: only accepted participants and "
            "organizers (e.g. the shelter or the hotel)"
        ),
        examples=["participants"],
    ),
]
QuestionKind = Annotated[
    Literal["text", "single_choice", "multiple_choice"], Meta(examples=["single_choice"])
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


# ---------------------------------------------------------------- the trip


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


# ---------------------------------------------------------------- itinerary


class ItineraryItemCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """A new itinerary item, appended at the end; it must lie within the trip's dates."""

    kind: ItemKind
    title: ShortTexts
    notes: Texts = {}
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    place: Venue | None = None
    area: Area | None = None
    visibility: ItemVisibility = "everyone"


class ItineraryItemPatch(Struct, forbid_unknown_fields=True, kw_only=True):
    """Change an itinerary item; omitted fields stay as they are."""

    kind: ItemKind | UnsetType = UNSET
    title: ShortTexts | UnsetType = UNSET
    notes: Texts | UnsetType = UNSET
    starts_at: AwareDatetime | UnsetType = UNSET
    ends_at: AwareDatetime | UnsetType = UNSET
    place: Venue | None | UnsetType = UNSET
    area: Area | None | UnsetType = UNSET
    visibility: ItemVisibility | UnsetType = UNSET


class ItineraryOrder(Struct, forbid_unknown_fields=True):
    """Every item id of the trip, in the new order."""

    item_ids: Annotated[list[UUID], Meta(min_length=1, max_length=200)]


class ItemDisplay(Struct):
    lang: Annotated[str, Meta(examples=["es"])]
    title: Annotated[str, Meta(description="The title in the chosen language")]
    notes: Annotated[str, Meta(description="The notes in the chosen language")]


class ItineraryItem(Struct, kw_only=True):
    """One step of the trip; its place is as precise as you may know it."""

    id: Annotated[UUID, Meta(description="The itinerary item id")]
    trip_id: Annotated[UUID, Meta(description="The trip it belongs to")]
    position: Annotated[int, Meta(description="1-based order within the trip")]
    kind: ItemKind
    title: ShortTexts
    notes: Texts
    display: ItemDisplay
    starts_at: When
    ends_at: When
    location: Location
    visibility: ItemVisibility
    sequence: Annotated[int, Meta(description="Rises on every change to this item")]
    updated_at: When


class Itinerary(Struct):
    """The items you may see, in order; `trip_sequence` is the trip's calendar sequence."""

    items: list[ItineraryItem]
    trip_sequence: Annotated[
        int, Meta(description="The trip's calendar sequence (rises with every itinerary change)")
    ]


# ---------------------------------------------------------------- questions


class QuestionOption(Struct, forbid_unknown_fields=True):
    """A choice: a stable value (what answers carry) and its label."""

    value: Annotated[
        str, Meta(min_length=1, max_length=50, pattern=r"^[a-z0-9_-]+$", examples=["yes"])
    ]
    label: ShortTexts


class QuestionCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """A question applicants answer; choice questions need options, text ones none."""

    kind: QuestionKind
    prompt: ShortTexts
    options: Annotated[list[QuestionOption], Meta(max_length=30)] = []
    required: bool = False


class Question(Struct, kw_only=True):
    id: Annotated[UUID, Meta(description="The question id")]
    position: Annotated[int, Meta(description="Order in the form (0 first)")]
    kind: QuestionKind
    prompt: ShortTexts
    display_prompt: Annotated[str, Meta(description="The prompt in the caller's language")]
    options: list[QuestionOption]
    required: bool


class QuestionList(Struct):
    items: list[Question]


# ---------------------------------------------------------------- participant data

Phone = Annotated[
    str,
    Meta(
        min_length=3,
        max_length=40,
        pattern=r"^\+?[0-9][0-9 ().\-]{2,39}$",
        examples=["+52 664 555 0100"],
    ),
]
PersonName = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=100,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="An alias is fine",
        examples=["Rosa (sister)"],
    ),
]
Note = Annotated[str, Meta(max_length=2000, pattern=r"^[^\x00]*$", examples=["Vegetarian"])]


class EmergencyContact(Struct, forbid_unknown_fields=True, kw_only=True):
    """Whom to call if something happens; encrypted at rest."""

    name: PersonName
    phone: Phone
    relation: ShortText | None = None


class ParticipantNotes(Struct, forbid_unknown_fields=True, kw_only=True):
    """Optional notes for the organizers; encrypted at rest."""

    medical: Note | None = None
    dietary: Note | None = None
    accessibility: Note | None = None


class ParticipantDataPut(Struct, forbid_unknown_fields=True, kw_only=True):
    """Replace your emergency contact and notes (null removes them)."""

    emergency_contact: EmergencyContact | None = None
    notes: ParticipantNotes | None = None


class ParticipantData(Struct, kw_only=True):
    """A participant's protected data (the participant and the trip's organizers only)."""

    application_id: Annotated[UUID, Meta(description="The participant's application")]
    emergency_contact: EmergencyContact | None
    notes: ParticipantNotes | None
    purged_at: Annotated[
        When | None,
        Meta(description="Set once the data was purged after the trip; it is gone for good"),
    ]


# ---------------------------------------------------------------- applications

AnswerText = Annotated[str, Meta(max_length=5000, pattern=r"^[^\x00]*$")]
AnswerChoices = Annotated[list[Annotated[str, Meta(max_length=50)]], Meta(max_length=30)]
Answers = Annotated[
    dict[Annotated[str, Meta(max_length=36)], AnswerText | AnswerChoices],
    Meta(
        max_length=50,
        description=(
            "Answers keyed by question id: text for text questions, an option value for "
            "single choice, a list of option values for multiple choice"
        ),
        examples=[{"3f1e2d4c-5b6a-4c7d-8e9f-0a1b2c3d4e5f": "yes"}],
    ),
]
Roles = Annotated[list[Role], Meta(min_length=1, max_length=6, examples=[["participant"]])]


class ApplicationCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """Apply to a trip: the roles you offer and your answers; participant data is optional."""

    roles: Roles
    answers: Answers = {}
    emergency_contact: EmergencyContact | None = None
    notes: ParticipantNotes | None = None


class ApplicationDecision(Struct, forbid_unknown_fields=True, kw_only=True):
    """Optional details of an organizer's decision."""

    roles: Annotated[
        Roles | None, Meta(description="Accept into these roles instead of the ones applied for")
    ] = None


class Application(Struct, kw_only=True):
    """An application, as its applicant or the trip's organizers see it."""

    id: Annotated[UUID, Meta(description="The application id")]
    trip_id: Annotated[UUID, Meta(description="The trip applied to")]
    account_id: UUID | None
    display_name: str | None
    status: ApplicationStatus
    roles: list[Role]
    answers: dict[str, Any]
    waitlist_position: Annotated[int | None, Meta(description="1 = next to be promoted")]
    has_participant_data: bool
    data_purged_at: When | None
    decided_at: When | None
    created_at: When
    updated_at: When


class RoleCounts(Struct):
    applied: Annotated[int, Meta(description="Applications applied for this role")]
    accepted: Annotated[int, Meta(description="Applications accepted for this role")]
    waitlisted: Annotated[int, Meta(description="Applications waitlisted for this role")]


class ApplicationCounts(Struct):
    """Applications by status, and by role for the live ones."""

    applied: Annotated[int, Meta(description="Applications applied")]
    accepted: Annotated[int, Meta(description="Applications accepted")]
    waitlisted: Annotated[int, Meta(description="Applications waitlisted")]
    declined: Annotated[int, Meta(description="Applications declined")]
    withdrawn: Annotated[int, Meta(description="Applications withdrawn")]
    by_role: Annotated[
        dict[str, RoleCounts],
        Meta(examples=[{"interpreter": {"applied": 2, "accepted": 1, "waitlisted": 0}}]),
    ]


class ApplicationPage(Struct):
    """Applications in arrival order, with counts over all of them."""

    items: list[Application]
    counts: ApplicationCounts
    next_cursor: NextCursor = None


class MyTrip(Struct):
    """One of your applications and the trip it is for."""

    application: Application
    trip: Trip


class MyTripPage(Struct):
    items: list[MyTrip]
    next_cursor: NextCursor = None


# ---------------------------------------------------------------- checklists


class ChecklistItemCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """Something every accepted participant completes (waiver signed, passport checked)."""

    title: ShortTexts
    description: Texts = {}


class ChecklistItem(Struct, kw_only=True):
    id: Annotated[UUID, Meta(description="The checklist item id")]
    position: Annotated[int, Meta(description="Order in the checklist (0 first)")]
    title: ShortTexts
    description: Texts
    display_title: Annotated[str, Meta(description="The title in the caller's language")]


class ChecklistMark(Struct, forbid_unknown_fields=True):
    """Mark an item done or not done for one participant."""

    done: bool


class ChecklistEntry(Struct):
    """One item for one participant."""

    item_id: Annotated[UUID, Meta(description="The checklist item")]
    done: bool
    completed_at: When | None


class ParticipantChecklist(Struct):
    """One accepted participant's checklist state."""

    application_id: Annotated[UUID, Meta(description="The participant's application")]
    display_name: str | None
    roles: list[Role]
    entries: list[ChecklistEntry]
    outstanding: Annotated[int, Meta(description="Items not done yet")]


class Checklist(Struct):
    """The items; organizers get every accepted participant, a participant only their own."""

    items: list[ChecklistItem]
    participants: list[ParticipantChecklist]


# ---------------------------------------------------------------- announcements


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
