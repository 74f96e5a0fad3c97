"""SQL for webhook endpoints, the outbox fan-out, and deliveries claimed with SKIP LOCKED."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

ENDPOINT_COLUMNS = """w.id, w.org_id, w.url, w.description, w.event_types, w.disabled_at,
       w.disabled_reason, w.created_at, w.updated_at"""
DELIVERY_COLUMNS = """d.id, d.endpoint_id, d.message_id, d.event_type, d.status, d.attempts,
       d.next_attempt_at, d.last_attempt_at, d.last_status_code, d.last_error, d.created_at,
       d.succeeded_at"""


# ---------------------------------------------------------------- endpoints


async def insert_endpoint(
    conn: asyncpg.Connection,
    org_id: UUID,
    url: str,
    description: str,
    event_types: Sequence[str],
    secret_ciphertext: bytes,
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""
        INSERT INTO webhook_endpoints AS w (org_id, url, description, event_types,
                                            secret_ciphertext)
        VALUES ($1, $2, $3, $4, $5)
        RETURNING {ENDPOINT_COLUMNS}
        """,
        org_id,
        url,
        description,
        list(event_types),
        secret_ciphertext,
    )
    assert row is not None
    return row


async def select_endpoints(
    conn: asyncpg.Connection, org_id: UUID, after: tuple[datetime, UUID] | None, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""
        SELECT {ENDPOINT_COLUMNS}
          FROM webhook_endpoints w
         WHERE w.org_id = $1
           AND ($2::timestamptz IS NULL OR (w.created_at, w.id) > ($2, $3))
         ORDER BY w.created_at, w.id
         LIMIT $4
        """,
        org_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def select_endpoint(
    conn: asyncpg.Connection, org_id: UUID, endpoint_id: UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    lock = "FOR UPDATE" if for_update else ""
    return await conn.fetchrow(
        f"""
        SELECT {ENDPOINT_COLUMNS}
          FROM webhook_endpoints w
         WHERE w.id = $1 AND w.org_id = $2
         {lock}
        """,
        endpoint_id,
        org_id,
    )


async def update_endpoint(
    conn: asyncpg.Connection,
    endpoint_id: UUID,
    url: str,
    description: str,
    event_types: Sequence[str],
    enabled: bool,
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""
        UPDATE webhook_endpoints w
           SET url             = $2,
               description     = $3,
               event_types     = $4,
               disabled_at     = CASE WHEN $5 THEN NULL ELSE coalesce(w.disabled_at, now()) END,
               disabled_reason = CASE WHEN $5 THEN NULL
                                      ELSE coalesce(w.disabled_reason, 'disabled by the org') END,
               updated_at      = now()
         WHERE w.id = $1
        RETURNING {ENDPOINT_COLUMNS}
        """,
        endpoint_id,
        url,
        description,
        list(event_types),
        enabled,
    )
    assert row is not None
    return row


async def delete_endpoint(conn: asyncpg.Connection, org_id: UUID, endpoint_id: UUID) -> bool:
    status = await conn.execute(
        "DELETE FROM webhook_endpoints WHERE id = $1 AND org_id = $2", endpoint_id, org_id
    )
    return status != "DELETE 0"


async def disable_endpoint(conn: asyncpg.Connection, endpoint_id: UUID, reason: str) -> None:
    await conn.execute(
        """
        UPDATE webhook_endpoints
           SET disabled_at = coalesce(disabled_at, now()), disabled_reason = $2,
               updated_at = now()
         WHERE id = $1
        """,
        endpoint_id,
        reason,
    )


async def select_live_endpoints(
    conn: asyncpg.Connection, org_ids: Sequence[UUID]
) -> list[asyncpg.Record]:
    """Enabled endpoints of these orgs (for the fan-out)."""
    return await conn.fetch(
        """
        SELECT w.id, w.org_id, w.event_types
          FROM webhook_endpoints w
         WHERE w.org_id = ANY($1::uuid[]) AND w.disabled_at IS NULL
         ORDER BY w.created_at, w.id
        """,
        list(org_ids),
    )


async def select_endpoint_secret(conn: asyncpg.Connection, endpoint_id: UUID) -> bytes | None:
    secret: bytes | None = await conn.fetchval(
        "SELECT secret_ciphertext FROM webhook_endpoints WHERE id = $1", endpoint_id
    )
    return secret


# ---------------------------------------------------------------- the outbox fan-out


