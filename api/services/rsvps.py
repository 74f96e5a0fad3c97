"""RSVPs: booking with exact capacity, manage links, idempotent retries, organizer tools.

Booking locks the event row (and the shift row for a shift RSVP) before it decides, so two
requests never both take the last place; newcomers queue behind anyone already waiting.
Aliases and contacts are sealed with the event's RSVP data key. Manage tokens are derived
from the RSVP id with that same key, so a retried request can be answered with the same token
and a member's list can show the link again, across master-key rotations (which rewrap the
key unchanged) until the purge destroys the key; they are stored only as SHA-256.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import msgspec

from api.config import Settings
from api.crypto import Keyring, token_hash
from api.errors import BadRequest, Conflict, Forbidden, NotFound, RuleViolation, Unauthorized
from api.pagination import decode_cursor, split_page
from api.services import counts, encryption, events, locations, waitlist
from api.services.access import Standing
from api.texts import choose_language, pick
from db.queries import audit, hosts, idempotency, notifications, rsvps, shifts
from schemas.announcements import Announcement
from schemas.notifications import Notification
from schemas.problems import FieldError
from schemas.rsvps import (
    Attendee,
    AttendeeCounts,
    AttendeePage,
    EventBrief,
    EventCounts,
    LanguageCoverage,
    ManageView,
    MyRsvp,
    MyRsvpPage,
    Rsvp,
    RsvpCreate,
    RsvpCreated,
    RsvpPatch,
    ShiftBrief,
    ShiftCountsItem,
    StatusCount,
)
from schemas.shifts import ShiftCounts

MANAGE_PREFIX = "cvn_rsvp"
MANAGE_PURPOSE = "rsvp-manage"
#: the data class of the event's RSVP data key: it seals aliases and contacts and derives
#: manage tokens; the purge destroys it with the list (see api/services/retention.py)
CONTACT_CLASS = "rsvp_contact"
#: shown for an alias whose key is gone (the row itself goes with it in the same purge)
ERASED_ALIAS = "(erased)"
#: what the manage link shows at most of announcements and notifications
MANAGE_VIEW_ITEMS = 50


class DuplicateRsvp(Conflict):
    """Raised when an account already has a live RSVP for this event or shift."""

    slug, title = "duplicate", "Already exists"


# ---------------------------------------------------------------- small pieces


def manage_token(key: bytes, rsvp_id: UUID) -> str:
    """The manage token of an RSVP, from its event's RSVP data key."""
    return Keyring.keyed_token(key, MANAGE_PREFIX, MANAGE_PURPOSE, rsvp_id)


def _aad(event_id: UUID) -> bytes:
    return encryption.key_aad("event", event_id, CONTACT_CLASS)


async def rsvp_key(conn: asyncpg.Connection, keyring: Keyring, event_id: UUID) -> bytes | None:
    """The event's RSVP data key; None once the purge destroyed it."""
    return await encryption.data_key(conn, keyring, "event", event_id, CONTACT_CLASS)


def open_alias(keyring: Keyring, key: bytes | None, record: asyncpg.Record) -> str:
    """The alias of an RSVP row: sealed, or plaintext in rows older than sealing."""
    if record["alias_ciphertext"] is None:
        return str(record["alias"])
    if key is None:
        return ERASED_ALIAS
    return keyring.decrypt(key, record["alias_ciphertext"], _aad(record["event_id"]))


def row_manage_token(keyring: Keyring, key: bytes | None, record: asyncpg.Record) -> str | None:
    """The manage token of a listed RSVP (rows older than sealing were given one derived from
    the master key); None rather than a link that would not open (such an old row after a
    master-key rotation)."""
    if record["alias_ciphertext"] is None:
        token = keyring.derived_token(MANAGE_PREFIX, MANAGE_PURPOSE, record["id"])
    elif key is None:
        return None
    else:
        token = manage_token(key, record["id"])
    return token if hmac.compare_digest(token_hash(token), record["manage_token_hash"]) else None


def manage_url(settings: Settings, token: str) -> str:
    return f"{settings.public_url}/v1/rsvps/manage/{token}"


def _places(n: int) -> str:
    return f"{n} place" if n == 1 else f"{n} places"


def _normalize_needs(needs: Sequence[str]) -> list[str]:
    """Lower-case, without repeats, in the order given."""
    return list(dict.fromkeys(n.lower() for n in needs))


def _check_guests(settings: Settings, guests: int) -> None:
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


