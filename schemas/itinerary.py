"""A trip's itinerary: its items in order, each with a place as precise as the reader may know."""

from typing import Annotated, Literal
from uuid import UUID

from msgspec import UNSET, Meta, Struct, UnsetType

from schemas.events import Area, AwareDatetime, Location, Venue, When
from schemas.texts import ShortTexts, Texts

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
