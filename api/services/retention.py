"""Retention: per-org windows, the purge that applies them (with receipts and crypto-shredding),
and the README's "What Caravan keeps, and for how long" table generated from the settings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from api.config import Settings
from api.errors import RuleViolation
from api.guards import require_org_role
from api.pagination import decode_cursor, split_page
from api.services.ride_pickups import PICKUP_CLASS, purge_ride_pickups
from api.services.rsvp_keys import CONTACT_CLASS
from api.services.trip_participant_data import purge_trip_participant_data
from db.queries import audit, data_keys, rsvps
from db.queries import retention as q
from schemas.problems import FieldError
from schemas.retention import (
    PurgeReceipt,
    PurgeReceiptPage,
    RetentionPatch,
    RetentionSettings,
    RetentionWindow,
)

#: fixed windows of housekeeping rows that carry no personal data (see api/worker.py and
#: db/queries/idempotency.py); listed in the README table
IDEMPOTENCY_HOURS = 24
RATE_LIMIT_WINDOW_HOURS = 24
OUTBOX_DAYS = 7
DELIVERY_LOG_DAYS = 30
#: an owner cannot shorten the audit trail below this: it would let them erase the record of
#: their own list exports before anyone could read it
MIN_AUDIT_DAYS = 7


class Retention(msgspec.Struct, frozen=True, kw_only=True):
    """The deployment's windows (CARAVAN_RETAIN_*): each org's default, and its maximum.

    An org may only shorten them, never lengthen them. The defaults are what the operator
    publishes (the README table is generated from them) and what people were told when they
    gave a contact: someone RSVPing cannot see an org's settings, so a longer org window would
    silently break that promise and widen what a subpoena or a seized disk could reach. Hence
    `applied = min(org setting, default)`, in SQL as in Python, even if the operator later
    lowers a default below an org's stored value.
    """

    rsvp_contact_hours: int = 24
    ride_pickup_hours: int = 24
    trip_emergency_days: int = 7
    audit_days: int = 90

    @classmethod
    def from_settings(cls, settings: Settings) -> Retention:
        return cls(
            rsvp_contact_hours=settings.retain_rsvp_contact_hours,
            ride_pickup_hours=settings.retain_ride_pickup_hours,
            trip_emergency_days=settings.retain_trip_emergency_days,
            audit_days=settings.retain_audit_days,
        )


_FIELDS = ("rsvp_contact_hours", "ride_pickup_hours", "trip_emergency_days", "audit_days")


def _minimum(field: str, default: int) -> int:
    return min(MIN_AUDIT_DAYS, default) if field == "audit_days" else 0


# ---------------------------------------------------------------- the purge


async def _shorter_windows(conn: asyncpg.Connection, field: str, default: int) -> dict[UUID, int]:
    """Orgs whose own window for `field` is shorter than the default."""
    rows = await q.select_orgs_with_shorter_windows(conn, field)
    return {r["org_id"]: r["value"] for r in rows if r["value"] < default}


async def _window_of(conn: asyncpg.Connection, field: str, default: int) -> dict[UUID, int]:
    rows = await q.select_orgs_with_shorter_windows(conn, field)
    return {r["org_id"]: min(r["value"], default) for r in rows}


async def _purge_rsvp_lists(
    conn: asyncpg.Connection, retention: Retention, now: datetime
) -> list[dict[str, Any]]:
    """The attendee lists of events past their window: rows deleted (aliases, contacts,
    account links, check-ins, language needs), counts kept as tallies, the event's RSVP data
    key destroyed."""
    default = retention.rsvp_contact_hours
    windows = await _window_of(conn, "rsvp_contact_hours", default)
    by_event: dict[UUID, dict[str, Any]] = {}
    for row in await rsvps.delete_expired_rsvps(conn, now, default):
        by_event[row["event_id"]] = {
            "org_id": row["org_id"],
            "data_class": CONTACT_CLASS,
            "event_id": row["event_id"],
            "row_count": row["purged"],
            "keys_destroyed": 0,
            "window_hours": windows.get(row["org_id"], default),
        }
    # Crypto-shredding: once nothing of the event is left within its window, its key goes,
    # and with it every copy of the ciphertext (dead rows, WAL, later backups).
    for row in await q.select_contact_keys_to_destroy(conn, now, default):
        if not await data_keys.destroy_data_key(conn, "event", row["event_id"], CONTACT_CLASS):
            continue
        receipt = by_event.setdefault(
            row["event_id"],
            {
                "org_id": row["org_id"],
                "data_class": CONTACT_CLASS,
                "event_id": row["event_id"],
                "row_count": 0,
                "keys_destroyed": 0,
                "window_hours": windows.get(row["org_id"], default),
            },
        )
        receipt["keys_destroyed"] += 1
    return list(by_event.values())


async def _purge_ride_pickups(
    conn: asyncpg.Connection, retention: Retention, now: datetime
) -> list[dict[str, Any]]:
    default = retention.ride_pickup_hours
    shorter = await _shorter_windows(conn, "ride_pickup_hours", default)
    purged = await purge_ride_pickups(conn, now=now, hours=default)
    for org_id, hours in shorter.items():
        purged += await purge_ride_pickups(conn, now=now, hours=hours, org_id=org_id)
    if not purged:
        return []
    offer_ids = [p["offer_id"] for p in purged]
    destroyed = await q.select_keys_destroyed_now(conn, "ride_offer", offer_ids, PICKUP_CLASS)
    receipts: dict[tuple[UUID, UUID | None, UUID | None], dict[str, Any]] = {}
    for offer in await q.select_offer_parents(conn, offer_ids):
        key = (offer["org_id"], offer["event_id"], offer["trip_id"])
        receipt = receipts.setdefault(
            key,
            {
                "org_id": offer["org_id"],
                "data_class": PICKUP_CLASS,
                "event_id": offer["event_id"],
                "trip_id": offer["trip_id"],
                "row_count": 0,
                "keys_destroyed": 0,
                "window_hours": shorter.get(offer["org_id"], default),
            },
        )
        receipt["row_count"] += 1
        receipt["keys_destroyed"] += int(offer["id"] in destroyed)
    return list(receipts.values())


async def _purge_ride_riders(
    conn: asyncpg.Connection, retention: Retention, now: datetime
) -> list[dict[str, Any]]:
    default = retention.ride_pickup_hours
    windows = await _window_of(conn, "ride_pickup_hours", default)
    return [
        {
            "org_id": row["org_id"],
            "data_class": "ride_riders",
            "event_id": row["event_id"],
            "trip_id": row["trip_id"],
            "row_count": row["deleted"],
            "window_hours": windows.get(row["org_id"], default),
        }
        for row in await q.delete_past_ride_riders(conn, now, default)
    ]


async def _purge_trip_data(
    conn: asyncpg.Connection, retention: Retention, now: datetime
) -> list[dict[str, Any]]:
    default = retention.trip_emergency_days
    shorter = await _shorter_windows(conn, "trip_emergency_days", default)
    done = await purge_trip_participant_data(conn, now=now, days=default)
    for org_id, days in shorter.items():
        done += await purge_trip_participant_data(conn, now=now, days=days, org_id=org_id)
    return [
        {
            "org_id": trip["org_id"],
            "data_class": "trip_emergency",
            "trip_id": trip["trip_id"],
            "row_count": trip["applications_purged"],
            "keys_destroyed": int(trip["key_destroyed"]),
            "window_hours": 24 * shorter.get(trip["org_id"], default),
        }
        for trip in done
    ]


async def _purge_audit_rows(
    conn: asyncpg.Connection, retention: Retention, now: datetime
) -> list[dict[str, Any]]:
    default = retention.audit_days
    windows = await _window_of(conn, "audit_days", default)
    deleted = await q.delete_old_audit_rows(conn, now, default)
    await q.delete_old_receipts(conn, now, default)
    return [
        {
            "org_id": row["org_id"],
            "data_class": "audit_log",
            "row_count": row["deleted"],
            "window_hours": 24 * windows.get(row["org_id"], default),
        }
        for row in deleted
        if row["org_id"] is not None  # rows of no org have nobody to read a receipt
    ]


async def run_retention(
    conn: asyncpg.Connection, *, retention: Retention | None = None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Purge everything past its window, in one transaction (a savepoint inside another):
    RSVP lists, ride pickups and rider lists, trip emergency data, audit rows. Destroys the
    data keys of what is gone, so copies of the ciphertext become unreadable. Counts survive.

    Writes and returns one receipt per kind of data and event, trip or org; a run with nothing
    to purge writes none, so running it again is harmless. No export is ever asked for first.
    """
    retention = retention or Retention()
    moment = now or datetime.now(UTC)
    async with conn.transaction():
        receipts = [
            *await _purge_rsvp_lists(conn, retention, moment),
            *await _purge_ride_pickups(conn, retention, moment),
            *await _purge_ride_riders(conn, retention, moment),
            *await _purge_trip_data(conn, retention, moment),
            *await _purge_audit_rows(conn, retention, moment),
        ]
        stored = await q.insert_purge_receipts(
            conn, [r for r in receipts if r["row_count"] or r.get("keys_destroyed")]
        )
    return [dict(r) for r in stored]


