"""Shifts: volunteer slots within an event, each with its own time, capacity and counts."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from msgspec import UNSET, Meta, Struct, UnsetType

from schemas.common import NextCursor
from schemas.texts import LanguageTag, ShortTexts

Id = Annotated[UUID, Meta(examples=["5c7e2d1a-3b4f-4c6d-8e9f-0a1b2c3d4e5f"])]
When = Annotated[datetime, Meta(examples=["2026-12-05T17:00:00Z"])]

ShiftRole = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=50,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="What the volunteers do (marshal, legal observer, medic, interpreter, driver…)",
        examples=["legal_observer"],
    ),
]
Moment = Annotated[
    datetime,
    Meta(
        tz=True, description="A moment with its UTC offset", examples=["2026-12-05T10:00:00-08:00"]
    ),
]
Places = Annotated[int, Meta(ge=0, le=1_000_000, examples=[10])]
ShiftLanguage = Annotated[
    LanguageTag,
    Meta(
        description="The language this shift interprets into: the people signed up for it are "
        "the event's interpreters for that language. Null for other shifts",
        examples=["mam"],
    ),
]
SpotsLeft = Annotated[
    int | None,
    Meta(
        description="Places a newcomer can take right now. The waitlist is served strictly in "
        "arrival order, so this is 0 while anyone who fits the capacity is waiting (free places "
        "are held for the first in line); null when unlimited",
        examples=[3],
    ),
]


class ShiftCreate(Struct, forbid_unknown_fields=True):
    """A new shift; `capacity` null means unlimited, `staffing_target` is how many are needed,
    `language` makes its volunteers the event's interpreters for that language."""

    name: ShortTexts
    starts_at: Moment
    ends_at: Moment
    role: ShiftRole = "volunteer"
    capacity: Places | None = None
    staffing_target: Places | None = None
    language: ShiftLanguage | None = None


class ShiftPatch(Struct, forbid_unknown_fields=True):
    """Change a shift; omitted fields stay as they are."""

    name: ShortTexts | UnsetType = UNSET
    starts_at: Moment | UnsetType = UNSET
    ends_at: Moment | UnsetType = UNSET
    role: ShiftRole | UnsetType = UNSET
    capacity: Places | None | UnsetType = UNSET
    staffing_target: Places | None | UnsetType = UNSET
    language: ShiftLanguage | None | UnsetType = UNSET


class ShiftCounts(Struct):
    """Counts only, never names: places taken and waiting, and how many are still needed."""

    going: Annotated[int, Meta(examples=[2])]
    waitlisted: Annotated[int, Meta(examples=[0])]
    spots_left: SpotsLeft
    staffing_target: Annotated[int | None, Meta(examples=[5])]
    still_needed: Annotated[
        int | None, Meta(description="staffing_target minus going, at least 0", examples=[3])
    ]


class Shift(Struct):
    """A shift, with its name in every language given and the one chosen for the caller."""

    id: Id
    event_id: Id
    name: ShortTexts
    display_name: Annotated[str, Meta(examples=["Observador legal"])]
    lang: Annotated[str | None, Meta(description="The language of display_name", examples=["es"])]
    role: ShiftRole
    starts_at: When
    ends_at: When
    capacity: Annotated[int | None, Meta(description="null = unlimited", examples=[5])]
    staffing_target: Annotated[int | None, Meta(examples=[5])]
    language: ShiftLanguage | None
    counts: Annotated[
        ShiftCounts | None, Meta(description="null when the event hides counts from you")
    ]
    created_at: When
    updated_at: When


class ShiftPage(Struct):
    """An event's shifts, by start time."""

    items: list[Shift]
    next_cursor: NextCursor = None
