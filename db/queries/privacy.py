"""SQL for what is held about a person: export, self-deletion, the subpoena drill, audit reads."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

import asyncpg

# ---------------------------------------------------------------- every row pointing at an account

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def _ident(name: str) -> str:
    """Quote a table or column name read from the catalog (never from a request)."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"unexpected identifier {name!r}")
    return f'"{name}"'


async def select_account_references(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Each (table, column) with a foreign key to accounts, how deleting an account treats it,
    and which scoping columns the table has; read from the catalog so new tables show up."""
    return await _select_references(conn, "accounts")


async def select_rsvp_references(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """The same for foreign keys to rsvps: what else is held about one RSVP."""
    return await _select_references(conn, "rsvps")


async def _select_references(conn: asyncpg.Connection, target: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT cl.relname AS table_name,
               a.attname  AS column_name,
               CASE c.confdeltype WHEN 'c' THEN 'cascade' WHEN 'n' THEN 'set null'
                                  WHEN 'd' THEN 'set default' ELSE 'refuse' END AS on_delete,
               array(SELECT x.attname::text FROM pg_attribute x
                      WHERE x.attrelid = cl.oid AND x.attnum > 0 AND NOT x.attisdropped
                      ORDER BY x.attnum) AS columns
          FROM pg_constraint c
          JOIN pg_class cl     ON cl.oid = c.conrelid
          JOIN pg_namespace n  ON n.oid = cl.relnamespace
          JOIN pg_attribute a  ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
         WHERE c.contype = 'f'
           AND c.confrelid = $1::regclass
           AND n.nspname = current_schema()
         ORDER BY cl.relname, a.attname
        """,
        target,
    )


async def select_table_columns(conn: asyncpg.Connection, table: str) -> list[str]:
    rows = await conn.fetch(
        """
        SELECT attname::text AS name FROM pg_attribute
         WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped
         ORDER BY attnum
        """,
        table,
    )
    return [r["name"] for r in rows]


def _org_filter(columns: list[str], param: str) -> str | None:
    """A condition keeping one org's rows of a table, by the first scoping column it has."""
    if "org_id" in columns:
        return f"org_id = {param}"
    if "application_id" in columns:
        return f"application_id IN (SELECT id FROM trip_applications WHERE org_id = {param})"
    parts = []
    if "event_id" in columns:
        parts.append(f"event_id IN (SELECT id FROM events WHERE org_id = {param})")
    if "trip_id" in columns:
        parts.append(f"trip_id IN (SELECT id FROM trips WHERE org_id = {param})")
    return "(" + " OR ".join(parts) + ")" if parts else None


def org_scoped(columns: list[str]) -> bool:
    return _org_filter(columns, "$2") is not None


async def count_referencing_rows(
    conn: asyncpg.Connection,
    table: str,
    column: str,
    columns: list[str],
    account_id: UUID,
    org_id: UUID | None,
) -> int:
    """Rows of `table` whose `column` is the account; only the org's rows when the table can be
    scoped to an org and `org_id` is given."""
    where = f"{_ident(column)} = $1"
    args: list[Any] = [account_id]
    scope = _org_filter(columns, "$2") if org_id is not None else None
    if scope is not None:
        where += f" AND {scope}"
        args.append(org_id)
    count = await conn.fetchval(f"SELECT count(*) FROM {_ident(table)} WHERE {where}", *args)
    return int(count)


async def select_referencing_ids(
    conn: asyncpg.Connection, table: str, column: str, account_id: UUID
) -> list[UUID]:
    rows = await conn.fetch(
        f"SELECT id FROM {_ident(table)} WHERE {_ident(column)} = $1 ORDER BY id", account_id
    )
    return [r["id"] for r in rows]


async def count_account_data_keys(conn: asyncpg.Connection, account_id: UUID) -> int:
    count = await conn.fetchval(
        """
        SELECT count(*) FROM data_keys
         WHERE scope = 'account' AND scope_id = $1 AND wrapped_key IS NOT NULL
        """,
        account_id,
    )
    return int(count)


async def count_audit_subject_rows(
    conn: asyncpg.Connection, account_id: UUID, org_id: UUID | None, subject_type: str = "account"
) -> int:
    """Audit rows about the account (as subject, e.g. a role change), or with `subject_type`
    "rsvp" about one RSVP (e.g. a check-in), in one org or all."""
    count = await conn.fetchval(
        """
        SELECT count(*) FROM audit_log
         WHERE subject_id = $1 AND subject_type = $3
           AND ($2::uuid IS NULL OR org_id = $2)
        """,
        account_id,
        org_id,
        subject_type,
    )
    return int(count)


