"""Events (with co-hosts, share links and series): what organizers send and what callers see."""

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from msgspec import UNSET, Meta, Struct, UnsetType

from schemas.common import LongText, NextCursor, ShortText, Slug, Timezone, Url
from schemas.feeds import FeedLinks
from schemas.texts import LanguageTag, ShortTexts, Texts

Kind = Annotated[
    Literal["rally", "march", "vigil", "training", "meeting", "rapid_response", "other"],
    Meta(description="What sort of action this is", examples=["vigil"]),
]
Visibility = Annotated[
    Literal["public", "members", "private"],
    Meta(
        description="public: anyone; members: members of a hosting org; private: share link only",
        examples=["public"],
    ),
]
Status = Annotated[
    Literal["draft", "published", "cancelled", "postponed"],
    Meta(
        description="postponed = new date not known yet; cancelled is final", examples=["published"]
    ),
]
LocationPolicy = Annotated[
    Literal["public", "attendees", "reveal_at"],
    Meta(
        description=(
            "public: everyone sees the venue; attendees: only confirmed attendees (and organizers) "
            "do; reveal_at: confirmed attendees from `reveal_at` on. Others see the `area`."
        ),
        examples=["attendees"],
    ),
]
Precision = Annotated[
    Literal["exact", "area"],
    Meta(
        description="exact: the venue itself; area: only a coarse area, lat/lon on a ~5 km grid",
        examples=["area"],
    ),
]
AwareDatetime = Annotated[
    datetime,
    Meta(tz=True, description="RFC 3339 with an offset", examples=["2026-12-05T10:00:00-08:00"]),
]
Latitude = Annotated[float, Meta(ge=-90, le=90, examples=[32.5332])]
Longitude = Annotated[float, Meta(ge=-180, le=180, examples=[-117.0382])]
Capacity = Annotated[
    int,
    Meta(ge=0, le=1_000_000, description="Places (1 + guests per RSVP)", examples=[120]),
]
Area = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00]*$",
        description="A coarse public label for where it happens",
        examples=["Downtown Tijuana"],
    ),
]
VenueName = Annotated[
    str,
    Meta(min_length=1, max_length=200, pattern=r"^[^\x00]*$", examples=["Plaza Santa Cecilia"]),
]
Tag = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=50,
        pattern=r"^[^\x00-\x1f\x7f,]+$",
        description="A free label (stored in lower case)",
        examples=["asylum"],
    ),
]
Tags = Annotated[list[Tag], Meta(max_length=20)]
Languages = Annotated[
    list[LanguageTag],
    Meta(
        min_length=1,
        max_length=20,
        description="Languages of the event, first = default; defaults to the title's languages",
        examples=[["es", "en"]],
    ),
]
EventId = Annotated[UUID, Meta(examples=["0f8e2c4a-1b3d-4e5f-8a9b-0c1d2e3f4a5b"])]
When = Annotated[datetime, Meta(examples=["2026-12-05T18:00:00Z"])]


class Venue(Struct, forbid_unknown_fields=True, kw_only=True):
    """Where the event happens exactly; hidden from most callers under a protected policy."""

    name: VenueName | None = None
    address: ShortText | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None


class EventCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """A new event; it starts as a draft until published."""

    kind: Kind
    title: ShortTexts
    summary: Texts = {}
    description: Texts = {}
    languages: Languages | None = None
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    timezone: Timezone
    venue: Venue | None = None
    area: Area | None = None
    virtual_url: Url | None = None
    visibility: Visibility = "public"
    capacity: Capacity | None = None
    location_policy: LocationPolicy = "public"
    reveal_at: AwareDatetime | None = None
    tags: Tags = []
    accessibility_notes: LongText | None = None
    contact: ShortText | None = None
    hide_counts: bool = False


class EventPatch(Struct, forbid_unknown_fields=True, kw_only=True):
    """Change an event; omitted fields stay as they are. New times republish a postponed event."""

    kind: Kind | UnsetType = UNSET
    title: ShortTexts | UnsetType = UNSET
    summary: Texts | UnsetType = UNSET
    description: Texts | UnsetType = UNSET
    languages: Languages | UnsetType = UNSET
    starts_at: AwareDatetime | UnsetType = UNSET
    ends_at: AwareDatetime | UnsetType = UNSET
    timezone: Timezone | UnsetType = UNSET
    venue: Venue | None | UnsetType = UNSET
    area: Area | None | UnsetType = UNSET
    virtual_url: Url | None | UnsetType = UNSET
    visibility: Visibility | UnsetType = UNSET
    capacity: Capacity | None | UnsetType = UNSET
    location_policy: LocationPolicy | UnsetType = UNSET
    reveal_at: AwareDatetime | None | UnsetType = UNSET
    tags: Tags | UnsetType = UNSET
    accessibility_notes: LongText | None | UnsetType = UNSET
    contact: ShortText | None | UnsetType = UNSET
    hide_counts: bool | UnsetType = UNSET


class EventCancel(Struct, forbid_unknown_fields=True):
    """Why the event is cancelled (shown to everyone who was coming)."""

    reason: Annotated[
        str,
        Meta(
            min_length=1,
            max_length=2000,
            pattern=r"^[^\x00]*\S[^\x00]*$",
            examples=["Storm warning"],
        ),
    ]


