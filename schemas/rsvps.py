"""RSVPs: saying you're coming (with or without an account), managing it, organizer views.

No field here asks for a legal name, address, date of birth or immigration status: an alias
is enough, and a contact (email or phone) is optional and sealed at rest.
"""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from msgspec import UNSET, Meta, Struct, UnsetType

from schemas.announcements import Announcement
from schemas.common import NextCursor
from schemas.events import Location
from schemas.notifications import Notification
from schemas.shifts import ShiftCounts, SpotsLeft
from schemas.texts import LanguageTag, ShortTexts

Id = Annotated[UUID, Meta(examples=["5c7e2d1a-3b4f-4c6d-8e9f-0a1b2c3d4e5f"])]
When = Annotated[datetime, Meta(examples=["2026-12-05T17:00:00Z"])]

Alias = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=100,
        pattern=r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f\ufeff][^\x00-\x1f\x7f-\x9f]*$",
        description="Any name you like; an alias or initials are enough",
        examples=["Lupe"],
    ),
]
Contact = Annotated[
    str,
    Meta(
        min_length=3,
        max_length=200,
        pattern=r"^([^@\s\x00-\x1f\x7f-\x9f\ufeff]+@[^@\s\x00-\x1f\x7f-\x9f\ufeff]+\.[^@\s\x00-\x1f\x7f-\x9f\ufeff]+|\+?[0-9][0-9 ().\-]{4,40})$",
        description="Optional email or phone, so organizers can reach you; encrypted at rest",
        examples=["+1 619 555 0100"],
    ),
]
Guests = Annotated[
    int,
    Meta(
        ge=0,
        le=1000,  # the deployment's own maximum is checked by the service (a 422)
        description="People coming with you; places = 1 + guests",
        examples=[2],
        extra_json_schema={"x-maximum-setting": "max_guests_per_rsvp"},
    ),
]
LanguageNeeds = Annotated[
    list[LanguageTag],
    Meta(
        max_length=10,
        description="Languages you need interpretation into (BCP 47 tags)",
        examples=[["es", "mam"]],
    ),
]
RsvpStatus = Annotated[
    Literal["going", "waitlisted", "cancelled", "attended"], Meta(examples=["going"])
]
ShareToken = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=200,
        description="The share token of a private event (from its share link)",
    ),
]


class RsvpCreate(Struct, forbid_unknown_fields=True):
    """Say you're coming, to the event or (with `shift_id`) to one of its shifts."""

    alias: Alias
    contact: Contact | None = None
    guests: Guests = 0
    language_needs: LanguageNeeds = []
    shift_id: UUID | None = None
    share_token: ShareToken | None = None


class RsvpPatch(Struct, forbid_unknown_fields=True):
    """Change your RSVP; omitted fields stay as they are; `contact: null` erases it."""

    alias: Alias | UnsetType = UNSET
    contact: Contact | None | UnsetType = UNSET
    guests: Guests | UnsetType = UNSET
    language_needs: LanguageNeeds | UnsetType = UNSET


class Rsvp(Struct):
    """An RSVP as its owner sees it."""

    id: Id
    event_id: Id
    shift_id: Id | None
    alias: Alias
    guests: Annotated[int, Meta(examples=[2])]
    places: Annotated[int, Meta(description="1 + guests", examples=[3])]
    language_needs: list[str]
    status: RsvpStatus
    waitlist_position: Annotated[
        int | None, Meta(description="1 = next in line; null unless waitlisted", examples=[None])
    ]
    created_at: When
    updated_at: When


class RsvpCreated(Rsvp):
    """The new RSVP and its secret manage link, shown this once (keep it: it is the only way
    to change or cancel without an account)."""

    manage_token: Annotated[str, Meta(examples=["cvn_rsvp_Zm9vYmFy…"])] = ""
    manage_url: Annotated[
        str, Meta(examples=["https://caravan.example/v1/rsvps/manage/cvn_rsvp_Zm9vYmFy…"])
    ] = ""