def totals(receipts: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Rows purged per kind of data, and keys destroyed, for logs and the command line."""
    counts = {
        "rsvp_contacts": 0,
        "ride_pickups": 0,
        "ride_riders": 0,
        "trip_emergency": 0,
        "audit_rows": 0,
        "keys_destroyed": 0,
    }
    names = {
        "rsvp_contact": "rsvp_contacts",
        "ride_pickup": "ride_pickups",
        "ride_riders": "ride_riders",
        "trip_emergency": "trip_emergency",
        "audit_log": "audit_rows",
    }
    for receipt in receipts:
        counts[names[receipt["data_class"]]] += receipt["row_count"]
        counts["keys_destroyed"] += receipt["keys_destroyed"]
    return counts


def describe(receipt: dict[str, Any]) -> str:
    """One line per receipt for `caravan purge`: ids and counts only."""
    subject = (
        f"event {receipt['event_id']}"
        if receipt["event_id"]
        else f"trip {receipt['trip_id']}"
        if receipt["trip_id"]
        else f"org {receipt['org_id']}"
    )
    return (
        f"{receipt['purged_at'].isoformat()} {receipt['data_class']}: {receipt['row_count']} "
        f"row(s), {receipt['keys_destroyed']} key(s) destroyed, {subject}, "
        f"window {receipt['window_hours']} h"
    )


# ---------------------------------------------------------------- the org's settings


def _view(row: asyncpg.Record | None, retention: Retention) -> RetentionSettings:
    windows = {}
    for field in _FIELDS:
        default = getattr(retention, field)
        own = row[field] if row is not None else None
        windows[field] = RetentionWindow(
            applied=default if own is None else min(own, default),
            org_setting=own,
            default=default,
            minimum=_minimum(field, default),
        )
    return RetentionSettings(**windows)


async def get_retention(
    conn: asyncpg.Connection, settings: Settings, slug: str, account_id: UUID | None
) -> RetentionSettings:
    org = await require_org_role(conn, slug, account_id, "owner")
    return _view(await q.select_org_retention(conn, org["id"]), Retention.from_settings(settings))


async def update_retention(
    conn: asyncpg.Connection,
    settings: Settings,
    slug: str,
    account_id: UUID | None,
    data: RetentionPatch,
) -> RetentionSettings:
    """Set or clear the org's windows (owners); each between its minimum and the default."""
    org = await require_org_role(conn, slug, account_id, "owner")
    retention = Retention.from_settings(settings)
    current = await q.select_org_retention(conn, org["id"])
    values: dict[str, int | None] = {f: current[f] if current else None for f in _FIELDS}
    errors: list[FieldError] = []
    changed: dict[str, int | None] = {}
    for field in _FIELDS:
        value = getattr(data, field)
        if value is msgspec.UNSET:
            continue
        default = getattr(retention, field)
        low = _minimum(field, default)
        if value is not None and not low <= value <= default:
            errors.append(
                FieldError(pointer=f"#/{field}", detail=f"must be between {low} and {default}")
            )
            continue
        values[field] = changed[field] = value
    if errors:
        raise RuleViolation(
            "An org may shorten how long its data is kept, never keep it longer than this "
            "server's default; send null to go back to the default.",
            errors=errors,
        )
    row = await q.upsert_org_retention(conn, org["id"], **values)
    if changed:
        await audit.insert_audit_entry(
            conn, org["id"], account_id, "retention.changed", "org", org["id"], changed
        )
    return _view(row, retention)


async def list_receipts(
    conn: asyncpg.Connection, slug: str, account_id: UUID | None, cursor: str | None, limit: int
) -> PurgeReceiptPage:
    """Newest first; for the org's organizers and owners."""
    org = await require_org_role(conn, slug, account_id, "organizer")
    before = decode_cursor(cursor, tuple[datetime, UUID])
    rows = await q.select_purge_receipts(conn, org["id"], before, limit + 1)
    page, next_cursor = split_page(rows, limit, lambda r: (r["purged_at"], r["id"]))
    return PurgeReceiptPage(
        items=[msgspec.convert(dict(r), PurgeReceipt) for r in page], next_cursor=next_cursor
    )


# ---------------------------------------------------------------- the README table

README_START = (
    "<!-- retention-table: generated by `caravan retention-table --write`; do not edit -->"
)
README_END = "<!-- /retention-table -->"


def _hours(hours: int) -> str:
    return f"{hours // 24} days" if hours % 24 == 0 and hours >= 48 else f"{hours} h"


def retention_table(settings: Settings) -> str:
    """The README's "What Caravan keeps, and for how long" table, from the actual settings."""
    r = Retention.from_settings(settings)
    rows = [
        (
            "RSVPs: alias and contact (sealed), account link, check-in time, language needs, "
            "guests; a member's own list of past RSVPs",
            f"{_hours(r.rsvp_contact_hours)} after the event ends (a postponed event's window "
            "starts again from its new end); then the RSVPs are deleted and the event's RSVP "
            "key destroyed. Only counts stay: going, checked in, waitlisted, cancelled, per "
            "shift and per language",
            "`CARAVAN_RETAIN_RSVP_CONTACT_HOURS`; an org may shorten, never lengthen",
        ),
        (
            "Ride pickup point and driver contact (sealed)",
            f"{_hours(r.ride_pickup_hours)} after the ride's last leg leaves; then erased "
            "and the ride's key destroyed",
            "`CARAVAN_RETAIN_RIDE_PICKUP_HOURS`; an org may shorten",
        ),
        (
            "Who booked or asked for seats on a ride",
            f"{_hours(r.ride_pickup_hours)} after the ride (or the requested time); then "
            "deleted. Seat counts stay",
            "as above",
        ),
        (
            "Trip applications: who applied, answers, roles, checklist ticks, emergency "
            "contacts and notes (sealed)",
            f"{r.trip_emergency_days} days after the trip ends or is cancelled; then the "
            "applications are deleted and the trip's key destroyed. Counts per state and role "
            "stay",
            "`CARAVAN_RETAIN_TRIP_EMERGENCY_DAYS`; an org may shorten",
        ),
        (
            "Audit rows (who read or exported which list, changed roles or keys) and purge "
            "receipts",
            f"{r.audit_days} days",
            f"`CARAVAN_RETAIN_AUDIT_DAYS`; an org may shorten to {min(MIN_AUDIT_DAYS, r.audit_days)} days",
        ),
        (
            "Login sessions (a token hash; no address, device or login time)",
            f"until logout or {_hours(settings.session_ttl_hours)}",
            "`CARAVAN_SESSION_TTL_HOURS`",
        ),
        (
            "Idempotency records (a keyed hash of the request)",
            f"{IDEMPOTENCY_HOURS} h",
            "fixed",
        ),
        (
            "Rate-limit windows (keyed hashes, never an address or email)",
            f"{RATE_LIMIT_WINDOW_HOURS} h",
            "fixed",
        ),
        (
            "Webhook outbox rows (ids and counts only)",
            f"{OUTBOX_DAYS} days after dispatch",
            "fixed",
        ),
        ("Webhook delivery log", f"{DELIVERY_LOG_DAYS} days after the last try", "fixed"),
        (
            "Accounts (sealed email, display name, password hash), orgs, events, trips",
            "until deleted",
            "",
        ),
    ]
    lines = ["| data | kept | set by |", "|---|---|---|"]
    lines += [f"| {what} | {kept} | {by} |" for what, kept, by in rows]
    return "\n".join(lines) + "\n"


def splice_readme(readme: str, table: str) -> str:
    """README text with the generated table between its markers."""
    start = readme.index(README_START) + len(README_START)
    end = readme.index(README_END, start)
    return readme[:start] + "\n" + table + readme[end:]
