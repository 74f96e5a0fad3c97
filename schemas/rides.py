"""Carpools: ride offers, ride requests and seat bookings, as each caller may see them.

Nobody's contact data or home address is ever in a public view. Everyone who may see the
event or trip sees an offer's driver display name and departure area (a label and a point on
a ~2 km grid). Only the driver and riders with a confirmed booking see the exact pickup
point and the contact channel the driver chose to share.
"""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from msgspec import UNSET, Meta, Struct, UnsetType

from schemas.common import NextCursor
from schemas.events import Area, AwareDatetime, Latitude, Longitude, When

Leg = Annotated[
    Literal["outbound", "return"],
    Meta(description="outbound: to the event or trip; return: the way back", examples=["outbound"]),
]
OfferStatus = Annotated[
    Literal["open", "full", "cancelled", "completed"],
    Meta(
        description=(
            "open: a seat is free on some leg; full: no leg has a free seat (flips back to open "
            "when one frees); cancelled is final (every booking released); completed: the ride "
            "has left"
        ),
        examples=["open"],
    ),
]
BookingStatus = Annotated[
    Literal["requested", "confirmed", "declined", "cancelled"],
    Meta(
        description=(
            "requested → confirmed | declined (the driver; auto-confirm offers confirm at once); "
            "requested or confirmed → cancelled (the rider, the driver removing the rider, or the "
            "ride being cancelled)"
        ),
        examples=["confirmed"],
    ),
]
RequestStatus = Annotated[
    Literal["open", "matched", "cancelled"],
    Meta(
        description="matched while the rider holds a confirmed booking on that leg",
        examples=["open"],
    ),
]
EndedBy = Annotated[
    Literal["rider", "driver", "ride"],
    Meta(
        description="Who cancelled: the rider, the driver (removed the rider), or the ride itself",
        examples=["rider"],
    ),
]
CancelReason = Literal["driver", "event_cancelled", "trip_cancelled"]
Accessibility = Annotated[
    Literal["wheelchair", "step_free", "child_seat", "service_animal", "quiet"],
    Meta(examples=["wheelchair"]),
]
AccessibilityFlags = Annotated[list[Accessibility], Meta(max_length=5)]
OfferSeats = Annotated[int, Meta(ge=1, le=15, description="Seats offered", examples=[4])]
Seats = Annotated[int, Meta(ge=1, le=8, description="Seats for you and your party", examples=[1])]
Notes = Annotated[
    str,
    Meta(
        max_length=1000,
        pattern=r"^[^\x00]*$",
        description="Public notes: languages spoken, luggage, what fits",
        examples=["Spanish/English; wheelchair fits in the back"],
    ),
]
ContactChannel = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00]*$",
        description="How confirmed riders reach you (encrypted; only they see it)",
        examples=["Signal: @driver.ana"],
    ),
]
PickupAddress = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=300,
        pattern=r"^[^\x00]*$",
        examples=["Corner of Calle 3 and Av. Madero, in front of the pharmacy"],
    ),
]
PickupDetails = Annotated[
    str, Meta(max_length=500, pattern=r"^[^\x00]*$", examples=["Grey van; I wait 10 minutes"])
]
DistanceKm = Annotated[
    float | None,
    Meta(
        description="With `near`: great-circle distance in km from that point to the area point",
        examples=[3.41],
    ),
]
OfferId = Annotated[UUID, Meta(examples=["3b0d6c2e-8f1a-4e7b-9c5d-2a4f6e8b0c1d"])]
BookingId = Annotated[UUID, Meta(examples=["9a7e5c3b-1d2f-4a6b-8c0d-2e4f6a8b0c1d"])]
RequestId = Annotated[UUID, Meta(examples=["5e3c1a9b-7d2f-4b6a-8e0c-4d2f6b8a0e1c"])]


class PickupPoint(Struct, forbid_unknown_fields=True, kw_only=True):
    """The exact pickup point: encrypted at rest, shown only to confirmed riders."""

    address: PickupAddress
    lat: Latitude
    lon: Longitude
    details: PickupDetails | None = None


class RideOfferCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """Offer seats to the event or trip; the area point is the pickup snapped to a ~2 km grid."""

    seats: OfferSeats
    departs_at: AwareDatetime
    area: Area
    pickup: PickupPoint
    contact: ContactChannel | None = None
    return_departs_at: AwareDatetime | None = None
    return_seats: OfferSeats | None = None
    notes: Notes | None = None
    accessibility: AccessibilityFlags = []
    auto_confirm: Annotated[
        bool, Meta(description="Confirm bookings at once while seats are free")
    ] = False


class RideOfferPatch(Struct, forbid_unknown_fields=True, kw_only=True):
    """Change your offer; omitted fields stay. Riders are told when time or pickup change."""

    seats: OfferSeats | UnsetType = UNSET
    departs_at: AwareDatetime | UnsetType = UNSET
    area: Area | UnsetType = UNSET
    pickup: PickupPoint | UnsetType = UNSET
    contact: ContactChannel | None | UnsetType = UNSET
    return_departs_at: AwareDatetime | None | UnsetType = UNSET
    return_seats: OfferSeats | None | UnsetType = UNSET
    notes: Notes | None | UnsetType = UNSET
    accessibility: AccessibilityFlags | UnsetType = UNSET
    auto_confirm: bool | UnsetType = UNSET
    event_changed: Annotated[
        Literal[False] | UnsetType,
        Meta(description="Send false to confirm the ride still works after the event moved"),
    ] = UNSET


class RidePickup(Struct):
    """The exact pickup point and the driver's contact channel (driver and confirmed riders)."""

    address: PickupAddress
    lat: Latitude
    lon: Longitude
    details: str | None
    contact: Annotated[str | None, Meta(examples=["Signal: @driver.ana"])]


