"""Retention: how long an org's personal data is kept, and the receipts every purge leaves."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from msgspec import UNSET, Meta, Struct, UnsetType

from schemas.common import NextCursor

DataClass = Annotated[
    Literal["rsvp_contact", "ride_pickup", "ride_riders", "trip_emergency", "audit_log"],
    Meta(
        description=(
            "What was purged: RSVP contacts; a ride's exact pickup and driver contact; who "
            "booked or asked for seats on a ride; trip emergency contacts and notes; audit rows"
        ),
        examples=["rsvp_contact"],
    ),
]
Hours = Annotated[int, Meta(ge=0, le=720, examples=[12])]
Days = Annotated[int, Meta(ge=0, le=30, examples=[3])]
AuditDays = Annotated[int, Meta(ge=1, le=365, examples=[30])]


class RetentionWindow(Struct):
    """One kind of data: the window the purge applies, the org's own setting (null: the
    default), the deployment's default (also the most an org may set) and the least allowed."""

    applied: Annotated[int, Meta(examples=[12])]
    org_setting: Annotated[int | None, Meta(examples=[12])]
    default: Annotated[int, Meta(examples=[24])]
    minimum: Annotated[int, Meta(examples=[0])]


class RetentionSettings(Struct):
    """How long the org's data is kept: RSVP contacts after the event ends, ride pickups and
    rider lists after the ride's last leg leaves, trip emergency data after the trip ends
    (or is cancelled), audit rows and purge receipts after they were written."""

    rsvp_contact_hours: RetentionWindow
    ride_pickup_hours: RetentionWindow
    trip_emergency_days: RetentionWindow
    audit_days: RetentionWindow


class RetentionPatch(Struct, forbid_unknown_fields=True):
    """Shorten windows (never beyond the deployment's default); null returns a window to the
    default; omitted ones stay as they are."""

    rsvp_contact_hours: Hours | None | UnsetType = UNSET
    ride_pickup_hours: Hours | None | UnsetType = UNSET
    trip_emergency_days: Days | None | UnsetType = UNSET
    audit_days: AuditDays | None | UnsetType = UNSET


class PurgeReceipt(Struct):
    """What one purge erased: the kind of data, how many rows, for which event or trip, when,
    and under which window. Never the data, nor whom it was about."""

    id: Annotated[UUID, Meta(examples=["0b9a6f5e-1c2d-4e3f-8a7b-6c5d4e3f2a1b"])]
    data_class: DataClass
    event_id: Annotated[UUID | None, Meta(examples=["5c7e2d1a-3b4f-4c6d-8e9f-0a1b2c3d4e5f"])]
    trip_id: Annotated[UUID | None, Meta(examples=[None])]
    row_count: Annotated[int, Meta(description="Rows erased or deleted", examples=[14])]
    keys_destroyed: Annotated[
        int,
        Meta(
            description="Data keys destroyed, which makes every copy of the ciphertext unreadable",
            examples=[1],
        ),
    ]
    window_hours: Annotated[int, Meta(description="The window applied, in hours", examples=[24])]
    purged_at: Annotated[datetime, Meta(examples=["2026-12-07T03:00:00Z"])]


class PurgeReceiptPage(Struct):
    """An org's purge receipts, newest first."""

    items: list[PurgeReceipt]
    next_cursor: NextCursor = None
