"""The subpoena drill: every table and field holding something about a person or an RSVP.

The drill walks the catalog for every foreign key to `accounts`, so a table added later shows
up in the report (as plaintext until described here) instead of being silently left out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from api.config import Settings
from api.crypto import Keyring, token_hash
from api.errors import NotFound
from api.guards import require_org_role
from api.services import accounts
from api.services.retention import Retention
from api.services.rsvp_keys import FORMER_MEMBER, MANAGE_PREFIX
from db.queries import audit, orgs
from db.queries import privacy as q
from db.queries import retention as retention_queries
from db.queries import rsvps as rsvp_queries
from schemas.privacy import HeldField, HeldTable, PrivacyReport, ScheduledPurge

NEVER_STORED = [
    "IP addresses (rate limits keep only keyed hashes, which expire)",
    "user agents or device fingerprints",
    "a login history: sessions are deleted when they expire or are revoked",
    "immigration status: no field asks for it",
    "plaintext passwords, session tokens, manage links, feed tokens or API keys",
    "message contents sent outside Caravan",
]


def _retention_texts(w: Retention) -> dict[str, str]:
    """How long each table keeps what it holds, under the org's applied windows."""
    return {
        "accounts": "Kept until the account is deleted",
        "data_keys": "Destroyed when the account is deleted (what they sealed becomes unreadable)",
        "sessions": "Deleted when they expire or are revoked",
        "account_totp": "Kept while two-factor authentication is on",
        "recovery_codes": "Each deleted when used; all deleted when two-factor is turned off",
        "memberships": "Kept while a member",
        "rsvps": (f"Deleted {w.rsvp_contact_hours} h after the event ends; only counts kept"),
        "trip_applications": (
            f"Deleted {w.trip_emergency_days} days after the trip ends or is cancelled; only "
            "counts per state and role kept"
        ),
        "ride_offers": (
            f"Exact pickup and contact purged {w.ride_pickup_hours} h after the last leg leaves"
        ),
        "ride_bookings": f"Deleted {w.ride_pickup_hours} h after the ride's last leg leaves",
        "ride_requests": f"Deleted {w.ride_pickup_hours} h after the requested window ends",
        "notifications": "Kept until deleted with the account, event or trip",
        "checklist_completions": "Kept with the application",
        "audit_log": f"Deleted {w.audit_days} days after it was written",
        "feed_tokens": "Kept until its holder revokes it (or deletes the account)",
    }


#: what a table holds when nothing above describes it: rows of the account are the account
#: holder's to delete; rows of an org stay until the org deletes them
_DEFAULT_RETENTION = {
    "account": "Kept until the account holder deletes it or the account",
    "organization": "Kept until the organization deletes it",
}

_ON_DELETION = {
    "accounts": "deleted",
    "data_keys": "destroyed",
    "rsvps": f"anonymized: alias {FORMER_MEMBER!r}, contact erased, places kept as counts",
    "trip_applications": (
        "withdrawn if still live (the place goes to the waitlist), then detached; answers "
        "and sealed data erased"
    ),
    "ride_offers": "cancelled with notice to the riders, then deleted",
    "ride_bookings": "cancelled with notice to the driver, then deleted",
    "memberships": "deleted (refused while the account is an org's last owner)",
}

