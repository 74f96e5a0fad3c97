"""Deleting one's own account: rides cancelled, applications withdrawn, RSVPs anonymized."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import asyncpg

from api.config import Settings
from api.crypto import Keyring
from api.errors import Conflict, ProblemError
from api.services import accounts, ride_bookings, ride_offers, trip_decisions
from api.services.accounts import Caller, Passwords
from api.services.rsvp_keys import FORMER_MEMBER
from db.queries import accounts as account_queries
from db.queries import audit
from db.queries import privacy as q
from schemas.accounts import AccountDelete

CLOSED_ACCOUNT_MESSAGE = "The driver closed their Caravan account."


class LastOwner(Conflict):
    """Raised when an account asks to be deleted while it is the only owner of an org."""

    slug, title = "last-owner", "The last owner cannot leave"


async def _with_notice(conn: asyncpg.Connection, step: Callable[[], Awaitable[Any]]) -> None:
    """Run a cancellation that tells the people involved; one that no longer applies (the
    ride has left meanwhile) is skipped, and the deletion below removes the rest quietly."""
    try:
        async with conn.transaction():
            await step()
    except ProblemError:
        pass


async def delete_account(
    conn: asyncpg.Connection,
    keyring: Keyring,
    passwords: Passwords,
    settings: Settings,
    caller: Caller,
    data: AccountDelete,
) -> None:
    """Delete the caller's account for good, after the password (and two-factor code).

    RSVPs become anonymous places; rides are cancelled with notice; live trip applications
    are withdrawn (the waitlist moves up) and all of them erased; memberships, sessions,
    feed tokens and two-factor data go; the account's data keys are destroyed."""
    await accounts.reauthenticate(
        conn,
        keyring,
        passwords,
        settings,
        caller,
        data.password,
        data.totp_code,
        data.recovery_code,
    )
    account_id = caller.account_id
    await q.lock_orgs_of(conn, account_id)
    sole = await q.select_orgs_solely_owned(conn, account_id)
    if sole:
        raise LastOwner(
            f"You are the last owner of {', '.join(sole)}: make someone else an owner there "
            "first, then delete your account."
        )
    for offer_id in await q.select_live_driver_offers(conn, account_id):
        await _with_notice(
            conn,
            partial(
                ride_offers.cancel_offer,
                conn,
                keyring,
                offer_id,
                account_id,
                CLOSED_ACCOUNT_MESSAGE,
            ),
        )
    for booking_id in await q.select_live_rider_bookings(conn, account_id):
        await _with_notice(
            conn, partial(ride_bookings.cancel_booking, conn, booking_id, account_id)
        )
    for application_id in await q.select_live_applications(conn, account_id):
        await _with_notice(conn, partial(trip_decisions.withdraw, conn, application_id, account_id))
    await q.erase_applications(conn, account_id)
    await q.delete_rsvp_notifications(
        conn, await q.anonymize_rsvps(conn, account_id, FORMER_MEMBER)
    )
    for org_id in await q.delete_memberships(conn, account_id):
        await audit.insert_audit_entry(
            conn, org_id, None, "member.account_deleted", "account", account_id
        )
    await account_queries.delete_account_data_keys(conn, account_id)
    await account_queries.delete_account(conn, account_id)
