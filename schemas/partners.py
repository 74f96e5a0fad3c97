"""Partners: API keys, the incremental sync feed with tombstones, and the OSDI view.

Nothing here carries attendee data: events as anyone may see them, and counts by status.
"""

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import Meta, Struct

from schemas.common import NextCursor, Slug
from schemas.events import Kind, Location, Status
from schemas.texts import ShortTexts, Texts

Scope = Annotated[
    Literal["events:read", "events:counts", "webhooks:manage", "imports:manage"],
    Meta(
        description=(
            "events:read: the sync feed and OSDI view of the org's public events; events:counts: "
            "also counts by status (needs events:read); webhooks:manage: the org's webhook "
            "endpoints; imports:manage: the org's calendar imports"
        ),
        examples=["events:read"],
    ),
]
KeyName = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=100,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="What the key is for, so it can be recognised later",
        examples=["Coalition website"],
    ),
]
When = Annotated[datetime, Meta(examples=["2026-12-05T18:00:00Z"])]
Id = Annotated[UUID, Meta(examples=["0f8e2c4a-1b3d-4e5f-8a9b-0c1d2e3f4a5b"])]


class ApiKeyCreate(Struct, forbid_unknown_fields=True):
    """A new partner API key for the org (owners only)."""

    name: KeyName
    scopes: Annotated[list[Scope], Meta(min_length=1, max_length=4)]


class ApiKey(Struct, kw_only=True):
    """A partner API key; the secret itself is shown only once, at creation."""

    id: Id
    name: KeyName
    hint: Annotated[
        str,
        Meta(description="The key's first characters, to recognise it", examples=["cvn_key_Ab3x…"]),
    ]
    scopes: list[Scope]
    created_at: When
    last_used_on: Annotated[
        date | None, Meta(description="Day of the last use (no time)", examples=["2026-12-05"])
    ]
    revoked_at: When | None


class ApiKeyCreated(Struct, kw_only=True):
    """The new key and its secret: store the secret now, it is never shown again."""

    key: Annotated[
        str,
        Meta(
            description="Send as `Authorization: Bearer <key>`",
            examples=["cvn_key_3q2-7wHk1bQ0mZp8fV9yXc4tR6uJ5nL2aS1dF0gH7jK"],
        ),
    ]
    api_key: ApiKey


class ApiKeyPage(Struct):
    """The org's API keys, revoked ones included."""

    items: list[ApiKey]
    next_cursor: NextCursor = None


# ---------------------------------------------------------------- sync


class StatusCounts(Struct):
    """Places (1 + guests) by RSVP status; never who."""

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


class PartnerEvent(Struct, kw_only=True):
    """An event as the public sees it, at its latest change."""

    id: Id
    org: Slug
    cohosts: list[Slug]
    kind: Kind
    title: ShortTexts
    summary: Texts
    description: Texts
    languages: list[str]
    starts_at: When
    ends_at: When
    timezone: Annotated[str, Meta(examples=["America/Tijuana"])]
    location: Location
    status: Status
    cancel_reason: Annotated[str | None, Meta(examples=[None])]
    capacity: Annotated[int | None, Meta(examples=[120])]
    tags: list[str]
    accessibility_notes: Annotated[str | None, Meta(examples=["Step-free access"])]
    contact: Annotated[str | None, Meta(description="The event's public contact", examples=[None])]
    imported: Annotated[bool, Meta(description="Mirrored from a partner's calendar")]
    sequence: Annotated[int, Meta(description="Rises on every change a calendar shows")]
    change_seq: Annotated[int, Meta(description="The change counter at this change")]
    updated_at: When
    url: Annotated[str, Meta(examples=["https://caravan.example/v1/events/0f8e2c4a-…"])]
    counts: Annotated[
        StatusCounts | None,
        Meta(description="Only for keys with events:counts, and when the event shows counts"),
    ] = None


TombstoneReason = Annotated[
    Literal["deleted", "not_public", "org_removed", "unpublished"],
    Meta(
        description=(
            "Tombstones only. deleted: the event is gone; not_public: made members-only or "
            "private; org_removed: the key's org no longer hosts or co-hosts it"
        ),
        examples=["not_public"],
    ),
]


