"""RSVP booking: taking, resizing and cancelling places with exact capacity, and idempotent retries.

Booking locks the event row (and the shift row for a shift RSVP) before it decides, so two
requests never both take the last place; newcomers queue behind anyone already waiting.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID, uuid4

import asyncpg
import msgspec

from api.config import Settings
from api.crypto import Keyring, token_hash
from api.errors import BadRequest, Conflict, NotFound, RuleViolation
from api.services import encryption, waitlist
from api.services.rsvp_keys import (
    CONTACT_CLASS,
    contact_aad,
    manage_token,
    manage_url,
    open_alias,
    rsvp_key,
)
from db.queries import idempotency, rsvps
from schemas.problems import FieldError
from schemas.rsvps import Rsvp, RsvpCreate, RsvpCreated


class DuplicateRsvp(Conflict):
    """Raised when an account already has a live RSVP for this event or shift."""

    slug, title = "duplicate", "Already exists"


def _places(n: int) -> str:
    return f"{n} place" if n == 1 else f"{n} places"


def normalize_needs(needs: Sequence[str]) -> list[str]:
    """Lower-case, without repeats, in the order given."""
    return list(dict.fromkeys(n.lower() for n in needs))


def check_guests(settings: Settings, guests: int) -> None:
    if guests > settings.max_guests_per_rsvp:
        raise RuleViolation(
            f"At most {settings.max_guests_per_rsvp} guests per RSVP; larger groups, please "
            "talk to the organizers.",
            errors=[
                FieldError(pointer="#/guests", detail=f"at most {settings.max_guests_per_rsvp}")
            ],
        )


def _rsvp(record: asyncpg.Record, position: int | None, alias: str) -> Rsvp:
    return Rsvp(
        id=record["id"],
        event_id=record["event_id"],
        shift_id=record["shift_id"],
        alias=alias,
        guests=record["guests"],
        places=record["places"],
        language_needs=list(record["language_needs"]),
        status=record["status"],
        waitlist_position=position,
        created_at=record["created_at"],
        updated_at=record["updated_at"],
    )


async def rsvp_view(
    conn: asyncpg.Connection,
    keyring: Keyring,
    record: asyncpg.Record,
    *,
    with_position: bool = True,
    key: bytes | None = None,
) -> Rsvp:
    """The owner's view of an RSVP row, alias opened with the event's key."""
    if key is None and record["alias_ciphertext"] is not None:
        key = await rsvp_key(conn, keyring, record["event_id"])
    position = await rsvps.waitlist_position(conn, record) if with_position else None
    return _rsvp(record, position, open_alias(keyring, key, record))


def _created(record: Rsvp, key: bytes, settings: Settings) -> RsvpCreated:
    token = manage_token(key, record.id)
    return RsvpCreated(
        **msgspec.structs.asdict(record), manage_token=token, manage_url=manage_url(settings, token)
    )


def can_see_event(event: asyncpg.Record, share_token: str | None) -> bool:
    """The events rules: drafts for the hosts' organizers only; members-only events for the
    hosts' members; private events for the hosts' organizers and whoever holds the share
    link; public events for anyone."""
    if event["is_host_organizer"]:
        return True
    if event["status"] == "draft":
        return False
    if event["visibility"] == "public":
        return True
    if event["visibility"] == "members":
        return bool(event["is_host_member"])
    if share_token and event["share_token_hash"]:
        return hmac.compare_digest(token_hash(share_token), event["share_token_hash"])
    return False


async def visible_event(
    conn: asyncpg.Connection,
    event_id: UUID,
    account_id: UUID | None,
    share_token: str | None = None,
) -> asyncpg.Record:
    """The event if this caller may know it exists; 404 otherwise."""
    event = await rsvps.select_event_for_caller(conn, event_id, account_id)
    if event is None or not can_see_event(event, share_token):
        raise NotFound("No event with this id is visible to you.")
    return event


def _check_open(event: asyncpg.Record, shift: asyncpg.Record | None, is_organizer: bool) -> None:
    """RSVPs are taken for published or postponed events that have not ended."""
    if event["status"] == "draft":
        if not is_organizer:
            raise NotFound("No event with this id is visible to you.")
        raise Conflict("The event is a draft; publish it before taking RSVPs.")
    if event["status"] == "cancelled":
        raise Conflict("The event was cancelled; it takes no RSVPs.")
    now = datetime.now(UTC)
    if event["ends_at"] <= now:
        raise Conflict("The event is over; it takes no RSVPs.")
    if shift is not None and shift["ends_at"] <= now:
        raise Conflict("This shift is over; it takes no RSVPs.")


def _scope_hash(event_id: UUID, account_id: UUID | None, key: str) -> bytes:
    scope = f"rsvp\x1f{event_id}\x1f{account_id or 'anon'}\x1f{key}"
    return hashlib.sha256(scope.encode()).digest()


def check_idempotency_key(key: str | None) -> str | None:
    """16–255 visible ASCII characters (a UUID is ideal): for anonymous callers the key is
    the only thing tying a retry to the first request, so it must not be guessable."""
    if key is None:
        return None
    if not 16 <= len(key) <= 255 or not all("!" <= c <= "~" for c in key):
        raise BadRequest(
            "Idempotency-Key must be 16 to 255 visible ASCII characters; send a fresh UUID.",
            errors=[FieldError(pointer="#/header/idempotency-key", detail="16-255 visible ASCII")],
        )
    return key


async def create_rsvp(
    conn: asyncpg.Connection,
    keyring: Keyring,
    settings: Settings,
    event_id: UUID,
    account_id: UUID | None,
    data: RsvpCreate,
    idempotency_key: str | None,
) -> tuple[RsvpCreated, bool]:
    """Book an RSVP; returns it and whether it is a replay of an earlier identical request."""
    key = check_idempotency_key(idempotency_key)
    check_guests(settings, data.guests)
    event = await visible_event(conn, event_id, account_id, data.share_token)

    rsvp_id = uuid4()
    if key is not None:
        scope = _scope_hash(event_id, account_id, key)
        request_hash = keyring.lookup_hash(msgspec.json.encode(data).decode())
        if not await idempotency.claim_idempotency_key(conn, scope, rsvp_id, request_hash):
            return await _replay(conn, keyring, settings, scope, request_hash), True

    # checked again under the lock; this early look keeps a closed event's key destroyed
    _check_open(event, None, event["is_host_organizer"])
    # Sealing before the lock keeps the locked section short; sealing at insert keeps the
    # alias out of WAL and dead rows, so destroying the key at the purge covers every copy.
    sealing_key = await encryption.live_data_key(conn, keyring, "event", event_id, CONTACT_CLASS)
    alias = keyring.encrypt(sealing_key, data.alias.strip(), contact_aad(event_id))
    contact = (
        None
        if data.contact is None
        else keyring.encrypt(sealing_key, data.contact, contact_aad(event_id))
    )
    pool = await waitlist.lock_pool(conn, event_id, data.shift_id)
    if pool is None:
        raise RuleViolation(
            "This event has no such shift.",
            errors=[FieldError(pointer="#/shift_id", detail="not a shift of this event")],
        )
    _check_open(pool.event, pool.shift, event["is_host_organizer"])
    places = 1 + data.guests
    if pool.capacity is not None and places > pool.capacity:
        raise Conflict(
            f"{'This shift' if pool.shift else 'This event'} has {_places(pool.capacity)} in all; "
            f"a group of {places} cannot be admitted. Please talk to the organizers."
        )
    if account_id is not None and await rsvps.select_live_account_rsvp(
        conn, event_id, data.shift_id, account_id
    ):
        raise DuplicateRsvp("You already have an RSVP here; change or cancel that one.")

    free = pool.free
    fits = free is None or places <= free
    queue = await rsvps.waitlist_blocks(conn, event_id, data.shift_id, pool.capacity)
    status = "going" if fits and not queue else "waitlisted"
    record = await rsvps.insert_rsvp(
        conn,
        rsvp_id=rsvp_id,
        event_id=event_id,
        shift_id=data.shift_id,
        org_id=pool.event["org_id"],
        account_id=account_id,
        alias_ciphertext=alias,
        contact_ciphertext=contact,
        guests=data.guests,
        language_needs=normalize_needs(data.language_needs),
        status=status,
        manage_token_hash=token_hash(manage_token(sealing_key, rsvp_id)),
    )
    if record is None:  # the unique index is the backstop behind the check above
        raise DuplicateRsvp("You already have an RSVP here; change or cancel that one.")
    if status == "going":
        await waitlist.move_places(conn, event_id, data.shift_id, places, 0)
    else:
        await waitlist.move_places(conn, event_id, data.shift_id, 0, places)
    view = await rsvp_view(conn, keyring, record, key=sealing_key)
    return _created(view, sealing_key, settings), False


async def _replay(
    conn: asyncpg.Connection,
    keyring: Keyring,
    settings: Settings,
    scope: bytes,
    request_hash: bytes,
) -> RsvpCreated:
    found = await idempotency.select_idempotency_key(conn, scope)
    if found is None:
        raise Conflict("A request with this Idempotency-Key is being retried; try again.")
    if found["request_hash"] != request_hash:
        raise RuleViolation(
            "This Idempotency-Key was used for a different request; use a new key.",
            errors=[FieldError(pointer="#/header/idempotency-key", detail="reused")],
        )
    record = await rsvps.select_rsvp(conn, found["resource_id"])
    key = None if record is None else await rsvp_key(conn, keyring, record["event_id"])
    if record is None or key is None:
        raise Conflict("The RSVP this Idempotency-Key made no longer exists; use a new key.")
    return _created(await rsvp_view(conn, keyring, record, key=key), key, settings)


async def lock_rsvp(
    conn: asyncpg.Connection, record: asyncpg.Record
) -> tuple[waitlist.Pool, asyncpg.Record]:
    """Lock the RSVP's pool, then re-read the RSVP: a concurrent change may have won."""
    pool = await waitlist.lock_pool(conn, record["event_id"], record["shift_id"])
    assert pool is not None
    fresh = await rsvps.select_rsvp(conn, record["id"], for_update=True)
    assert fresh is not None
    return pool, fresh


