"""What Caravan holds about a person: the account export and the subpoena-drill report."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from msgspec import Meta, Struct

from schemas.accounts import Account, TwoFactorStatus
from schemas.rides import PickupPoint
from schemas.trip_applications import EmergencyContact, ParticipantNotes

Id = Annotated[UUID, Meta(examples=["9b2f0c1e-6a4d-4f7e-9a51-0c3e2b7d8f10"])]
When = Annotated[datetime, Meta(examples=["2026-12-05T17:00:00Z"])]
Texts = Annotated[dict[str, str], Meta(examples=[{"en": "Rally", "es": "Marcha"}])]


# ---------------------------------------------------------------- the account export


class ExportMembership(Struct, kw_only=True):
    """An organization you belong to."""

    org_id: Id
    org_slug: Annotated[str, Meta(examples=["frontera-unida"])]
    org_name: Annotated[str, Meta(examples=["Frontera Unida"])]
    role: Annotated[str, Meta(examples=["member"])]
    joined_at: When


class ExportRsvp(Struct, kw_only=True):
    """One of your RSVPs, with its contact opened (null once purged)."""

    id: Id
    event_id: Id
    event_title: Texts
    shift_id: Id | None
    alias: Annotated[str, Meta(examples=["Ana"])]
    contact: Annotated[str | None, Meta(examples=["+52 664 000 0000"])]
    contact_purge_after: When | None
    contact_purged_at: When | None
    guests: Annotated[int, Meta(examples=[0])]
    places: Annotated[int, Meta(examples=[1])]
    language_needs: Annotated[list[str], Meta(examples=[["es"]])]
    status: Annotated[str, Meta(examples=["going"])]
    created_at: When
    updated_at: When
    cancelled_at: When | None
    checked_in_at: When | None


class ExportApplication(Struct, kw_only=True):
    """One of your trip applications, with its participant data opened (null once purged)."""

    id: Id
    trip_id: Id
    trip_title: Texts
    status: Annotated[str, Meta(examples=["accepted"])]
    roles: Annotated[list[str], Meta(examples=[["participant"]])]
    answers: Annotated[dict[str, Any], Meta(examples=[{"q1": "Spanish"}])]
    emergency_contact: EmergencyContact | None
    notes: ParticipantNotes | None
    data_purged_at: When | None
    checklist_items_done: list[Id]
    created_at: When
    updated_at: When
    waitlisted_at: When | None
    decided_at: When | None
    withdrawn_at: When | None


class ExportRideOffer(Struct, kw_only=True):
    """A ride you offer, with your own pickup and contact opened (null once purged); riders'
    names are theirs and stay out."""

    id: Id
    event_id: Id | None
    trip_id: Id | None
    seats: Annotated[int, Meta(examples=[4])]
    seats_taken: Annotated[int, Meta(examples=[1])]
    departs_at: When
    area: Annotated[str, Meta(examples=["Colonia Libertad"])]
    area_lat: Annotated[float, Meta(examples=[32.54])]
    area_lon: Annotated[float, Meta(examples=[-117.02])]
    pickup: PickupPoint | None
    contact: Annotated[str | None, Meta(examples=["Signal: @ana.77"])]
    return_departs_at: When | None
    return_seats: Annotated[int | None, Meta(examples=[None])]
    return_seats_taken: Annotated[int, Meta(examples=[0])]
    notes: Annotated[str | None, Meta(examples=["Spanish/English"])]
    accessibility: Annotated[list[str], Meta(examples=[["wheelchair"]])]
    status: Annotated[str, Meta(examples=["open"])]
    pickup_purged_at: When | None
    created_at: When
    updated_at: When
    cancelled_at: When | None


class ExportRideRequest(Struct, kw_only=True):
    """A ride you asked for."""

    id: Id
    event_id: Id | None
    trip_id: Id | None
    leg: Annotated[str, Meta(examples=["outbound"])]
    seats: Annotated[int, Meta(examples=[1])]
    area: Annotated[str, Meta(examples=["Zona Centro"])]
    area_lat: Annotated[float, Meta(examples=[32.53])]
    area_lon: Annotated[float, Meta(examples=[-117.04])]
    earliest_at: When
    latest_at: When
    accessibility: Annotated[list[str], Meta(examples=[[]])]
    status: Annotated[str, Meta(examples=["open"])]
    created_at: When
    updated_at: When


class ExportRideBooking(Struct, kw_only=True):
    """Seats you booked on someone's ride: your booking only, nothing of the driver."""

    id: Id
    offer_id: Id
    leg: Annotated[str, Meta(examples=["outbound"])]
    seats: Annotated[int, Meta(examples=[1])]
    status: Annotated[str, Meta(examples=["confirmed"])]
    ended_by: Annotated[str | None, Meta(examples=[None])]
    created_at: When
    updated_at: When
    decided_at: When | None
    cancelled_at: When | None


class ExportRides(Struct, kw_only=True):
    """Your rides: offers as driver, requests and bookings as rider."""

    offers: list[ExportRideOffer]
    requests: list[ExportRideRequest]
    bookings: list[ExportRideBooking]


