"""Manage links: what the holder of an RSVP's link sees and changes, and a member's own RSVPs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import msgspec

from api.config import Settings
from api.crypto import Keyring, token_hash
from api.errors import Conflict, NotFound
from api.pagination import decode_cursor, split_page
from api.services import encryption, locations
from api.services.access import Standing
from api.services.briefs import announcement, event_brief, notification, shift_brief
from api.services.rsvp_booking import (
    cancel,
    change_guests,
    check_guests,
    lock_rsvp,
    normalize_needs,
    rsvp_view,
)
from api.services.rsvp_keys import (
    CONTACT_CLASS,
    MANAGE_PREFIX,
    contact_aad,
    manage_url,
    row_manage_token,
    rsvp_key,
)
from api.texts import choose_language, pick
from db.queries import hosts, notifications, rsvps, shifts
from schemas.rsvps import EventBrief, ManageView, MyRsvp, MyRsvpPage, Rsvp, RsvpPatch, ShiftBrief

#: what the manage link shows at most of announcements and notifications
MANAGE_VIEW_ITEMS = 50


async def _by_token(conn: asyncpg.Connection, token: str) -> asyncpg.Record:
    if not token.startswith(MANAGE_PREFIX + "_") or len(token) > 100:
        raise NotFound("This manage link is not valid.")
    record = await rsvps.select_rsvp_by_token_hash(conn, token_hash(token))
    if record is None:
        raise NotFound("This manage link is not valid.")
    return record


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
        rsvp=await rsvp_view(conn, keyring, record),
        event=event_brief(event, languages),
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
        check_guests(settings, data.guests)
    contact = alias = None
    if isinstance(data.contact, str) or isinstance(data.alias, str):
        # Sealing may create the event's data key: do it before taking the event lock, in
        # the same order as booking does, so the two can never wait on each other.
        key = await encryption.live_data_key(
            conn, keyring, "event", record["event_id"], CONTACT_CLASS
        )
        aad = contact_aad(record["event_id"])
        if isinstance(data.contact, str):
            contact = keyring.encrypt(key, data.contact, aad)
        if isinstance(data.alias, str):
            alias = keyring.encrypt(key, data.alias.strip(), aad)
    pool, record = await lock_rsvp(conn, record)
    if record["status"] == "cancelled":
        raise Conflict("This RSVP was cancelled; RSVP again instead.")

    if isinstance(data.guests, int) and data.guests != record["guests"]:
        if pool.event["status"] == "cancelled" or pool.event["ends_at"] <= datetime.now(UTC):
            raise Conflict("The event is cancelled or over; guests can no longer change.")
        await change_guests(conn, pool, record, data.guests)

    set_contact = data.contact is not msgspec.UNSET
    record = await rsvps.update_rsvp_details(
        conn,
        record["id"],
        alias_ciphertext=alias,
        language_needs=normalize_needs(data.language_needs)
        if isinstance(data.language_needs, list)
        else None,
        set_contact=set_contact,
        contact_ciphertext=contact,
    )
    return await rsvp_view(conn, keyring, record)


async def cancel_by_token(conn: asyncpg.Connection, keyring: Keyring, token: str) -> Rsvp:
    record = await cancel(conn, await _by_token(conn, token))
    return await rsvp_view(conn, keyring, record, with_position=False)


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
                rsvp=await rsvp_view(conn, keyring, row, key=key),
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
