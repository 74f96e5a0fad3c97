"""SQL for trip applications: states, the waitlist, sealed participant data, checklists, purge."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

APPLICATION_COLUMNS = """
       a.id, a.trip_id, a.org_id, a.account_id, a.status, a.roles, a.answers, a.arrival,
       a.waitlisted_at, a.emergency_contact_ciphertext, a.notes_ciphertext, a.data_purged_at,
       a.decided_by, a.decided_at, a.withdrawn_at, a.created_at, a.updated_at,
       (a.emergency_contact_ciphertext IS NOT NULL OR a.notes_ciphertext IS NOT NULL)
           AS has_participant_data,
       (SELECT ac.display_name FROM accounts ac WHERE ac.id = a.account_id) AS display_name"""

# The waitlist is served in the order people were put on it (ties: order of application).
_WAITLIST_ORDER = "a.waitlisted_at, a.arrival"


async def insert_application(
    conn: asyncpg.Connection,
    trip_id: UUID,
    org_id: UUID,
    account_id: UUID,
    roles: list[str],
    answers: dict[str, Any],
    emergency_contact_ciphertext: bytes | None,
    notes_ciphertext: bytes | None,
) -> asyncpg.Record | None:
    """Insert an application; None when the account already has a live one for the trip."""
    return await conn.fetchrow(
        f"""
        WITH inserted AS (
            INSERT INTO trip_applications (trip_id, org_id, account_id, roles, answers,
                                           emergency_contact_ciphertext, notes_ciphertext)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (trip_id, account_id) WHERE status <> 'withdrawn' DO NOTHING
            RETURNING *
        )
        SELECT {APPLICATION_COLUMNS}
          FROM inserted a
        """,
        trip_id,
        org_id,
        account_id,
        roles,
        answers,
        emergency_contact_ciphertext,
        notes_ciphertext,
    )


async def select_application(
    conn: asyncpg.Connection, application_id: UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    lock = "FOR UPDATE OF a" if for_update else ""
    return await conn.fetchrow(
        f"SELECT {APPLICATION_COLUMNS} FROM trip_applications a WHERE a.id = $1 {lock}",
        application_id,
    )


async def select_trip_id_of(conn: asyncpg.Connection, application_id: UUID) -> UUID | None:
    """The trip an application belongs to (to lock the trip before the application)."""
    trip_id: UUID | None = await conn.fetchval(
        "SELECT trip_id FROM trip_applications WHERE id = $1", application_id
    )
    return trip_id


async def select_live_application(
    conn: asyncpg.Connection, trip_id: UUID, account_id: UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""
        SELECT {APPLICATION_COLUMNS}
          FROM trip_applications a
         WHERE a.trip_id = $1 AND a.account_id = $2 AND a.status <> 'withdrawn'
        """,
        trip_id,
        account_id,
    )


async def is_accepted_participant(
    conn: asyncpg.Connection, trip_id: UUID, account_id: UUID | None
) -> bool:
    """Whether the account is an accepted participant of the trip."""
    if account_id is None:
        return False
    found = await conn.fetchval(
        """
        SELECT EXISTS (SELECT 1 FROM trip_applications
                        WHERE trip_id = $1 AND account_id = $2 AND status = 'accepted')
        """,
        trip_id,
        account_id,
    )
    return bool(found)


async def update_status(
    conn: asyncpg.Connection,
    application_id: UUID,
    status: str,
    decided_by: UUID | None,
    roles: list[str] | None = None,
) -> asyncpg.Record:
    """Move an application to `status` (the caller locked the trip and checked the rule)."""
    row = await conn.fetchrow(
        f"""
        WITH changed AS (
            UPDATE trip_applications
               SET status        = $2,
                   roles         = coalesce($4::text[], roles),
                   waitlisted_at = CASE WHEN $2 = 'waitlisted' THEN clock_timestamp()
                                        ELSE waitlisted_at END,
                   decided_by    = CASE WHEN $2 = 'withdrawn' THEN decided_by ELSE $3 END,
                   decided_at    = CASE WHEN $2 = 'withdrawn' THEN decided_at ELSE now() END,
                   withdrawn_at  = CASE WHEN $2 = 'withdrawn' THEN now() ELSE withdrawn_at END,
                   updated_at    = now()
             WHERE id = $1
         RETURNING *
        )
        SELECT {APPLICATION_COLUMNS} FROM changed a
        """,
        application_id,
        status,
        decided_by,
        roles,
    )
    assert row is not None
    return row