_FIELDS = {
    ("accounts", "email_lookup"): "Keyed hash of the email, to find the account at login",
    ("accounts", "email_ciphertext"): "Email, sealed with the account's own key",
    ("accounts", "display_name"): "The name others see (an alias is fine)",
    ("accounts", "password_hash"): "argon2id hash of the password",
    ("data_keys", "wrapped_key"): "The account's data key, wrapped by the master key",
    ("sessions", "token_hash"): "SHA-256 of the bearer token",
    ("sessions", "label"): "Device label chosen at login",
    ("sessions", "expires_at"): "When the session stops working (it dates the login)",
    ("account_totp", "secret_ciphertext"): "TOTP secret, sealed with the account's 'totp' key",
    ("recovery_codes", "code_hash"): "Keyed hash of an unused recovery code",
    ("rsvps", "alias"): "The name given with the RSVP",
    ("rsvps", "contact_ciphertext"): "Email or phone given with the RSVP, sealed per event",
    ("rsvps", "manage_token_hash"): "SHA-256 of the RSVP's secret manage link",
    ("rsvps", "language_needs"): "Languages asked for",
    ("trip_applications", "answers"): "Answers to the trip's application questions",
    ("trip_applications", "emergency_contact_ciphertext"): "Emergency contact, sealed per trip",
    ("trip_applications", "notes_ciphertext"): "Medical, dietary, accessibility notes, sealed",
    ("ride_offers", "pickup_ciphertext"): "Exact pickup point, sealed per ride",
    ("ride_offers", "contact_ciphertext"): "The driver's contact for riders, sealed per ride",
    ("ride_offers", "area"): "Coarse departure area",
    ("ride_requests", "area"): "Coarse area the rider leaves from",
    ("notifications", "payload"): "Ids, times and areas of the notice; no one's contact",
    ("audit_log", "detail"): "What was done (counts, roles); never list contents",
}

_HASHED_SUFFIXES = ("_hash", "_lookup")


def _storage(table: str, column: str) -> str:
    if column.endswith("_ciphertext") or (table, column) == ("data_keys", "wrapped_key"):
        return "encrypted"
    if column.endswith(_HASHED_SUFFIXES):
        return "hashed"
    return "plaintext"


def _describe(table: str, column: str) -> str:
    if (table, column) in _FIELDS:
        return _FIELDS[(table, column)]
    if column == "id":
        return "Random id of the row"
    if column.endswith("_id"):
        return f"Link to {column.removesuffix('_id').replace('_', ' ')}"
    if column.endswith("_at"):
        return f"When it was {column.removesuffix('_at').replace('_', ' ')}"
    return column.replace("_", " ").capitalize()


def _fields(table: str, columns: list[str]) -> list[HeldField]:
    return [
        HeldField(name=c, storage=_storage(table, c), description=_describe(table, c))  # type: ignore[arg-type]
        for c in columns
    ]


def _held_table(
    table: str,
    linked_by: str,
    rows: int,
    columns: list[str],
    *,
    scope: str,
    on_delete: str,
    retention: dict[str, str],
    on_account_deletion: str | None = None,
) -> HeldTable:
    return HeldTable(
        table=table,
        scope=scope,  # type: ignore[arg-type]
        linked_by=linked_by,
        rows=rows,
        retention=retention.get(table, _DEFAULT_RETENTION[scope]),
        on_account_deletion=on_account_deletion
        or _ON_DELETION.get(
            table,
            "deleted" if on_delete == "cascade" else "kept; its link to the account is removed",
        ),
        fields=_fields(table, columns),
    )


async def applied_retention(
    conn: asyncpg.Connection, settings: Settings, org_id: UUID
) -> Retention:
    """The org's windows as the purge applies them: its own where shorter, else the default."""
    defaults = Retention.from_settings(settings)
    own = await retention_queries.select_org_retention(conn, org_id)
    values = {}
    for field in msgspec.structs.fields(Retention):
        default = getattr(defaults, field.name)
        mine = own[field.name] if own is not None else None
        values[field.name] = default if mine is None else min(mine, default)
    return Retention(**values)