async def select_org_by_id(conn: asyncpg.Connection, org_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT id, slug FROM orgs WHERE id = $1", org_id)


# ---------------------------------------------------------------- the export


async def select_memberships(conn: asyncpg.Connection, account_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT o.id AS org_id, o.slug AS org_slug, o.name AS org_name, m.role,
               m.created_at AS joined_at
          FROM memberships m
          JOIN orgs o ON o.id = m.org_id
         WHERE m.account_id = $1
         ORDER BY o.slug
        """,
        account_id,
    )


async def select_rsvps(
    conn: asyncpg.Connection, account_id: UUID, default_hours: int
) -> list[asyncpg.Record]:
    """The account's RSVPs, each with when the purge takes it (its event's end plus the org's
    window, `default_hours` at most; NULL while the event is postponed)."""
    return await conn.fetch(
        """
        SELECT r.id, r.event_id, e.title AS event_title, r.shift_id, r.alias, r.alias_ciphertext,
               r.contact_ciphertext,
               CASE WHEN e.status <> 'postponed'
                    THEN e.ends_at + make_interval(
                             hours => least(coalesce(s.rsvp_contact_hours, $2), $2))
               END AS contact_purge_after,
               r.contact_purged_at, r.guests,
               r.places, r.language_needs, r.status, r.created_at, r.updated_at,
               r.cancelled_at, r.checked_in_at
          FROM rsvps r
          JOIN events e ON e.id = r.event_id
          LEFT JOIN org_retention_settings s ON s.org_id = r.org_id
         WHERE r.account_id = $1
         ORDER BY r.created_at, r.id
        """,
        account_id,
        default_hours,
    )


async def select_applications(conn: asyncpg.Connection, account_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT a.id, a.trip_id, t.title AS trip_title, a.status, a.roles, a.answers,
               a.emergency_contact_ciphertext, a.notes_ciphertext, a.data_purged_at,
               array(SELECT c.item_id FROM checklist_completions c
                      WHERE c.application_id = a.id ORDER BY c.item_id) AS checklist_items_done,
               a.created_at, a.updated_at, a.waitlisted_at, a.decided_at, a.withdrawn_at
          FROM trip_applications a
          JOIN trips t ON t.id = a.trip_id
         WHERE a.account_id = $1
         ORDER BY a.created_at, a.id
        """,
        account_id,
    )


async def select_ride_offers(conn: asyncpg.Connection, account_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT id, event_id, trip_id, seats, seats_taken, departs_at, area, area_lat, area_lon,
               pickup_ciphertext, contact_ciphertext, return_departs_at, return_seats,
               return_seats_taken, notes, accessibility, status, pickup_purged_at, created_at,
               updated_at, cancelled_at
          FROM ride_offers
         WHERE driver_id = $1
         ORDER BY departs_at, id
        """,
        account_id,
    )


async def select_ride_requests(conn: asyncpg.Connection, account_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT id, event_id, trip_id, leg, seats, area, area_lat, area_lon, earliest_at,
               latest_at, accessibility, status, created_at, updated_at
          FROM ride_requests
         WHERE rider_id = $1
         ORDER BY earliest_at, id
        """,
        account_id,
    )


async def select_ride_bookings(conn: asyncpg.Connection, account_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT id, offer_id, leg, seats, status, ended_by, created_at, updated_at, decided_at,
               cancelled_at
          FROM ride_bookings
         WHERE rider_id = $1
         ORDER BY created_at, id
        """,
        account_id,
    )


async def select_notifications(conn: asyncpg.Connection, account_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT id, kind, event_id, trip_id, payload, created_at, read_at
          FROM notifications
         WHERE account_id = $1
         ORDER BY created_at, id
        """,
        account_id,
    )


async def select_sessions(conn: asyncpg.Connection, account_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT label, expires_at FROM sessions
         WHERE account_id = $1 AND expires_at > now()
         ORDER BY expires_at, id
        """,
        account_id,
    )


async def select_audit_entries_naming(
    conn: asyncpg.Connection, account_id: UUID
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT o.slug AS org_slug,
               CASE WHEN l.actor_id = $1 THEN 'actor' ELSE 'subject' END AS named_as,
               l.action, l.subject_type,
               -- rows about other people (whose role one changed, whose RSVP one checked in)
               -- keep their kind but not their id: the export holds nothing of anyone else
               CASE WHEN l.subject_type IN ('account', 'rsvp', 'trip_application', 'ride_booking')
                         AND NOT (l.subject_type = 'account' AND l.subject_id = $1)
                    THEN NULL ELSE l.subject_id END AS subject_id,
               l.detail, l.created_at
          FROM audit_log l
          LEFT JOIN orgs o ON o.id = l.org_id
         WHERE l.actor_id = $1 OR (l.subject_type = 'account' AND l.subject_id = $1)
         ORDER BY l.id
        """,
        account_id,
    )


# ---------------------------------------------------------------- the subpoena drill: purges