async def next_waitlisted(conn: asyncpg.Connection, trip_id: UUID) -> asyncpg.Record | None:
    """The head of the waitlist, locked (the caller holds the trip lock)."""
    return await conn.fetchrow(
        f"""
        SELECT {APPLICATION_COLUMNS}
          FROM trip_applications a
         WHERE a.trip_id = $1 AND a.status = 'waitlisted'
         ORDER BY {_WAITLIST_ORDER}
         LIMIT 1
           FOR UPDATE OF a
        """,
        trip_id,
    )


async def waitlist_position(conn: asyncpg.Connection, application: asyncpg.Record) -> int | None:
    """1-based place on the waitlist; None when not waitlisted."""
    if application["status"] != "waitlisted":
        return None
    position: int = await conn.fetchval(
        f"""
        SELECT count(*) + 1
          FROM trip_applications a
         WHERE a.trip_id = $1 AND a.status = 'waitlisted'
           AND ({_WAITLIST_ORDER}) < ($2::timestamptz, $3::bigint)
        """,
        application["trip_id"],
        application["waitlisted_at"],
        application["arrival"],
    )
    return position


async def select_applications(
    conn: asyncpg.Connection,
    trip_id: UUID,
    *,
    status: str | None,
    after: int | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Applications in arrival order, each waitlisted one with its waitlist position (the
    window runs over all of the trip's applications before the page is cut)."""
    return await conn.fetch(
        f"""
        SELECT *
          FROM (SELECT {APPLICATION_COLUMNS},
                       CASE WHEN a.status = 'waitlisted' THEN
                           row_number() OVER (PARTITION BY a.status ORDER BY {_WAITLIST_ORDER})
                       END AS waitlist_position
                  FROM trip_applications a
                 WHERE a.trip_id = $1) page
         WHERE ($2::text IS NULL OR page.status = $2)
           AND ($3::bigint IS NULL OR page.arrival > $3)
         ORDER BY page.arrival
         LIMIT $4
        """,
        trip_id,
        status,
        after,
        limit,
    )


async def select_counts(conn: asyncpg.Connection, trip_id: UUID) -> list[asyncpg.Record]:
    """Rows of (status, role, applications); role NULL rows hold the total per status.
    Applications the purge removed count through their trip's tallies."""
    return await conn.fetch(
        """
        SELECT status, role, sum(applications)::int AS applications
          FROM (SELECT a.status, r.role, count(DISTINCT a.id) AS applications
                  FROM trip_applications a
                  LEFT JOIN LATERAL unnest(a.roles) AS r (role) ON true
                 WHERE a.trip_id = $1
                 GROUP BY GROUPING SETS ((a.status, r.role), (a.status))
                 UNION ALL
                SELECT status, nullif(role, ''), applications
                  FROM trip_application_tallies
                 WHERE trip_id = $1) counted
         GROUP BY status, role
        """,
        trip_id,
    )


async def select_account_applications(
    conn: asyncpg.Connection,
    account_id: UUID,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """The account's applications (withdrawn ones too), by the trip's start."""
    return await conn.fetch(
        f"""
        SELECT {APPLICATION_COLUMNS}, t.starts_at AS trip_starts_at
          FROM trip_applications a
          JOIN trips t ON t.id = a.trip_id
         WHERE a.account_id = $1
           AND ($2::timestamptz IS NULL OR (t.starts_at, a.id) > ($2, $3::uuid))
         ORDER BY t.starts_at, a.id
         LIMIT $4
        """,
        account_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


# ---------------------------------------------------------------- participant data


async def update_participant_data(
    conn: asyncpg.Connection,
    application_id: UUID,
    emergency_contact_ciphertext: bytes | None,
    notes_ciphertext: bytes | None,
) -> asyncpg.Record | None:
    """Replace the sealed data; None once it was purged (purged data is never rewritten)."""
    return await conn.fetchrow(
        f"""
        WITH changed AS (
            UPDATE trip_applications
               SET emergency_contact_ciphertext = $2,
                   notes_ciphertext             = $3,
                   updated_at                   = now()
             WHERE id = $1 AND data_purged_at IS NULL
         RETURNING *
        )
        SELECT {APPLICATION_COLUMNS} FROM changed a
        """,
        application_id,
        emergency_contact_ciphertext,
        notes_ciphertext,
    )


async def select_trips_due_for_purge(
    conn: asyncpg.Connection, now: datetime, days: int
) -> list[asyncpg.Record]:
    """Trips whose applications are due: `days` after the trip ended, or after it was
    cancelled if that came first; only trips with applications left."""
    return await conn.fetch(
        """
        SELECT t.id, t.org_id
          FROM trips t
         WHERE least(t.ends_at, coalesce(t.cancelled_at, t.ends_at))
               + make_interval(days => $2) <= $1
           AND EXISTS (SELECT 1 FROM trip_applications a WHERE a.trip_id = t.id)
         ORDER BY t.ends_at, t.id
           FOR UPDATE OF t SKIP LOCKED
        """,
        now,
        days,
    )


async def purge_participant_data(conn: asyncpg.Connection, trip_id: UUID, now: datetime) -> int:
    """Delete the trip's applications (who applied, answers, roles, sealed emergency data,
    checklist ticks), adding them to the trip's tallies per status and role first; returns
    how many held sealed data. (`now` is the purge's moment; deleted rows need no stamp.)"""
    held: int = await conn.fetchval(
        """
        WITH gone AS (
            DELETE FROM trip_applications
             WHERE trip_id = $1
         RETURNING status, roles,
                   (emergency_contact_ciphertext IS NOT NULL OR notes_ciphertext IS NOT NULL)
                       AS held
        ),
        counted AS (
            INSERT INTO trip_application_tallies AS t (trip_id, status, role, applications)
            SELECT $1, status, role, count(*)
              FROM (SELECT status, '' AS role FROM gone
                     UNION ALL
                    SELECT g.status, role FROM gone g, unnest(g.roles) AS role) each
             GROUP BY status, role
            ON CONFLICT ON CONSTRAINT trip_application_tallies_key
            DO UPDATE SET applications = t.applications + EXCLUDED.applications
        )
        SELECT count(*) FILTER (WHERE held)::int FROM gone
        """,
        trip_id,
    )
    return held


# ---------------------------------------------------------------- checklists


async def select_participants(
    conn: asyncpg.Connection, trip_id: UUID, *, application_id: UUID | None = None
) -> list[asyncpg.Record]:
    """Accepted participants in arrival order, each with `done` ({item_id: completed_at});
    only one of them with `application_id`."""
    return await conn.fetch(
        f"""
        SELECT {APPLICATION_COLUMNS},
               coalesce((SELECT jsonb_object_agg(cc.item_id, cc.completed_at)
                           FROM checklist_completions cc
                          WHERE cc.application_id = a.id), '{{}}'::jsonb) AS done
          FROM trip_applications a
         WHERE a.trip_id = $1 AND a.status = 'accepted'
           AND ($2::uuid IS NULL OR a.id = $2)
         ORDER BY a.arrival
        """,
        trip_id,
        application_id,
    )


async def insert_completion(
    conn: asyncpg.Connection, application_id: UUID, item_id: UUID, completed_by: UUID
) -> None:
    """Mark done (keeps the first completion when marked again)."""
    await conn.execute(
        """
        INSERT INTO checklist_completions (application_id, item_id, completed_by)
        VALUES ($1, $2, $3)
        ON CONFLICT ON CONSTRAINT checklist_completions_pkey DO NOTHING
        """,
        application_id,
        item_id,
        completed_by,
    )


async def delete_completion(conn: asyncpg.Connection, application_id: UUID, item_id: UUID) -> None:
    await conn.execute(
        "DELETE FROM checklist_completions WHERE application_id = $1 AND item_id = $2",
        application_id,
        item_id,
    )