async def change_guests(
    conn: asyncpg.Connection, pool: waitlist.Pool, record: asyncpg.Record, guests: int
) -> None:
    delta = guests - record["guests"]
    event_id, shift_id = record["event_id"], record["shift_id"]
    if pool.capacity is not None and 1 + guests > pool.capacity:
        raise Conflict(
            f"There are {_places(pool.capacity)} in all; a group of {1 + guests} cannot be "
            "admitted. Your RSVP is unchanged."
        )
    if record["status"] == "waitlisted":
        await rsvps.update_rsvp_guests(conn, record["id"], guests)
        await waitlist.move_places(conn, event_id, shift_id, 0, delta)
    else:  # going or attended
        if delta > 0:
            free = pool.free
            if (free is not None and delta > free) or await rsvps.waitlist_blocks(
                conn, event_id, shift_id, pool.capacity
            ):
                raise Conflict(
                    "There is no room for more guests (or others are waiting). Your RSVP is "
                    "unchanged; to bring more people, cancel it and RSVP again to join the "
                    "waitlist."
                )
        await rsvps.update_rsvp_guests(conn, record["id"], guests)
        await waitlist.move_places(conn, event_id, shift_id, delta, 0)
    if delta < 0 or record["status"] == "waitlisted":
        await waitlist.promote_waitlist(conn, event_id, shift_id)


async def cancel(conn: asyncpg.Connection, record: asyncpg.Record) -> asyncpg.Record:
    """Cancel an RSVP and hand its places to the waitlist in the same transaction."""
    _, record = await lock_rsvp(conn, record)
    if record["status"] == "cancelled":
        return record
    if record["status"] == "attended":
        raise Conflict("This RSVP was already checked in; it cannot be cancelled.")
    places = record["places"]
    if record["status"] == "going":
        await waitlist.move_places(conn, record["event_id"], record["shift_id"], -places, 0)
    else:
        await waitlist.move_places(conn, record["event_id"], record["shift_id"], 0, -places)
    cancelled = await rsvps.update_rsvp_status(conn, record["id"], "cancelled")
    await waitlist.promote_waitlist(conn, record["event_id"], record["shift_id"])
    return cancelled