async def select_rsvp_purges(
    conn: asyncpg.Connection, account_id: UUID, org_id: UUID, hours: int
) -> list[asyncpg.Record]:
    """The member's RSVPs in the org that hold, or held, a sealed contact, and when the purge
    reaches them: the deadline written with the RSVP or `hours` after the event, if sooner."""
    return await conn.fetch(
        """
        SELECT r.id, r.event_id, e.title, r.contact_ciphertext IS NOT NULL AS held,
               least(r.contact_purge_after, e.ends_at + make_interval(hours => $3))
                   AS purge_after,
               r.contact_purged_at
          FROM rsvps r
          JOIN events e ON e.id = r.event_id
         WHERE r.account_id = $1 AND r.org_id = $2
           AND (r.contact_ciphertext IS NOT NULL OR r.contact_purged_at IS NOT NULL)
         ORDER BY r.created_at, r.id
        """,
        account_id,
        org_id,
        hours,
    )


async def select_rsvp_purge(
    conn: asyncpg.Connection, rsvp_id: UUID, hours: int
) -> asyncpg.Record | None:
    """One RSVP's sealed contact, as select_rsvp_purges sees it; None if it never had one."""
    return await conn.fetchrow(
        """
        SELECT r.id, r.event_id, e.title, r.contact_ciphertext IS NOT NULL AS held,
               least(r.contact_purge_after, e.ends_at + make_interval(hours => $2))
                   AS purge_after,
               r.contact_purged_at
          FROM rsvps r
          JOIN events e ON e.id = r.event_id
         WHERE r.id = $1
           AND (r.contact_ciphertext IS NOT NULL OR r.contact_purged_at IS NOT NULL)
        """,
        rsvp_id,
        hours,
    )


async def select_application_purges(
    conn: asyncpg.Connection, account_id: UUID, org_id: UUID, days: int
) -> list[asyncpg.Record]:
    """The member's applications in the org with sealed participant data (or purged), and when
    the trip purge reaches them: `days` after the trip ends, or is cancelled if sooner."""
    return await conn.fetch(
        """
        SELECT a.id, a.trip_id, t.title,
               (a.emergency_contact_ciphertext IS NOT NULL OR a.notes_ciphertext IS NOT NULL)
                   AS held,
               least(t.ends_at, coalesce(t.cancelled_at, t.ends_at)) + make_interval(days => $3)
                   AS purge_after,
               a.data_purged_at
          FROM trip_applications a
          JOIN trips t ON t.id = a.trip_id
         WHERE a.account_id = $1 AND a.org_id = $2
           AND (a.emergency_contact_ciphertext IS NOT NULL OR a.notes_ciphertext IS NOT NULL
                OR a.data_purged_at IS NOT NULL)
         ORDER BY a.created_at, a.id
        """,
        account_id,
        org_id,
        days,
    )


async def select_ride_purges(
    conn: asyncpg.Connection, account_id: UUID, org_id: UUID, hours: int
) -> list[asyncpg.Record]:
    """The member's ride offers in the org with a sealed pickup or contact (or purged), and
    when the pickup purge reaches them: `hours` after the last leg leaves."""
    return await conn.fetch(
        """
        SELECT id, event_id, trip_id,
               (pickup_ciphertext IS NOT NULL OR contact_ciphertext IS NOT NULL) AS held,
               coalesce(return_departs_at, departs_at) + make_interval(hours => $3)
                   AS purge_after,
               pickup_purged_at
          FROM ride_offers
         WHERE driver_id = $1 AND org_id = $2
           AND (pickup_ciphertext IS NOT NULL OR contact_ciphertext IS NOT NULL
                OR pickup_purged_at IS NOT NULL)
         ORDER BY departs_at, id
        """,
        account_id,
        org_id,
        hours,
    )


# ---------------------------------------------------------------- self-deletion


async def lock_orgs_of(conn: asyncpg.Connection, account_id: UUID) -> None:
    """Lock the orgs the account belongs to, in id order (the order membership changes use
    one at a time), so the last-owner count below cannot race a concurrent change."""
    await conn.execute(
        """
        SELECT 1 FROM orgs
         WHERE id IN (SELECT org_id FROM memberships WHERE account_id = $1)
         ORDER BY id
           FOR UPDATE
        """,
        account_id,
    )


async def select_orgs_solely_owned(conn: asyncpg.Connection, account_id: UUID) -> list[str]:
    """Slugs of orgs where the account is the only owner."""
    rows = await conn.fetch(
        """
        SELECT o.slug
          FROM memberships m
          JOIN orgs o ON o.id = m.org_id
         WHERE m.account_id = $1 AND m.role = 'owner'
           AND NOT EXISTS (SELECT 1 FROM memberships x
                            WHERE x.org_id = m.org_id AND x.role = 'owner' AND x.account_id <> $1)
         ORDER BY o.slug
        """,
        account_id,
    )
    return [r["slug"] for r in rows]