async def build_report(
    conn: asyncpg.Connection,
    settings: Settings,
    org: asyncpg.Record,
    account_id: UUID,
    role: str | None,
) -> PrivacyReport:
    """Every table and field holding something about the account (a member of `org` with
    `role`, or None when it is not one) as far as `org` can see: the account-wide rows
    (account, keys, sessions, two-factor) and the org's own rows; counts and forms, never
    values."""
    windows = await applied_retention(conn, settings, org["id"])
    texts = _retention_texts(windows)

    async def held(table: str, linked_by: str, rows: int, **kwargs: Any) -> HeldTable:
        columns = kwargs.pop("columns", None) or await q.select_table_columns(conn, table)
        return _held_table(table, linked_by, rows, columns, retention=texts, **kwargs)

    tables = [await held("accounts", "id", 1, scope="account", on_delete="cascade")]
    keys = await q.count_account_data_keys(conn, account_id)
    if keys:
        tables.append(
            await held("data_keys", "scope_id", keys, scope="account", on_delete="cascade")
        )
    for ref in await q.select_account_references(conn):
        table, column, columns = ref["table_name"], ref["column_name"], list(ref["columns"])
        scoped = q.org_scoped(columns)
        rows = await q.count_referencing_rows(
            conn, table, column, columns, account_id, org["id"] if scoped else None
        )
        if rows:
            tables.append(
                await held(
                    table,
                    column,
                    rows,
                    columns=columns,
                    scope="organization" if scoped else "account",
                    on_delete=ref["on_delete"],
                )
            )
    about_them = await q.count_audit_subject_rows(conn, account_id, org["id"])
    if about_them:
        tables.append(
            await held(
                "audit_log", "subject_id", about_them, scope="organization", on_delete="set null"
            )
        )
    return PrivacyReport(
        subject="member" if role is not None else "non_member",
        account_id=account_id,
        org_slug=org["slug"],
        role=role,
        generated_at=datetime.now(UTC),
        tables=tables,
        purges=await _purges(conn, account_id, org["id"], windows),
        never_stored=NEVER_STORED,
    )


def _title(texts: dict[str, str]) -> str:
    return next(iter(texts.values()), "") if texts else ""


def _rsvp_purge(r: asyncpg.Record) -> ScheduledPurge:
    return ScheduledPurge(
        table="rsvps",
        row_id=r["id"],
        fields=["contact_ciphertext"],
        about=f"event {r['event_id']} ({_title(r['title'])})",
        state="held" if r["held"] else "purged",
        purge_after=r["purge_after"] if r["held"] else None,
        purged_at=r["contact_purged_at"],
    )


async def _purges(
    conn: asyncpg.Connection, account_id: UUID, org_id: UUID, windows: Retention
) -> list[ScheduledPurge]:
    rsvps = await q.select_rsvp_purges(conn, account_id, org_id, windows.rsvp_contact_hours)
    items = [_rsvp_purge(r) for r in rsvps]
    applications = await q.select_application_purges(
        conn, account_id, org_id, windows.trip_emergency_days
    )
    for r in applications:
        items.append(
            ScheduledPurge(
                table="trip_applications",
                row_id=r["id"],
                fields=["emergency_contact_ciphertext", "notes_ciphertext"],
                about=f"trip {r['trip_id']} ({_title(r['title'])})",
                state="held" if r["held"] else "purged",
                purge_after=r["purge_after"] if r["held"] else None,
                purged_at=r["data_purged_at"],
            )
        )
    for r in await q.select_ride_purges(conn, account_id, org_id, windows.ride_pickup_hours):
        parent = f"event {r['event_id']}" if r["event_id"] else f"trip {r['trip_id']}"
        items.append(
            ScheduledPurge(
                table="ride_offers",
                row_id=r["id"],
                fields=["pickup_ciphertext", "contact_ciphertext"],
                about=f"ride to {parent}",
                state="held" if r["held"] else "purged",
                purge_after=r["purge_after"] if r["held"] else None,
                purged_at=r["pickup_purged_at"],
            )
        )
    return items


async def privacy_report(
    conn: asyncpg.Connection,
    settings: Settings,
    slug: str,
    account_id: UUID | None,
    member_id: UUID,
) -> PrivacyReport:
    """The drill for one person, for the org's owners: a member, or an account the org holds
    anything about (RSVPs, applications, rides); the run is written to the audit log."""
    org = await require_org_role(conn, slug, account_id, "owner")
    report = await _report_for(conn, settings, org, member_id)
    if report is None:
        raise NotFound("The organization holds nothing about this account.")
    await audit.insert_audit_entry(
        conn, org["id"], account_id, "privacy_report.viewed", "account", member_id
    )
    return report


