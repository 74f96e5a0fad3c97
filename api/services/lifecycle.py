"""One status transition for any hosted thing: lock, check, write, reload, tell, record."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from db.queries import hosts

Load = Callable[[asyncpg.Connection, UUID, UUID | None], Awaitable[asyncpg.Record]]
Effect = Callable[[asyncpg.Connection, asyncpg.Record], Awaitable[object]]


@dataclass(frozen=True)
class HostedKind:
    """How one kind of hosted thing is found, locked, reloaded and recorded in the outbox."""

    kind: hosts.Kind
    #: the row if the caller organizes it (else 401/403/404)
    find: Load
    #: the same, with the row locked for the rest of the transaction
    lock: Load
    #: the row after the change, with the caller's standing
    reload: Load
    #: the change record for partners and webhooks
    outbox: Callable[[asyncpg.Connection, asyncpg.Record, str], Awaitable[None]]


async def transition(
    hosted: HostedKind,
    conn: asyncpg.Connection,
    row_id: UUID,
    account_id: UUID | None,
    decide: Callable[[asyncpg.Record], str],
    *,
    topic: str,
    reason: str | None = None,
    notify: Effect | None = None,
    then: Effect | None = None,
) -> asyncpg.Record:
    """Move the row to the status `decide` picks from the locked row (it raises Conflict when
    no move is allowed); `notify` tells the people affected before the outbox records the
    change, `then` does the follow-on work (e.g. cancelling rides). Returns the new row."""
    row = await hosted.lock(conn, row_id, account_id)
    status = decide(row)
    await hosts.update_status(conn, hosted.kind, row_id, status, reason)
    after = await hosted.reload(conn, row_id, account_id)
    if notify is not None:
        await notify(conn, after)
    await hosted.outbox(conn, after, topic)
    if then is not None:
        await then(conn, after)
    return after