async def select_live_driver_offers(conn: asyncpg.Connection, account_id: UUID) -> list[UUID]:
    """The account's offers that can still be cancelled: open or full, a leg still to leave."""
    rows = await conn.fetch(
        """
        SELECT id FROM ride_offers
         WHERE driver_id = $1 AND status IN ('open', 'full')
           AND coalesce(return_departs_at, departs_at) > now()
         ORDER BY departs_at, id
        """,
        account_id,
    )
    return [r["id"] for r in rows]


async def select_live_rider_bookings(conn: asyncpg.Connection, account_id: UUID) -> list[UUID]:
    """The account's requested or confirmed seats on others' rides whose leg has not left."""
    rows = await conn.fetch(
        """
        SELECT b.id
          FROM ride_bookings b
          JOIN ride_offers o ON o.id = b.offer_id
         WHERE b.rider_id = $1 AND b.status IN ('requested', 'confirmed')
           AND o.driver_id <> $1 AND o.status IN ('open', 'full')
           AND CASE b.leg WHEN 'return' THEN o.return_departs_at ELSE o.departs_at END > now()
         ORDER BY b.created_at, b.id
        """,
        account_id,
    )
    return [r["id"] for r in rows]


async def select_live_applications(conn: asyncpg.Connection, account_id: UUID) -> list[UUID]:
    """Applications that still hold or wait for a place on a trip that is not over."""
    rows = await conn.fetch(
        """
        SELECT a.id
          FROM trip_applications a
          JOIN trips t ON t.id = a.trip_id
         WHERE a.account_id = $1 AND a.status IN ('applied', 'accepted', 'waitlisted')
           AND t.status NOT IN ('cancelled', 'completed') AND t.ends_at > now()
         ORDER BY a.created_at, a.id
        """,
        account_id,
    )
    return [r["id"] for r in rows]


async def erase_applications(conn: asyncpg.Connection, account_id: UUID) -> int:
    """Detach the account's applications and erase what they say about the person; statuses,
    roles and counts stay."""
    status = await conn.execute(
        """
        UPDATE trip_applications
           SET account_id = NULL,
               answers = '{}',
               emergency_contact_ciphertext = NULL,
               notes_ciphertext = NULL,
               data_purged_at = coalesce(data_purged_at, now()),
               updated_at = now()
         WHERE account_id = $1
        """,
        account_id,
    )
    return int(status.split()[-1])


async def anonymize_rsvps(conn: asyncpg.Connection, account_id: UUID, alias: str) -> list[UUID]:
    """Turn the account's RSVPs into anonymous places: no account, a stock alias, no contact,
    and a manage link nobody holds. Status and places stay, so every count stays right."""
    rows = await conn.fetch(
        """
        UPDATE rsvps
           SET account_id = NULL,
               alias = $2,
               alias_ciphertext = NULL,
               contact_purged_at = CASE WHEN contact_ciphertext IS NOT NULL THEN now()
                                        ELSE contact_purged_at END,
               contact_ciphertext = NULL,
               manage_token_hash = sha256(convert_to(gen_random_uuid()::text || id::text, 'UTF8')),
               updated_at = now()
         WHERE account_id = $1
     RETURNING id
        """,
        account_id,
        alias,
    )
    return [r["id"] for r in rows]


async def delete_rsvp_notifications(conn: asyncpg.Connection, rsvp_ids: list[UUID]) -> None:
    """The inbox behind manage links that no longer open."""
    await conn.execute("DELETE FROM notifications WHERE rsvp_id = ANY($1::uuid[])", rsvp_ids)


async def delete_memberships(conn: asyncpg.Connection, account_id: UUID) -> list[UUID]:
    rows = await conn.fetch(
        "DELETE FROM memberships WHERE account_id = $1 RETURNING org_id", account_id
    )
    return [r["org_id"] for r in rows]


# ---------------------------------------------------------------- the audit log


async def select_audit_entries(
    conn: asyncpg.Connection, org_id: UUID, action: str | None, before_id: int | None, limit: int
) -> list[asyncpg.Record]:
    """The org's audit rows, newest first, optionally of one action."""
    return await conn.fetch(
        """
        SELECT l.id, l.action, l.actor_id, a.display_name AS actor_name, l.subject_type,
               l.subject_id, l.detail, l.created_at
          FROM audit_log l
          LEFT JOIN accounts a ON a.id = l.actor_id
         WHERE l.org_id = $1
           AND ($2::text IS NULL OR l.action = $2)
           AND ($3::bigint IS NULL OR l.id < $3)
         ORDER BY l.id DESC
         LIMIT $4
        """,
        org_id,
        action,
        before_id,
        limit,
    )