class ExportNotification(Struct, kw_only=True):
    """A notice in your inbox."""

    id: Id
    kind: Annotated[str, Meta(examples=["rsvp.promoted"])]
    event_id: Id | None
    trip_id: Id | None
    payload: Annotated[dict[str, Any], Meta(examples=[{"event_id": "…"}])]
    created_at: When
    read_at: When | None


class ExportSession(Struct, kw_only=True):
    """A signed-in session: its label and when it stops working, nothing else."""

    label: Annotated[str | None, Meta(examples=["Phone"])]
    expires_at: When


class ExportAuditEntry(Struct, kw_only=True):
    """An audit-log row naming you: as the one who acted, or as its subject."""

    org_slug: Annotated[str | None, Meta(examples=["frontera-unida"])]
    named_as: Annotated[Literal["actor", "subject"], Meta(examples=["actor"])]
    action: Annotated[str, Meta(examples=["rsvps.listed"])]
    subject_type: Annotated[str, Meta(examples=["event"])]
    subject_id: Id | None
    detail: Annotated[dict[str, Any], Meta(examples=[{}])]
    created_at: When


class AccountExport(Struct, kw_only=True):
    """Everything Caravan holds about your account, opened for you: nobody else's data."""

    generated_at: When
    account: Account
    two_factor: TwoFactorStatus
    memberships: list[ExportMembership]
    rsvps: list[ExportRsvp]
    trip_applications: list[ExportApplication]
    rides: ExportRides
    notifications: list[ExportNotification]
    sessions: list[ExportSession]
    feed_tokens: Annotated[
        list[Id], Meta(description="Ids only: the tokens themselves are kept only as hashes")
    ]
    audit_log: list[ExportAuditEntry]
    other_rows: Annotated[
        dict[str, list[Id]],
        Meta(
            description="Ids of any other rows pointing at your account, by table",
            examples=[{"events.created_by": ["…"]}],
        ),
    ]


# ---------------------------------------------------------------- the subpoena drill

Storage = Annotated[
    Literal["plaintext", "encrypted", "hashed"],
    Meta(
        description=(
            "plaintext: readable by anyone holding the database or a backup; encrypted: sealed "
            "with a data key that a purge destroys; hashed: one-way, the value is not recoverable"
        ),
        examples=["encrypted"],
    ),
]


class HeldField(Struct, kw_only=True):
    """A column of a table that holds rows about the member."""

    name: Annotated[str, Meta(examples=["contact_ciphertext"])]
    storage: Storage
    description: Annotated[str, Meta(examples=["Email or phone given with the RSVP"])]


class HeldTable(Struct, kw_only=True):
    """A table holding rows about the member, how many, and what happens to them."""

    table: Annotated[str, Meta(examples=["rsvps"])]
    scope: Annotated[
        Literal["account", "organization"],
        Meta(
            description="account: held for the account across Caravan; organization: this org's rows",
            examples=["organization"],
        ),
    ]
    linked_by: Annotated[str, Meta(examples=["account_id"])]
    rows: Annotated[int, Meta(examples=[3])]
    retention: Annotated[str, Meta(examples=["Contact erased 24 h after the event ends"])]
    on_account_deletion: Annotated[str, Meta(examples=["anonymized: kept as a count"])]
    fields: list[HeldField]


class ScheduledPurge(Struct, kw_only=True):
    """An encrypted field of one row: still held (and until when) or already purged."""

    table: Annotated[str, Meta(examples=["rsvps"])]
    row_id: Id
    fields: Annotated[list[str], Meta(examples=[["contact_ciphertext"]])]
    about: Annotated[str, Meta(examples=["event 4f0c… (Rally)"])]
    state: Annotated[Literal["held", "purged"], Meta(examples=["held"])]
    purge_after: When | None
    purged_at: When | None


class PrivacyReport(Struct, kw_only=True):
    """The subpoena drill: every field Caravan holds about one person (a member, anyone else
    the org holds data about, or the holder of one RSVP's manage link), in what form, and when
    the sensitive ones are purged. Values are never shown, only what exists."""

    subject: Annotated[
        Literal["member", "non_member", "rsvp"],
        Meta(
            description=(
                "member: an account in the org; non_member: an account that RSVPed, applied "
                "or shared rides with the org without joining it; rsvp: one RSVP, reached by "
                "its manage link"
            ),
            examples=["member"],
        ),
    ]
    account_id: Annotated[
        UUID | None, Meta(description="null for a report about one RSVP (by its manage link)")
    ]
    rsvp_id: Annotated[UUID | None, Meta(description="The RSVP reported on (subject rsvp)")] = None
    org_slug: Annotated[str, Meta(examples=["frontera-unida"])]
    role: Annotated[
        str | None,
        Meta(description="The member's role; null when not a member", examples=["member"]),
    ]
    generated_at: When
    tables: list[HeldTable]
    purges: list[ScheduledPurge]
    never_stored: Annotated[list[str], Meta(examples=[["IP addresses", "user agents"]])]
