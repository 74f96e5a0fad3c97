"""The outbox fan-out: each change becomes one thin delivery per subscribed endpoint.

Every change writes an outbox row in its own transaction. The worker fans each row out once
(`FOR UPDATE SKIP LOCKED`, then marked dispatched) into one delivery per subscribed endpoint,
with a thin body serialised once: ids, status, counts, never a name or a contact. Events follow
the partner rules: only public, published events of the endpoint's org (own or co-hosted) are
announced; one that stops being visible is sent as `event.deleted` with a `reason`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

import asyncpg

from api.services.webhook_signing import message_body, message_id
from db.queries import webhooks as q

EVENT_TOPICS = ("event.created", "event.updated", "event.cancelled", "event.deleted")


def subscribed(event_types: Sequence[str], event_type: str) -> bool:
    return event_type in event_types or (event_type.startswith("ride.") and "ride.*" in event_types)


def _visible_to(event: asyncpg.Record, org_id: UUID) -> bool:
    hosted = event["org_id"] == org_id or org_id in event["cohost_ids"]
    return hosted and event["visibility"] == "public" and event["status"] != "draft"


def _hidden_reason(event: asyncpg.Record | None, org_id: UUID) -> str:
    if event is None:
        return "deleted"
    if not (event["org_id"] == org_id or org_id in event["cohost_ids"]):
        return "org_removed"
    return "not_public"


def _thin(payload: Mapping[str, Any], subject_id: UUID) -> dict[str, Any]:
    """Ids and whole numbers only, whatever else the writer put in the outbox row."""
    thin: dict[str, Any] = {"id": str(subject_id)}
    for key, value in payload.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, int) or (
            key.endswith("id") and isinstance(value, str) and _is_uuid(value)
        ):
            thin[key] = value
    return thin


def _is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True


async def _event_messages(
    conn: asyncpg.Connection, row: asyncpg.Record, public_url: str
) -> list[tuple[UUID, str, dict[str, Any]]]:
    """(org, type, data) for an event change, per org whose partners may hear of it."""
    event_id = row["subject_id"]
    event = await q.select_event_state(conn, event_id)
    announced = set(await q.select_announced_orgs(conn, event_id))
    orgs = set(announced)
    if event is not None:
        orgs |= {event["org_id"], *event["cohost_ids"]}
    # an org with no live endpoint hears nothing, so nothing is announced to it either: its
    # first endpoint later starts with `event.created`
    listening = {e["org_id"] for e in await q.select_live_endpoints(conn, list(orgs))}
    messages = []
    for org_id in sorted(orgs & listening):
        if event is not None and _visible_to(event, org_id):
            if org_id not in announced:
                event_type = "event.created"
                await q.insert_announcement(conn, org_id, event_id)
            elif event["status"] == "cancelled" and row["topic"] == "event.cancelled":
                event_type = "event.cancelled"
            else:
                event_type = "event.updated"
            data = {
                "id": str(event_id),
                "org": event["org_slug"],
                "status": event["status"],
                "sequence": event["sequence"],
                "change_seq": event["change_seq"],
                "url": f"{public_url}/v1/events/{event_id}",
            }
        elif org_id in announced:
            event_type = "event.deleted"
            data = {"id": str(event_id), "reason": _hidden_reason(event, org_id)}
            await q.delete_announcement(conn, org_id, event_id)
        else:
            continue
        messages.append((org_id, event_type, data))
    return messages


async def _counts_messages(
    conn: asyncpg.Connection, row: asyncpg.Record, public_url: str
) -> list[tuple[UUID, str, dict[str, Any]]]:
    event = await q.select_event_state(conn, row["subject_id"])
    if event is None or event["hide_counts"]:
        return []
    payload = row["payload"] or {}
    data = {
        "event_id": str(event["id"]),
        "shift_id": payload.get("shift_id") if _is_uuid(str(payload.get("shift_id"))) else None,
        "going": int(payload.get("going") or 0),
        "waitlisted": int(payload.get("waitlisted") or 0),
        "url": f"{public_url}/v1/events/{event['id']}",
    }
    hosts = [event["org_id"], *event["cohost_ids"]]
    return [(o, "rsvp.counts_changed", data) for o in hosts if _visible_to(event, o)]


async def _public_context(conn: asyncpg.Connection, row: asyncpg.Record) -> bool:
    """Trip and ride messages go out only about public trips and partner-visible events."""
    payload = row["payload"] or {}
    trip_id = row["subject_id"] if row["topic"].startswith("trip.") else payload.get("trip_id")
    event_id = payload.get("event_id") if row["topic"].startswith("ride.") else None
    if trip_id and _is_uuid(str(trip_id)):
        trip = await q.select_trip_state(conn, UUID(str(trip_id)))
        if trip is None or trip["visibility"] != "public" or trip["status"] == "draft":
            return False
    if event_id and _is_uuid(str(event_id)):
        event = await q.select_event_state(conn, UUID(str(event_id)))
        if event is None or not _visible_to(event, row["org_id"]):
            return False
    return True


async def fan_out(conn: asyncpg.Connection, public_url: str, *, limit: int = 200) -> int:
    """Turn undispatched outbox rows into deliveries (one transaction); returns rows handled."""
    async with conn.transaction():
        rows = await q.claim_outbox(conn, limit)
        for row in rows:
            topic = row["topic"]
            if topic in EVENT_TOPICS:
                messages = await _event_messages(conn, row, public_url)
            elif topic == "rsvp.counts_changed":
                messages = await _counts_messages(conn, row, public_url)
            elif (topic == "trip.updated" or topic.startswith("ride.")) and row["org_id"]:
                messages = []
                if await _public_context(conn, row):
                    data = _thin(row["payload"] or {}, row["subject_id"])
                    messages = [(row["org_id"], topic, data)]
            else:
                messages = []
            if messages:
                endpoints = await q.select_live_endpoints(conn, [m[0] for m in messages])
                for org_id, event_type, data in messages:
                    body = message_body(event_type, row["created_at"], data)
                    for endpoint in endpoints:
                        if endpoint["org_id"] == org_id and subscribed(
                            endpoint["event_types"], event_type
                        ):
                            delivery_id = uuid.uuid4()
                            await q.insert_delivery(
                                conn,
                                delivery_id,
                                endpoint["id"],
                                org_id,
                                message_id(delivery_id),
                                event_type,
                                body,
                            )
        if rows:
            await q.mark_dispatched(conn, [r["id"] for r in rows])
    return len(rows)