async def _report_for(
    conn: asyncpg.Connection, settings: Settings, org: asyncpg.Record, account_id: UUID
) -> PrivacyReport | None:
    """The drill about an account; None when it is neither a member nor in any of the org's
    rows (nothing to report, and the owner learns nothing about the account)."""
    member = await orgs.select_membership(conn, org["id"], account_id)
    role = None if member is None else member["role"]
    report = await build_report(conn, settings, org, account_id, role)
    if member is None and not any(t.scope == "organization" for t in report.tables):
        return None
    return report


async def rsvp_report(conn: asyncpg.Connection, settings: Settings, token: str) -> PrivacyReport:
    """The drill for one RSVP, for whoever holds its manage link (no account needed): the RSVP
    row, what points at it and when its contact goes. It reads and writes nothing else."""
    if not token.startswith(MANAGE_PREFIX + "_") or len(token) > 100:
        raise NotFound("This manage link is not valid.")
    rsvp = await rsvp_queries.select_rsvp_by_token_hash(conn, token_hash(token))
    if rsvp is None:
        raise NotFound("This manage link is not valid.")
    org = await q.select_org_by_id(conn, rsvp["org_id"])
    assert org is not None
    windows = await applied_retention(conn, settings, org["id"])
    texts = _retention_texts(windows)
    linked = rsvp["account_id"] is not None
    unlinked = "nothing: no account is linked to this RSVP"

    async def held(table: str, linked_by: str, rows: int, on_delete: str) -> HeldTable:
        return _held_table(
            table,
            linked_by,
            rows,
            await q.select_table_columns(conn, table),
            scope="organization",
            on_delete=on_delete,
            retention=texts,
            on_account_deletion=None if linked else unlinked,
        )

    tables = [await held("rsvps", "id", 1, "set null")]
    for ref in await q.select_rsvp_references(conn):
        table, column, columns = ref["table_name"], ref["column_name"], list(ref["columns"])
        rows = await q.count_referencing_rows(conn, table, column, columns, rsvp["id"], None)
        if rows:
            tables.append(await held(table, column, rows, ref["on_delete"]))
    about_it = await q.count_audit_subject_rows(conn, rsvp["id"], org["id"], "rsvp")
    if about_it:
        tables.append(await held("audit_log", "subject_id", about_it, "set null"))
    purges = []
    purge = await q.select_rsvp_purge(conn, rsvp["id"], windows.rsvp_contact_hours)
    if purge is not None:
        purges.append(_rsvp_purge(purge))
    return PrivacyReport(
        subject="rsvp",
        account_id=None,
        rsvp_id=rsvp["id"],
        org_slug=org["slug"],
        role=None,
        generated_at=datetime.now(UTC),
        tables=tables,
        purges=purges,
        never_stored=NEVER_STORED,
    )


async def run_drill(
    conn: asyncpg.Connection, keyring: Keyring, settings: Settings, slug: str, member: str
) -> PrivacyReport:
    """The drill from the command line (`caravan privacy report`): `member` is an email or an
    account id, of a member or anyone the org holds data about; the run is written to the
    org's audit log as made from the command line."""
    org = await orgs.select_org(conn, slug)
    if org is None:
        raise NotFound(f"No organization has the slug {slug!r}.")
    try:
        member_id: UUID | None = UUID(member)
    except ValueError:
        member_id = await accounts.find_account_id_by_email(conn, keyring, member)
    report = None if member_id is None else await _report_for(conn, settings, org, member_id)
    if member_id is None or report is None:
        raise NotFound(
            f"No member of {slug}, nor anyone it holds data about, has this email or account id."
        )
    await audit.insert_audit_entry(
        conn, org["id"], None, "privacy_report.viewed", "account", member_id, {"via": "cli"}
    )
    return report
