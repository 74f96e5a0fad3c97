"""One status transition for any hosted thing: lock, check, write, reload, tell, record."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from api.errors import Conflict, Forbidden
from api.services.access import is_host_organizer
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

    async def lock_as_host(
        self, conn: asyncpg.Connection, row_id: UUID, account_id: UUID | None, action: str
    ) -> asyncpg.Record:
        """The locked row if the caller organizes the creating org (who alone deletes a draft
        and picks co-hosts); `action` completes the refusal ("add co-hosts")."""
        row = await self.lock(conn, row_id, account_id)
        if not is_host_organizer(row):
            raise Forbidden(f"Only organizers of the creating organization {action}.")
        return row


def refusing(status: str, refused: Mapping[str, str]) -> Callable[[asyncpg.Record], str]:
    """A `decide` for transition: move to `status` unless the row's status is one of
    `refused`, which says why not (409)."""

    def decide(row: asyncpg.Record) -> str:
        why = refused.get(row["status"])
        if why is not None:
            raise Conflict(why)
        return status

    return decide


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
