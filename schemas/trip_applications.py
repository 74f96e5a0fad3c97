"""Taking part in a trip: its questions, applications, participant data and checklists.

No field asks for a legal name, a document number or immigration status. Emergency contacts
and notes are sealed at rest and shown only to the participant and the trip's organizers.
"""

from typing import Annotated, Any, Literal
from uuid import UUID

from msgspec import Meta, Struct

from schemas.common import NextCursor, ShortText
from schemas.events import When
from schemas.texts import ShortTexts, Texts
from schemas.trips import ApplicationStatus, Trip

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
QuestionKind = Annotated[
    Literal["text", "single_choice", "multiple_choice"], Meta(examples=["single_choice"])
]


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