async def claim_outbox(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Undispatched outbox rows, oldest first, locked; rows another worker holds are skipped."""
    return await conn.fetch(
        """
        SELECT o.id, o.org_id, o.topic, o.subject_id, o.payload, o.created_at
          FROM outbox o
         WHERE o.dispatched_at IS NULL
         ORDER BY o.id
         LIMIT $1
           FOR UPDATE SKIP LOCKED
        """,
        limit,
    )


async def mark_dispatched(conn: asyncpg.Connection, outbox_ids: Sequence[int]) -> None:
    await conn.execute(
        "UPDATE outbox SET dispatched_at = now() WHERE id = ANY($1::bigint[])", list(outbox_ids)
    )


async def select_event_state(conn: asyncpg.Connection, event_id: UUID) -> asyncpg.Record | None:
    """What the fan-out needs to know about an event: who hosts it and whether it is public."""
    return await conn.fetchrow(
        """
        SELECT e.id, e.org_id, e.visibility, e.status, e.sequence, e.change_seq, e.hide_counts,
               (SELECT o.slug FROM orgs o WHERE o.id = e.org_id) AS org_slug,
               coalesce((SELECT array_agg(ec.org_id) FROM event_cohosts ec
                          WHERE ec.event_id = e.id), '{}') AS cohost_ids
          FROM events e
         WHERE e.id = $1
        """,
        event_id,
    )


async def select_trip_state(conn: asyncpg.Connection, trip_id: UUID) -> asyncpg.Record | None:
    """Whether a trip is public (trip and ride messages follow it)."""
    return await conn.fetchrow(
        "SELECT t.id, t.org_id, t.visibility, t.status FROM trips t WHERE t.id = $1", trip_id
    )


async def select_announced_orgs(conn: asyncpg.Connection, event_id: UUID) -> list[UUID]:
    rows = await conn.fetch(
        "SELECT org_id FROM webhook_announcements WHERE event_id = $1", event_id
    )
    return [r["org_id"] for r in rows]


async def insert_announcement(conn: asyncpg.Connection, org_id: UUID, event_id: UUID) -> None:
    await conn.execute(
        """
        INSERT INTO webhook_announcements (org_id, event_id) VALUES ($1, $2)
        ON CONFLICT ON CONSTRAINT webhook_announcements_pkey DO NOTHING
        """,
        org_id,
        event_id,
    )


async def delete_announcement(conn: asyncpg.Connection, org_id: UUID, event_id: UUID) -> None:
    await conn.execute(
        "DELETE FROM webhook_announcements WHERE org_id = $1 AND event_id = $2", org_id, event_id
    )


# ---------------------------------------------------------------- deliveries


async def insert_delivery(
    conn: asyncpg.Connection,
    delivery_id: UUID,
    endpoint_id: UUID,
    org_id: UUID,
    message_id: str,
    event_type: str,
    body: str,
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""
        INSERT INTO webhook_deliveries AS d (id, endpoint_id, org_id, message_id, event_type, body,
                                             next_attempt_at, created_at)
        -- clock_timestamp: one fan-out's deliveries keep their order (first due, first sent)
        VALUES ($1, $2, $3, $4, $5, $6, clock_timestamp(), clock_timestamp())
        RETURNING {DELIVERY_COLUMNS}
        """,
        delivery_id,
        endpoint_id,
        org_id,
        message_id,
        event_type,
        body,
    )
    assert row is not None
    return row


async def claim_due_deliveries(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Pending deliveries whose time has come, of enabled endpoints, locked for this worker
    until its transaction ends; if the worker dies, the lock goes and they stay pending."""
    return await conn.fetch(
        """
        SELECT d.id, d.endpoint_id, d.org_id, d.message_id, d.event_type, d.body, d.attempts,
               d.round_attempts, w.url, w.secret_ciphertext
          FROM webhook_deliveries d
          JOIN webhook_endpoints w ON w.id = d.endpoint_id
         WHERE d.status = 'pending' AND d.next_attempt_at <= clock_timestamp()
           AND w.disabled_at IS NULL
         ORDER BY d.next_attempt_at, d.id
         LIMIT $1
           FOR UPDATE OF d SKIP LOCKED
        """,
        limit,
    )


async def record_attempt(
    conn: asyncpg.Connection,
    delivery_id: UUID,
    *,
    status: str,
    status_code: int | None,
    error: str | None,
    retry_in_s: float | None,
) -> None:
    await conn.execute(
        """
        UPDATE webhook_deliveries
           SET status           = $2,
               attempts         = attempts + 1,
               round_attempts   = round_attempts + 1,
               last_attempt_at  = now(),
               last_status_code = $3,
               last_error       = $4,
               next_attempt_at  = CASE WHEN $5::float8 IS NULL THEN next_attempt_at
                                       ELSE now() + make_interval(secs => $5) END,
               succeeded_at     = CASE WHEN $2 = 'succeeded' THEN now() END
         WHERE id = $1
        """,
        delivery_id,
        status,
        status_code,
        error,
        retry_in_s,
    )


async def select_deliveries(
    conn: asyncpg.Connection, endpoint_id: UUID, after: tuple[datetime, UUID] | None, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""
        SELECT {DELIVERY_COLUMNS}
          FROM webhook_deliveries d
         WHERE d.endpoint_id = $1
           AND ($2::timestamptz IS NULL OR (d.created_at, d.id) < ($2, $3))
         ORDER BY d.created_at DESC, d.id DESC
         LIMIT $4
        """,
        endpoint_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def redeliver(
    conn: asyncpg.Connection, endpoint_id: UUID, delivery_id: UUID
) -> asyncpg.Record | None:
    """A failed delivery is due again with a fresh backoff schedule; None unless it failed."""
    return await conn.fetchrow(
        f"""
        UPDATE webhook_deliveries d
           SET status = 'pending', next_attempt_at = now(), round_attempts = 0
         WHERE d.id = $1 AND d.endpoint_id = $2 AND d.status = 'failed'
        RETURNING {DELIVERY_COLUMNS}
        """,
        delivery_id,
        endpoint_id,
    )


async def select_delivery(
    conn: asyncpg.Connection, endpoint_id: UUID, delivery_id: UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d WHERE d.id = $1 AND d.endpoint_id = $2",
        delivery_id,
        endpoint_id,
    )


# ---------------------------------------------------------------- clean-up


async def delete_finished_deliveries(conn: asyncpg.Connection, older_than_days: int) -> int:
    status = await conn.execute(
        """
        DELETE FROM webhook_deliveries
         WHERE status <> 'pending' AND created_at < now() - make_interval(days => $1)
        """,
        older_than_days,
    )
    return int(status.split()[-1])


async def delete_dispatched_outbox(conn: asyncpg.Connection, older_than_days: int) -> int:
    status = await conn.execute(
        """
        DELETE FROM outbox
         WHERE dispatched_at IS NOT NULL AND dispatched_at < now() - make_interval(days => $1)
        """,
        older_than_days,
    )
    return int(status.split()[-1])