class EventBrief(Struct):
    """The event an RSVP is for."""

    id: Id
    title: ShortTexts
    display_title: Annotated[str, Meta(examples=["Marcha"])]
    lang: Annotated[str | None, Meta(examples=["es"])]
    starts_at: When
    ends_at: When
    timezone: Annotated[str, Meta(examples=["America/Tijuana"])]
    status: Annotated[str, Meta(examples=["published"])]


class ShiftBrief(Struct):
    """The shift an RSVP is for."""

    id: Id
    name: ShortTexts
    display_name: Annotated[str, Meta(examples=["Observador legal"])]
    role: Annotated[str, Meta(examples=["legal_observer"])]
    starts_at: When
    ends_at: When


class MyRsvp(Struct):
    """One of your RSVPs, with its event."""

    rsvp: Rsvp
    event: EventBrief
    shift: ShiftBrief | None
    manage_url: Annotated[str, Meta(description="The RSVP's manage link (yours to share or not)")]


class MyRsvpPage(Struct):
    """Your RSVPs, soonest event first."""

    items: list[MyRsvp]
    next_cursor: NextCursor = None


class ManageView(Struct):
    """What the manage link shows: your RSVP, the event (with the location as revealed to you),
    the shift, the organizers' announcements and your notifications."""

    rsvp: Rsvp
    event: EventBrief
    location: Annotated[Location, Meta(description="The event's location as revealed to you")]
    shift: ShiftBrief | None
    announcements: list[Announcement]
    notifications: list[Notification]


# ---------------------------------------------------------------- organizer tools


class StatusCount(Struct):
    """RSVPs with a status, and the places (people) they hold."""

    rsvps: Annotated[int, Meta(examples=[12])]
    places: Annotated[int, Meta(description="People (1 + guests each)", examples=[15])]


class AttendeeCounts(Struct):
    """Counts by status."""

    going: StatusCount
    waitlisted: StatusCount
    cancelled: StatusCount
    attended: StatusCount


class Attendee(Struct):
    """An RSVP as organizers see it (only in the attendee list and its export)."""

    id: Id
    alias: Alias
    contact: Annotated[
        str | None, Meta(description="Decrypted; null when none was given or it was purged")
    ]
    guests: Annotated[int, Meta(examples=[2])]
    places: Annotated[int, Meta(description="1 + guests", examples=[3])]
    status: RsvpStatus
    shift_id: Id | None
    shift_name: str | None
    language_needs: list[str]
    has_account: bool
    checked_in_at: When | None
    created_at: When


class AttendeePage(Struct):
    """Attendees in arrival order, with counts for the same filter (shift or event)."""

    items: list[Attendee]
    counts: AttendeeCounts
    next_cursor: NextCursor = None


class LanguageCoverage(Struct):
    """One language at the event: the people who need it against the interpreters for it."""

    language: Annotated[str, Meta(examples=["mam"])]
    needed: Annotated[
        int | None,
        Meta(
            description="People (places) going to the event or any of its shifts who need this "
            "language, each person once. Organizers see the exact figure; the public sees it "
            "only from 5 people on (null below, 0 included), so nobody can be singled out",
            examples=[12],
        ),
    ]
    interpreters: Annotated[
        int,
        Meta(
            description="People going to the event's shifts that interpret this language",
            examples=[2],
        ),
    ]


class EventCounts(Struct):
    """Counts without names: places going and waiting, spots left, language needs against
    interpreters, per shift."""

    event_id: Id
    going: Annotated[int, Meta(examples=[34])]
    waitlisted: Annotated[int, Meta(examples=[0])]
    capacity: Annotated[int | None, Meta(examples=[40])]
    spots_left: SpotsLeft
    language_needs: Annotated[
        dict[str, int],
        Meta(
            description="People (places) going to the event or any of its shifts who need each "
            "language, by tag. Public counts leave out a language fewer than 5 people need",
            examples=[{"es": 12}],
        ),
    ]
    languages: Annotated[
        list[LanguageCoverage],
        Meta(
            description="Each language someone needs or a shift interprets: needs against "
            "interpreters signed up. Public counts list a language only when a shift "
            "interprets it or at least 5 people need it"
        ),
    ]
    shifts: list["ShiftCountsItem"]


class ShiftCountsItem(Struct):
    """One shift's counts."""

    shift_id: Id
    counts: ShiftCounts
