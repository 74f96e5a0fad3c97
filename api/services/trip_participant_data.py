"""Participants' sealed emergency contacts and notes: sealing, reading, writing, and the purge."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from api.crypto import DecryptionError, Keyring
from api.errors import Conflict, Forbidden
from api.services import encryption
from api.services.trip_access import Row, readable_application
from db.queries import audit, data_keys, trip_applications
from schemas.trip_applications import (
    EmergencyContact,
    ParticipantData,
    ParticipantDataPut,
    ParticipantNotes,
)

#: the data class (and key) sealing emergency contacts and notes; one key per trip
EMERGENCY_CLASS = "trip_emergency"


def _encode(value: msgspec.Struct | None) -> str | None:
    return None if value is None else msgspec.json.encode(value).decode()


async def seal_data(
    conn: asyncpg.Connection,
    keyring: Keyring,
    trip_id: UUID,
    contact: EmergencyContact | None,
    notes: ParticipantNotes | None,
) -> tuple[bytes | None, bytes | None]:
    if notes is not None and not any((notes.medical, notes.dietary, notes.accessibility)):
        notes = None
    try:
        return (
            await encryption.seal(
                conn, keyring, "trip", trip_id, EMERGENCY_CLASS, _encode(contact)
            ),
            await encryption.seal(conn, keyring, "trip", trip_id, EMERGENCY_CLASS, _encode(notes)),
        )
    except DecryptionError:
        raise Conflict(
            "This trip's participant data was purged after the trip; nothing more is stored."
        ) from None


async def open_data(
    conn: asyncpg.Connection, keyring: Keyring, record: Row
) -> tuple[EmergencyContact | None, ParticipantNotes | None]:
    trip_id = record["trip_id"]
    contact = await encryption.open_sealed(
        conn, keyring, "trip", trip_id, EMERGENCY_CLASS, record["emergency_contact_ciphertext"]
    )
    notes = await encryption.open_sealed(
        conn, keyring, "trip", trip_id, EMERGENCY_CLASS, record["notes_ciphertext"]
    )
    return (
        None if contact is None else msgspec.json.decode(contact, type=EmergencyContact),
        None if notes is None else msgspec.json.decode(notes, type=ParticipantNotes),
    )


async def get_participant_data(
    conn: asyncpg.Connection, keyring: Keyring, application_id: UUID, account_id: UUID
) -> ParticipantData:
    """The participant sees their own; organizers with participant access too, and each of
    their reads is written to the audit log (who, which application; never the data)."""
    trip, record = await readable_application(conn, application_id, account_id)
    if record["account_id"] != account_id:
        await audit.insert_audit_entry(
            conn,
            trip["org_id"],
            account_id,
            "trip_participant_data.read",
            "trip_application",
            application_id,
            {"trip_id": str(trip["id"])},
        )
    contact, notes = await open_data(conn, keyring, record)
    return ParticipantData(
        application_id=application_id,
        emergency_contact=contact,
        notes=notes,
        purged_at=record["data_purged_at"],
    )


async def put_participant_data(
    conn: asyncpg.Connection,
    keyring: Keyring,
    application_id: UUID,
    account_id: UUID,
    data: ParticipantDataPut,
) -> ParticipantData:
    """Only the participant writes their data, while the application is live and not purged."""
    trip, record = await readable_application(conn, application_id, account_id)
    if record["account_id"] != account_id:
        raise Forbidden("Only the participant gives their emergency contact and notes.")
    if record["status"] not in ("applied", "accepted", "waitlisted"):
        raise Conflict(f"This application is {record['status']}; its data cannot change.")
    if record["data_purged_at"] is not None:
        raise Conflict("This trip's participant data was purged; nothing more is stored.")
    contact_ct, notes_ct = await seal_data(
        conn, keyring, trip["id"], data.emergency_contact, data.notes
    )
    changed = await trip_applications.update_participant_data(
        conn, application_id, contact_ct, notes_ct
    )
    if changed is None:
        raise Conflict("This trip's participant data was purged; nothing more is stored.")
    contact, notes = await open_data(conn, keyring, changed)
    return ParticipantData(
        application_id=application_id, emergency_contact=contact, notes=notes, purged_at=None
    )


async def purge_trip_participant_data(
    conn: asyncpg.Connection,
    *,
    now: datetime | None = None,
    days: int = 7,
    org_id: UUID | None = None,
) -> list[dict[str, Any]]:
    """Purge emergency contacts and notes of trips that ended (or were cancelled) at least
    `days` ago: ciphertexts set to NULL with `data_purged_at`, the trip's data key destroyed
    (which also shreds copies in backups), and an audit row per trip. Application statuses
    and counts stay. Safe to run repeatedly and from several workers at once. With `org_id`,
    only that org's trips (an org with a shorter window).

    Returns one {"trip_id", "org_id", "applications_purged", "key_destroyed"} per trip purged.
    """
    if days < 0:
        raise ValueError("days must not be negative")
    moment = now or datetime.now(UTC)
    done: list[dict[str, Any]] = []
    async with conn.transaction():
        for trip in await trip_applications.select_trips_due_for_purge(conn, moment, days):
            if org_id is not None and trip["org_id"] != org_id:
                continue
            held = await trip_applications.purge_participant_data(conn, trip["id"], moment)
            destroyed = await data_keys.destroy_data_key(conn, "trip", trip["id"], EMERGENCY_CLASS)
            await audit.insert_audit_entry(
                conn,
                trip["org_id"],
                None,
                "trip_participant_data.purged",
                "trip",
                trip["id"],
                {"applications_purged": held, "key_destroyed": destroyed, "days": days},
            )
            done.append(
                {
                    "trip_id": trip["id"],
                    "org_id": trip["org_id"],
                    "applications_purged": held,
                    "key_destroyed": destroyed,
                }
            )
    return done
