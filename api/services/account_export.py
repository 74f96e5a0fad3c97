"""The export of everything held about the caller's account, sealed fields opened."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import msgspec

from api.config import Settings
from api.crypto import Keyring
from api.services import accounts, encryption, ride_pickups, two_factor
from api.services.accounts import Caller
from api.services.rsvp_keys import CONTACT_CLASS, ERASED_ALIAS
from api.services.trip_participant_data import EMERGENCY_CLASS
from db.queries import privacy as q
from schemas.privacy import (
    AccountExport,
    ExportApplication,
    ExportAuditEntry,
    ExportMembership,
    ExportNotification,
    ExportRideBooking,
    ExportRideOffer,
    ExportRideRequest,
    ExportRides,
    ExportRsvp,
    ExportSession,
)
from schemas.rides import PickupPoint
from schemas.trip_applications import EmergencyContact, ParticipantNotes


async def _open(
    conn: asyncpg.Connection,
    keyring: Keyring,
    scope: str,
    scope_id: UUID,
    data_class: str,
    blob: bytes | None,
) -> str | None:
    return await encryption.open_sealed(conn, keyring, scope, scope_id, data_class, blob)


async def export_account(
    conn: asyncpg.Connection, keyring: Keyring, settings: Settings, caller: Caller
) -> AccountExport:
    """Everything held about the caller's account, sealed fields opened; nobody else's data."""
    account_id = caller.account_id
    rsvps = []
    for r in await q.select_rsvps(conn, account_id, settings.retain_rsvp_contact_hours):
        contact = await _open(
            conn, keyring, "event", r["event_id"], CONTACT_CLASS, r["contact_ciphertext"]
        )
        rsvps.append(
            ExportRsvp(
                id=r["id"],
                event_id=r["event_id"],
                event_title=r["event_title"],
                shift_id=r["shift_id"],
                alias=r["alias"]
                if r["alias_ciphertext"] is None
                else await _open(
                    conn, keyring, "event", r["event_id"], CONTACT_CLASS, r["alias_ciphertext"]
                )
                or ERASED_ALIAS,
                contact=contact,
                contact_purge_after=r["contact_purge_after"],
                contact_purged_at=r["contact_purged_at"],
                guests=r["guests"],
                places=r["places"],
                language_needs=list(r["language_needs"]),
                status=r["status"],
                created_at=r["created_at"],
                updated_at=r["updated_at"],
                cancelled_at=r["cancelled_at"],
                checked_in_at=r["checked_in_at"],
            )
        )
    applications = []
    for a in await q.select_applications(conn, account_id):
        contact = await _open(
            conn, keyring, "trip", a["trip_id"], EMERGENCY_CLASS, a["emergency_contact_ciphertext"]
        )
        notes = await _open(
            conn, keyring, "trip", a["trip_id"], EMERGENCY_CLASS, a["notes_ciphertext"]
        )
        applications.append(
            ExportApplication(
                id=a["id"],
                trip_id=a["trip_id"],
                trip_title=a["trip_title"],
                status=a["status"],
                roles=list(a["roles"]),
                answers=a["answers"],
                emergency_contact=None
                if contact is None
                else msgspec.json.decode(contact, type=EmergencyContact),
                notes=None if notes is None else msgspec.json.decode(notes, type=ParticipantNotes),
                data_purged_at=a["data_purged_at"],
                checklist_items_done=list(a["checklist_items_done"]),
                created_at=a["created_at"],
                updated_at=a["updated_at"],
                waitlisted_at=a["waitlisted_at"],
                decided_at=a["decided_at"],
                withdrawn_at=a["withdrawn_at"],
            )
        )
    feed_tokens: list[UUID] = []
    other_rows: dict[str, list[UUID]] = {}
    for ref in await q.select_account_references(conn):
        key = (ref["table_name"], ref["column_name"])
        if key in _EXPORTED or "id" not in ref["columns"]:
            continue
        ids = await q.select_referencing_ids(conn, *key, account_id)
        if ref["table_name"] == "feed_tokens":
            feed_tokens.extend(ids)
        elif ids:
            other_rows[f"{key[0]}.{key[1]}"] = ids
    return AccountExport(
        generated_at=datetime.now(UTC),
        account=await accounts.get_account(conn, keyring, account_id),
        two_factor=await two_factor.get_status(conn, account_id),
        memberships=[
            msgspec.convert(dict(m), ExportMembership)
            for m in await q.select_memberships(conn, account_id)
        ],
        rsvps=rsvps,
        trip_applications=applications,
        rides=await _export_rides(conn, keyring, account_id),
        notifications=[
            msgspec.convert(dict(n), ExportNotification)
            for n in await q.select_notifications(conn, account_id)
        ],
        sessions=[
            ExportSession(label=s["label"], expires_at=s["expires_at"])
            for s in await q.select_sessions(conn, account_id)
        ],
        feed_tokens=feed_tokens,
        audit_log=[
            msgspec.convert(dict(e), ExportAuditEntry)
            for e in await q.select_audit_entries_naming(conn, account_id)
        ],
        other_rows=other_rows,
    )


async def _export_rides(
    conn: asyncpg.Connection, keyring: Keyring, account_id: UUID
) -> ExportRides:
    offers = []
    for o in await q.select_ride_offers(conn, account_id):
        values = {k: v for k, v in dict(o).items() if not k.endswith("_ciphertext")}
        pickup = await _open(
            conn,
            keyring,
            ride_pickups.SCOPE,
            o["id"],
            ride_pickups.PICKUP_CLASS,
            o["pickup_ciphertext"],
        )
        values["pickup"] = None if pickup is None else msgspec.json.decode(pickup, type=PickupPoint)
        values["contact"] = await _open(
            conn,
            keyring,
            ride_pickups.SCOPE,
            o["id"],
            ride_pickups.PICKUP_CLASS,
            o["contact_ciphertext"],
        )
        offers.append(msgspec.convert(values, ExportRideOffer))
    return ExportRides(
        offers=offers,
        requests=[
            msgspec.convert(dict(r), ExportRideRequest)
            for r in await q.select_ride_requests(conn, account_id)
        ],
        bookings=[
            msgspec.convert(dict(b), ExportRideBooking)
            for b in await q.select_ride_bookings(conn, account_id)
        ],
    )


#: (table, column) pairs the export shows in their own sections above
_EXPORTED = frozenset(
    {
        ("sessions", "account_id"),
        ("memberships", "account_id"),
        ("rsvps", "account_id"),
        ("trip_applications", "account_id"),
        ("notifications", "account_id"),
        ("ride_offers", "driver_id"),
        ("ride_requests", "rider_id"),
        ("ride_bookings", "rider_id"),
        ("audit_log", "actor_id"),
        ("account_totp", "account_id"),
        ("recovery_codes", "account_id"),
    }
)