class Display(Struct):
    """The texts in the language chosen for the caller (`lang`, else Accept-Language)."""

    lang: Annotated[str, Meta(examples=["es"])]
    title: Annotated[str, Meta(description="The title in the chosen language")]
    summary: Annotated[str, Meta(description="The summary in the chosen language")]
    description: Annotated[str, Meta(description="The description in the chosen language")]


class Location(Struct):
    """Where, as far as this caller may know: `precision` says whether it is exact."""

    precision: Precision
    area: Area | None
    name: str | None
    address: str | None
    lat: float | None
    lon: float | None
    virtual_url: Url | None


class Counts(Struct):
    """Places (1 + guests) by status; no names. Null when the organizers hide counts."""

    going: Annotated[int, Meta(examples=[34])]
    waitlisted: Annotated[int, Meta(examples=[0])]
    spots_left: Annotated[
        int | None,
        Meta(
            description="Places a newcomer can take right now: 0 while anyone who fits is "
            "waiting (the waitlist is served strictly in arrival order); null without a capacity",
            examples=[6],
        ),
    ]
    language_needs: Annotated[
        dict[str, int],
        Meta(
            description="People (places) going to the event or any of its shifts who asked "
            "for each language. Organizers see every language; others only those at least 5 "
            "people asked for, so nobody can be singled out",
            examples=[{"mam": 5}],
        ),
    ] = {}


class EventLinks(Struct):
    self: Annotated[str, Meta(examples=["/v1/events/0f8e2c4a-1b3d-4e5f-8a9b-0c1d2e3f4a5b"])]
    org: Annotated[str, Meta(examples=["/v1/orgs/frontera-unida"])]
    series: str | None = None


class Event(Struct, kw_only=True):
    """An event as this caller may see it (never any attendee's data)."""

    id: EventId
    org: Slug
    cohosts: list[Slug]
    kind: Kind
    title: ShortTexts
    summary: Texts
    description: Texts
    languages: list[str]
    display: Display
    starts_at: When
    ends_at: When
    timezone: Timezone
    location: Location
    visibility: Visibility
    status: Status
    cancel_reason: str | None
    capacity: int | None
    counts: Counts | None
    hide_counts: bool
    location_policy: LocationPolicy
    reveal_at: When | None
    tags: list[str]
    accessibility_notes: str | None
    contact: str | None
    series_id: UUID | None
    series_index: int | None
    sequence: Annotated[int, Meta(description="Rises on every change a calendar shows")]
    change_seq: Annotated[int, Meta(description="Monotonic change counter (partner sync)")]
    created_at: When
    updated_at: When
    published_at: When | None
    share_url: Annotated[
        str | None,
        Meta(
            description="Private events: the share link, returned once to organizers on create or rotation"
        ),
    ] = None
    distance_km: Annotated[
        float | None, Meta(description="With `near`: great-circle distance to the public point")
    ] = None
    links: EventLinks
    feeds: Annotated[
        FeedLinks | None,
        Meta(
            description="Subscribe links to this event's calendar feed: public events, and "
            "private ones when the share link is known; null otherwise"
        ),
    ] = None


class EventPage(Struct):
    """A page of events."""

    items: list[Event]
    next_cursor: NextCursor = None


class CohostAdd(Struct, forbid_unknown_fields=True):
    """Invite an organization to co-host; once one of its organizers accepts, its organizers
    may edit the event and it shows as a host. Accepted at once when the inviting caller is an
    organizer of that organization too."""

    org: Slug
    can_see_attendees: bool = False


CohostStatus = Annotated[
    Literal["pending", "accepted"],
    Meta(
        description=(
            "pending: invited, shown nowhere and without rights until an organizer of that "
            "organization accepts; accepted: a co-host"
        ),
        examples=["accepted"],
    ),
]


class Cohost(Struct):
    """A co-hosting organization, or one invited to co-host."""

    org: Slug
    name: Annotated[str, Meta(description="The co-hosting organization's name")]
    can_see_attendees: bool
    created_at: When
    status: CohostStatus = "accepted"


class CohostList(Struct):
    items: list[Cohost]


Frequency = Annotated[Literal["weekly", "monthly"], Meta(examples=["weekly"])]


class SeriesCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """A recurring event: the template is the first occurrence; until a date and/or a count."""

    template: EventCreate
    frequency: Frequency
    interval: Annotated[int, Meta(ge=1, le=12, description="Every n weeks or months")] = 1
    until_date: Annotated[
        date | None, Meta(description="Last possible date (local)", examples=["2027-03-31"])
    ] = None
    count: Annotated[int, Meta(ge=1, le=200, examples=[12])] | None = None
    publish: Annotated[bool, Meta(description="Publish every occurrence at once")] = False


class Series(Struct, kw_only=True):
    """A series and its occurrences (those this caller may see)."""

    id: Annotated[UUID, Meta(description="The series id")]
    org: Slug
    frequency: Frequency
    interval: Annotated[int, Meta(description="Every how many weeks or months")]
    until_date: date | None
    count: int | None
    timezone: Timezone
    created_at: When
    updated_at: When
    occurrences: list[Event]