class PartnerChange(Struct, kw_only=True, omit_defaults=True):
    """One change: the event at its latest state, or a tombstone (`deleted: true` and a
    `reason`) for an event the key may no longer show — remove your copy."""

    id: Id
    deleted: Annotated[bool, Meta(description="true: a tombstone; false: `event` is present")]
    change_seq: Annotated[int, Meta(description="The change counter at this change")]
    reason: TombstoneReason | None = None
    event: PartnerEvent | None = None


class PartnerEventPage(Struct):
    """Changes after the cursor, oldest first; poll again with `next_cursor`."""

    items: list[PartnerChange]
    next_cursor: Annotated[
        str,
        Meta(description="Pass as `since` next time (also when this page is empty)"),
    ]
    has_more: Annotated[bool, Meta(description="More changes are ready now; ask again at once")]


# ---------------------------------------------------------------- OSDI (HAL+JSON)


class OsdiLink(Struct):
    href: Annotated[str, Meta(examples=["https://caravan.example/v1/osdi/events"])]


class OsdiGeo(Struct):
    """Coordinates; `accuracy` is Approximate for a protected location (a ~5 km grid point)."""

    latitude: Annotated[float, Meta(examples=[32.55])]
    longitude: Annotated[float, Meta(examples=[-117.05])]
    accuracy: Annotated[Literal["Rooftop", "Approximate"], Meta(examples=["Approximate"])]


class OsdiLocation(Struct, omit_defaults=True):
    """Where: `public` false means only the coarse area is given."""

    public: bool
    venue: Annotated[str | None, Meta(examples=["Plaza Santa Cecilia"])] = None
    address_lines: list[str] = []
    locality: Annotated[str | None, Meta(examples=["Downtown Tijuana"])] = None
    location: OsdiGeo | None = None


class OsdiContact(Struct):
    """The event's public contact only."""

    additional_info: Annotated[str, Meta(examples=["info@frontera-unida.example"])]
    public: bool = True


class OsdiEventLinks(Struct):
    self: OsdiLink


class OsdiEvent(Struct, kw_only=True, omit_defaults=True):
    """One OSDI event: a whole event, or one shift of an event that has shifts."""

    identifiers: Annotated[
        list[str], Meta(examples=[["caravan:0f8e2c4a-1b3d-4e5f-8a9b-0c1d2e3f4a5b"]])
    ]
    origin_system: Annotated[str, Meta(examples=["Caravan"])]
    created_date: When
    modified_date: When
    title: Annotated[str, Meta(examples=["Vigil for families"])]
    name: Annotated[str, Meta(examples=["Vigil for families"])]
    description: Annotated[str, Meta(examples=["We gather at the plaza."])]
    summary: Annotated[str, Meta(examples=["A vigil"])]
    browser_url: Annotated[str, Meta(examples=["https://caravan.example/v1/events/0f8e…"])]
    type: Annotated[Literal["open"], Meta(examples=["open"])]
    status: Annotated[Literal["confirmed", "tentative", "cancelled"], Meta(examples=["confirmed"])]
    visibility: Annotated[Literal["public"], Meta(examples=["public"])]
    start_date: Annotated[str, Meta(examples=["2026-12-05T10:00:00-08:00"])]
    end_date: Annotated[str, Meta(examples=["2026-12-05T12:00:00-08:00"])]
    all_day: bool
    capacity: Annotated[int | None, Meta(examples=[40])] = None
    total_accepted: Annotated[
        int | None, Meta(description="Places going; only for keys with events:counts")
    ] = None
    location: OsdiLocation | None = None
    contact: OsdiContact | None = None
    links: OsdiEventLinks = msgspec.field(name="_links")


class OsdiPageLinks(Struct, omit_defaults=True):
    self: OsdiLink
    next: OsdiLink | None = None


class OsdiEmbedded(Struct):
    events: list[OsdiEvent] = msgspec.field(name="osdi:events")


class OsdiEventPage(Struct, kw_only=True):
    """A HAL+JSON page of OSDI events (`_links.next` leads on)."""

    per_page: Annotated[int, Meta(examples=[25])]
    links: OsdiPageLinks = msgspec.field(name="_links")
    embedded: OsdiEmbedded = msgspec.field(name="_embedded")