class RideRider(Struct):
    """A confirmed rider as the driver sees them: display name and seats."""

    booking_id: BookingId
    display_name: Annotated[str, Meta(examples=["Luis"])]
    leg: Leg
    seats: Seats


class RideOfferLinks(Struct):
    self: Annotated[str, Meta(examples=["/v1/ride-offers/3b0d6c2e-8f1a-4e7b-9c5d-2a4f6e8b0c1d"])]
    bookings: Annotated[
        str, Meta(examples=["/v1/ride-offers/3b0d6c2e-8f1a-4e7b-9c5d-2a4f6e8b0c1d/bookings"])
    ]
    parent: Annotated[str, Meta(examples=["/v1/events/0f8e2c4a-1b3d-4e5f-8a9b-0c1d2e3f4a5b"])]


class RideOffer(Struct, kw_only=True):
    """A ride offer as this caller may see it."""

    id: OfferId
    event_id: UUID | None
    trip_id: UUID | None
    driver_name: Annotated[str, Meta(examples=["Ana R."])]
    is_driver: Annotated[bool, Meta(description="You are the driver")]
    seats: OfferSeats
    seats_free: Annotated[int, Meta(description="Free seats on the outbound leg", examples=[2])]
    departs_at: When
    return_departs_at: When | None
    return_seats: int | None
    return_seats_free: Annotated[int | None, Meta(examples=[3])]
    area: Area
    area_lat: Annotated[float, Meta(description="On a ~2 km grid", examples=[32.52])]
    area_lon: Annotated[float, Meta(description="On a ~2 km grid", examples=[-117.04])]
    notes: str | None
    accessibility: list[Accessibility]
    auto_confirm: bool
    status: OfferStatus
    cancel_reason: Annotated[CancelReason | None, Meta(examples=[None])]
    event_changed: Annotated[
        bool,
        Meta(description="The event or trip changed its time since; the driver should confirm"),
    ]
    pickup: Annotated[
        RidePickup | None,
        Meta(description="Only for the driver and confirmed riders (null once purged)"),
    ]
    riders: Annotated[
        list[RideRider] | None,
        Meta(description="Only for the driver: confirmed riders and their seats"),
    ]
    distance_km: DistanceKm = None
    created_at: When
    updated_at: When
    links: RideOfferLinks


class RideOfferPage(Struct):
    """A page of ride offers."""

    items: list[RideOffer]
    next_cursor: NextCursor = None


class RideOfferCancel(Struct, forbid_unknown_fields=True):
    """Cancel your offer: every booking is released and every rider told."""

    message: (
        Annotated[
            str,
            Meta(
                max_length=500,
                pattern=r"^[^\x00]*$",
                description="A short note for your riders' inbox",
                examples=["The car broke down, sorry"],
            ),
        ]
        | None
    ) = None


class RideBookingCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """Ask for seats on one leg; confirmed at once when the offer auto-confirms."""

    seats: Seats = 1
    leg: Leg = "outbound"


class RideBooking(Struct, kw_only=True):
    """A booking: the driver sees the rider's display name while it is requested or confirmed."""

    id: BookingId
    offer_id: OfferId
    leg: Leg
    seats: Seats
    status: BookingStatus
    ended_by: EndedBy | None
    is_mine: Annotated[bool, Meta(description="You are the rider")]
    rider_name: Annotated[
        str | None, Meta(description="Only for the driver, while requested or confirmed")
    ]
    created_at: When
    updated_at: When
    decided_at: When | None


class RideBookingPage(Struct):
    """Bookings of an offer: all of them for the driver, your own for anyone else."""

    items: list[RideBooking]
    next_cursor: NextCursor = None


class RideRequestCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """Ask for seats from an area: the point is snapped to a ~2 km grid before it is stored."""

    seats: Seats = 1
    leg: Leg = "outbound"
    area: Area
    lat: Latitude
    lon: Longitude
    earliest_at: AwareDatetime
    latest_at: AwareDatetime
    accessibility: AccessibilityFlags = []


class RideRequest(Struct, kw_only=True):
    """A ride request: area and window only, never who beyond `is_mine`."""

    id: RequestId
    event_id: UUID | None
    trip_id: UUID | None
    leg: Leg
    seats: Seats
    area: Area
    area_lat: Annotated[float, Meta(examples=[32.52])]
    area_lon: Annotated[float, Meta(examples=[-117.04])]
    earliest_at: When
    latest_at: When
    accessibility: list[Accessibility]
    status: RequestStatus
    is_mine: bool
    distance_km: Annotated[
        float | None,
        Meta(description="Matching: great-circle km between the offer's and the request's areas"),
    ] = None
    created_at: When


class RideRequestPage(Struct):
    """A page of ride requests."""

    items: list[RideRequest]
    next_cursor: NextCursor = None


class MyRideBooking(Struct):
    """One of your bookings, with the offer as you may see it."""

    booking: RideBooking
    offer: RideOffer


class MyRides(Struct):
    """Your offers (as driver), requests and bookings (as rider), soonest first (at most 200 each)."""

    offers: list[RideOffer]
    requests: list[RideRequest]
    bookings: list[MyRideBooking]


class CalendarRide(Struct, kw_only=True):
    """A ride for a personal calendar feed: as driver, or as a confirmed rider."""

    offer_id: UUID
    booking_id: UUID | None
    role: Literal["driver", "rider"]
    leg: Leg
    event_id: UUID | None
    trip_id: UUID | None
    departs_at: datetime
    area: str
    status: OfferStatus
    event_changed: bool
    driver_name: str
    seats: int
    updated_at: datetime
    pickup: RidePickup | None = None