async def _rsvp_view(
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


# ---------------------------------------------------------------- booking


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
    _check_guests(settings, data.guests)
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
    alias = keyring.encrypt(sealing_key, data.alias.strip(), _aad(event_id))
    contact = (
        None if data.contact is None else keyring.encrypt(sealing_key, data.contact, _aad(event_id))
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
        language_needs=_normalize_needs(data.language_needs),
        status=status,
        manage_token_hash=token_hash(manage_token(sealing_key, rsvp_id)),
    )
    if record is None:  # the unique index is the backstop behind the check above
        raise DuplicateRsvp("You already have an RSVP here; change or cancel that one.")
    if status == "going":
        await waitlist.move_places(conn, event_id, data.shift_id, places, 0)
    else:
        await waitlist.move_places(conn, event_id, data.shift_id, 0, places)
    view = await _rsvp_view(conn, keyring, record, key=sealing_key)
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
    return _created(await _rsvp_view(conn, keyring, record, key=key), key, settings)


# ---------------------------------------------------------------- manage links


async def _by_token(conn: asyncpg.Connection, token: str) -> asyncpg.Record:
    if not token.startswith(MANAGE_PREFIX + "_") or len(token) > 100:
        raise NotFound("This manage link is not valid.")
    record = await rsvps.select_rsvp_by_token_hash(conn, token_hash(token))
    if record is None:
        raise NotFound("This manage link is not valid.")
    return record


def _event_brief(event: asyncpg.Record, languages: Sequence[str]) -> EventBrief:
    title: dict[str, str] = event["title"]
    lang = choose_language(list(event["languages"]) or list(title), languages)
    return EventBrief(
        id=event["id"],
        title=title,
        display_title=pick(title, lang),
        lang=lang,
        starts_at=event["starts_at"],
        ends_at=event["ends_at"],
        timezone=event["timezone"],
        status=event["status"],
    )


def shift_brief(shift: asyncpg.Record, languages: Sequence[str]) -> ShiftBrief:
    name: dict[str, str] = shift["name"]
    return ShiftBrief(
        id=shift["id"],
        name=name,
        display_name=pick(name, choose_language(list(name), languages)),
        role=shift["role"],
        starts_at=shift["starts_at"],
        ends_at=shift["ends_at"],
    )


def notification(record: asyncpg.Record) -> Notification:
    return Notification(
        id=record["id"],
        kind=record["kind"],
        event_id=record["event_id"],
        payload=record["payload"],
        created_at=record["created_at"],
        read_at=record["read_at"],
    )


def announcement(record: asyncpg.Record, languages: Sequence[str]) -> Announcement:
    body: dict[str, str] = record["body"]
    lang = choose_language(list(body), languages)
    return Announcement(
        id=record["id"],
        event_id=record["event_id"],
        body=body,
        display_body=pick(body, lang),
        lang=lang,
        created_at=record["created_at"],
    )


async def manage_view(
    conn: asyncpg.Connection, keyring: Keyring, token: str, languages: Sequence[str]
) -> ManageView:
    """Everything the holder of a manage link may see about their RSVP."""
    record = await _by_token(conn, token)
    event = await rsvps.select_event_for_caller(conn, record["event_id"], None)
    assert event is not None
    shift = await shifts.select_shift(conn, record["shift_id"]) if record["shift_id"] else None
    confirmed = record["status"] in ("going", "attended")
    live = record["status"] != "cancelled"
    place = locations.place_of(event, "venue")
    news = (
        await hosts.select_announcements(conn, "event", event["id"], None, MANAGE_VIEW_ITEMS)
        if live
        else []
    )
    inbox = await notifications.select_rsvp_notifications(
        conn, record["id"], record["account_id"], event["id"], MANAGE_VIEW_ITEMS
    )
    return ManageView(
        rsvp=await _rsvp_view(conn, keyring, record),
        event=_event_brief(event, languages),
        location=locations.location_for(
            place,
            exact_allowed=locations.may_see_exact_location(
                place, Standing(organizer=False, confirmed=confirmed)
            ),
        ),
        shift=shift_brief(shift, languages) if shift else None,
        announcements=[announcement(a, languages) for a in news],
        notifications=[notification(n) for n in inbox],
    )


async def _lock_rsvp(
    conn: asyncpg.Connection, record: asyncpg.Record
) -> tuple[waitlist.Pool, asyncpg.Record]:
    """Lock the RSVP's pool, then re-read the RSVP: a concurrent change may have won."""
    pool = await waitlist.lock_pool(conn, record["event_id"], record["shift_id"])
    assert pool is not None
    fresh = await rsvps.select_rsvp(conn, record["id"], for_update=True)
    assert fresh is not None
    return pool, fresh


async def update_by_token(
    conn: asyncpg.Connection,
    keyring: Keyring,
    settings: Settings,
    token: str,
    data: RsvpPatch,
) -> Rsvp:
    """Change guests, alias, language needs or contact.

    More guests need free places and an empty waitlist (nobody jumps the line); otherwise
    409 and the RSVP stays as it was. Fewer guests free places, which go to the waitlist.
    """
    record = await _by_token(conn, token)
    if isinstance(data.guests, int):
        _check_guests(settings, data.guests)
    contact = alias = None
    if isinstance(data.contact, str) or isinstance(data.alias, str):
        # Sealing may create the event's data key: do it before taking the event lock, in
        # the same order as booking does, so the two can never wait on each other.
        key = await encryption.live_data_key(
            conn, keyring, "event", record["event_id"], CONTACT_CLASS
        )
        aad = _aad(record["event_id"])
        if isinstance(data.contact, str):
            contact = keyring.encrypt(key, data.contact, aad)
        if isinstance(data.alias, str):
            alias = keyring.encrypt(key, data.alias.strip(), aad)
    pool, record = await _lock_rsvp(conn, record)
    if record["status"] == "cancelled":
        raise Conflict("This RSVP was cancelled; RSVP again instead.")

    if isinstance(data.guests, int) and data.guests != record["guests"]:
        if pool.event["status"] == "cancelled" or pool.event["ends_at"] <= datetime.now(UTC):
            raise Conflict("The event is cancelled or over; guests can no longer change.")
        await _change_guests(conn, pool, record, data.guests)

    set_contact = data.contact is not msgspec.UNSET
    record = await rsvps.update_rsvp_details(
        conn,
        record["id"],
        alias_ciphertext=alias,
        language_needs=_normalize_needs(data.language_needs)
        if isinstance(data.language_needs, list)
        else None,
        set_contact=set_contact,
        contact_ciphertext=contact,
    )
    return await _rsvp_view(conn, keyring, record)


async def _change_guests(
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
    _, record = await _lock_rsvp(conn, record)
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


async def cancel_by_token(conn: asyncpg.Connection, keyring: Keyring, token: str) -> Rsvp:
    record = await cancel(conn, await _by_token(conn, token))
    return await _rsvp_view(conn, keyring, record, with_position=False)


async def manage_link(
    conn: asyncpg.Connection, keyring: Keyring, settings: Settings, rsvp_id: UUID
) -> str | None:
    """The RSVP's manage URL, recomputed (for a later message to its holder, or a list); None
    once the RSVP or its event's key is gone, or when the link would not open."""
    record = await rsvps.select_rsvp(conn, rsvp_id)
    if record is None:
        return None
    token = row_manage_token(keyring, await rsvp_key(conn, keyring, record["event_id"]), record)
    return None if token is None else manage_url(settings, token)


# ---------------------------------------------------------------- my RSVPs


async def list_my_rsvps(
    conn: asyncpg.Connection,
    keyring: Keyring,
    settings: Settings,
    account_id: UUID,
    languages: Sequence[str],
    cursor: str | None,
    limit: int,
) -> MyRsvpPage:
    after = decode_cursor(cursor, tuple[datetime, int])
    rows = await rsvps.select_account_rsvps(conn, account_id, after, limit + 1)
    page, next_cursor = split_page(rows, limit, lambda r: (r["event_starts_at"], r["arrival"]))
    items = []
    keys: dict[UUID, bytes | None] = {}
    for row in page:
        if row["event_id"] not in keys:
            keys[row["event_id"]] = await rsvp_key(conn, keyring, row["event_id"])
        key = keys[row["event_id"]]
        token = row_manage_token(keyring, key, row)
        title: dict[str, str] = row["event_title"]
        lang = choose_language(list(row["event_languages"]) or list(title), languages)
        shift = None
        if row["shift_id"] is not None:
            name: dict[str, str] = row["shift_name"]
            shift = ShiftBrief(
                id=row["shift_id"],
                name=name,
                display_name=pick(name, choose_language(list(name), languages)),
                role=row["shift_role"],
                starts_at=row["shift_starts_at"],
                ends_at=row["shift_ends_at"],
            )
        items.append(
            MyRsvp(
                rsvp=await _rsvp_view(conn, keyring, row, key=key),
                event=EventBrief(
                    id=row["event_id"],
                    title=title,
                    display_title=pick(title, lang),
                    lang=lang,
                    starts_at=row["event_starts_at"],
                    ends_at=row["event_ends_at"],
                    timezone=row["event_timezone"],
                    status=row["event_status"],
                ),
                shift=shift,
                manage_url=manage_url(settings, token) if token else "",
            )
        )
    return MyRsvpPage(items=items, next_cursor=next_cursor)


# ---------------------------------------------------------------- organizer tools


def _counts(rows: Sequence[asyncpg.Record]) -> AttendeeCounts:
    by_status = {r["status"]: StatusCount(rsvps=r["rsvps"], places=r["places"]) for r in rows}
    zero = StatusCount(rsvps=0, places=0)
    return AttendeeCounts(
        going=by_status.get("going", zero),
        waitlisted=by_status.get("waitlisted", zero),
        cancelled=by_status.get("cancelled", zero),
        attended=by_status.get("attended", zero),
    )


async def _attendees(
    conn: asyncpg.Connection,
    keyring: Keyring,
    event_id: UUID,
    rows: Sequence[asyncpg.Record],
    languages: Sequence[str],
) -> list[Attendee]:
    key = await rsvp_key(conn, keyring, event_id) if rows else None
    items = []
    for row in rows:
        name = row["shift_name"]
        blob = row["contact_ciphertext"]
        items.append(
            Attendee(
                id=row["id"],
                alias=open_alias(keyring, key, row),
                contact=None
                if blob is None or key is None
                else keyring.decrypt(key, blob, _aad(event_id)),
                guests=row["guests"],
                places=row["places"],
                status=row["status"],
                shift_id=row["shift_id"],
                shift_name=pick(name, choose_language(list(name), languages)) if name else None,
                language_needs=list(row["language_needs"]),
                has_account=row["account_id"] is not None,
                checked_in_at=row["checked_in_at"],
                created_at=row["created_at"],
            )
        )
    return items


async def _organizer_event(
    conn: asyncpg.Connection, event_id: UUID, account_id: UUID | None
) -> asyncpg.Record:
    if account_id is None:
        raise Unauthorized("Log in first: send `Authorization: Bearer <token>`.")
    return await events.require_event_organizer(conn, event_id, account_id, attendee_access=True)


async def list_attendees(
    conn: asyncpg.Connection,
    keyring: Keyring,
    event_id: UUID,
    account_id: UUID | None,
    *,
    shift_id: UUID | None,
    event_only: bool,
    status: str | None,
    languages: Sequence[str],
    cursor: str | None,
    limit: int,
) -> AttendeePage:
    """The attendee list (organizers of the creating org, or co-hosts granted access);
    every read is written to the audit log."""
    event = await _organizer_event(conn, event_id, account_id)
    after = decode_cursor(cursor, tuple[int])
    rows = await rsvps.select_attendees(
        conn,
        event_id,
        shift_id=shift_id,
        only_event=event_only,
        status=status,
        after=after[0] if after else None,
        limit=limit + 1,
    )
    page, next_cursor = split_page(rows, limit, lambda r: (r["arrival"],))
    if shift_id is not None or event_only:
        count_rows = await rsvps.select_status_counts(conn, event_id, shift_id)
    else:
        count_rows = await rsvps.select_all_status_counts(conn, event_id)
    await audit.insert_audit_entry(
        conn,
        event["org_id"],
        account_id,
        "rsvps.listed",
        "event",
        event_id,
        {
            "shift_id": str(shift_id) if shift_id else None,
            "status": status,
            "rows": len(page),
        },
    )
    return AttendeePage(
        items=await _attendees(conn, keyring, event_id, page, languages),
        counts=_counts(count_rows),
        next_cursor=next_cursor,
    )


_CSV_COLUMNS = (
    "alias",
    "contact",
    "guests",
    "places",
    "status",
    "shift",
    "language_needs",
    "checked_in_at",
    "created_at",
)


def _cell(value: Any) -> str:
    """Plain text for spreadsheets: a leading = + - @ (formula) is defused with a quote."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


async def export_attendees(
    conn: asyncpg.Connection,
    keyring: Keyring,
    event_id: UUID,
    account_id: UUID | None,
    *,
    shift_id: UUID | None,
    status: str | None,
    languages: Sequence[str],
) -> str:
    """The attendee list as CSV (all rows); written to the audit log."""
    event = await _organizer_event(conn, event_id, account_id)
    rows = await rsvps.select_attendees(
        conn,
        event_id,
        shift_id=shift_id,
        only_event=False,
        status=status,
        after=None,
        limit=None,
    )
    items = await _attendees(conn, keyring, event_id, rows, languages)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_CSV_COLUMNS)
    for a in items:
        writer.writerow(
            [
                _cell(a.alias),
                _cell(a.contact),
                a.guests,
                a.places,
                a.status,
                _cell(a.shift_name),
                _cell(" ".join(a.language_needs)),
                a.checked_in_at.isoformat() if a.checked_in_at else "",
                a.created_at.isoformat(),
            ]
        )
    await audit.insert_audit_entry(
        conn,
        event["org_id"],
        account_id,
        "rsvps.exported",
        "event",
        event_id,
        {"shift_id": str(shift_id) if shift_id else None, "status": status, "rows": len(items)},
    )
    return out.getvalue()


async def check_in(
    conn: asyncpg.Connection, keyring: Keyring, rsvp_id: UUID, account_id: UUID | None
) -> Rsvp:
    """Mark a going RSVP attended (organizers with attendee access); idempotent."""
    if account_id is None:
        raise Unauthorized("Log in first: send `Authorization: Bearer <token>`.")
    record = await rsvps.select_rsvp(conn, rsvp_id)
    if record is None:
        raise NotFound("No RSVP has this id.")
    event = await _organizer_event(conn, record["event_id"], account_id)
    _, record = await _lock_rsvp(conn, record)
    if record["status"] == "attended":
        return await _rsvp_view(conn, keyring, record, with_position=False)
    if record["status"] != "going":
        raise Conflict(f"Only a going RSVP can be checked in; this one is {record['status']}.")
    record = await rsvps.update_rsvp_status(conn, rsvp_id, "attended")
    await audit.insert_audit_entry(
        conn, event["org_id"], account_id, "rsvp.checked_in", "rsvp", rsvp_id
    )
    return await _rsvp_view(conn, keyring, record, with_position=False)


def shift_counts(shift: asyncpg.Record, queue_waiting: bool) -> ShiftCounts:
    """The shift's counts; `queue_waiting` says whether anyone admissible waits for it."""
    going, target = shift["places_taken"], shift["staffing_target"]
    return ShiftCounts(
        going=going,
        waitlisted=shift["places_waitlisted"],
        spots_left=counts.spots_left(shift["capacity"], going, queue_waiting),
        staffing_target=target,
        still_needed=None if target is None else max(target - going, 0),
    )


def language_coverage(rows: Sequence[asyncpg.Record], *, organizer: bool) -> list[LanguageCoverage]:
    """Needs per language against interpreters; for the public, small needs stay hidden
    (and a language nobody interprets shows only once enough people need it)."""
    items = [
        LanguageCoverage(
            language=r["language"],
            needed=r["needed"] if organizer else counts.public_need(r["needed"]),
            interpreters=r["interpreters"],
        )
        for r in rows
    ]
    if organizer:
        return items
    # a shift's language is public anyway; a need alone shows only above the threshold
    return [i for i, r in zip(items, rows, strict=True) if r["interpreted"] or i.needed is not None]


async def event_counts(
    conn: asyncpg.Connection,
    event_id: UUID,
    account_id: UUID | None,
    share_token: str | None,
) -> EventCounts:
    """Counts without names, for anyone who can see the event unless its organizers hide
    them (organizers always see them, and the exact language needs)."""
    event = await visible_event(conn, event_id, account_id, share_token)
    organizer = bool(event["is_host_organizer"])
    if event["hide_counts"] and not organizer:
        raise Forbidden("The organizers of this event do not show counts.")
    capacity = event["capacity"]
    going = event["places_taken"]
    shift_rows = await shifts.select_shifts(conn, event_id, None, None)
    waiting = await rsvps.select_waiting_pools(conn, event_id)
    coverage = await rsvps.select_language_coverage(conn, event_id)
    needs = {r["language"]: r["needed"] for r in coverage if r["needed"]}
    return EventCounts(
        event_id=event_id,
        going=going,
        waitlisted=event["places_waitlisted"],
        capacity=capacity,
        spots_left=counts.spots_left(capacity, going, None in waiting),
        language_needs=needs if organizer else counts.public_needs(needs),
        languages=language_coverage(coverage, organizer=organizer),
        shifts=[
            ShiftCountsItem(shift_id=s["id"], counts=shift_counts(s, s["id"] in waiting))
            for s in shift_rows
        ],
    )
