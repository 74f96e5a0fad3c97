"""Webhooks (Standard Webhooks): an org's endpoints, their secrets (shown once) and delivery log."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from msgspec import UNSET, Meta, Struct, UnsetType

from schemas.common import NextCursor

EventType = Annotated[
    Literal[
        "event.created",
        "event.updated",
        "event.cancelled",
        "event.deleted",
        "rsvp.counts_changed",
        "trip.updated",
        "ride.*",
    ],
    Meta(
        description=(
            "What to be told about; event.deleted also covers events that stop being public "
            "(payload `reason`); ride.* is every ride change. Payloads are thin: ids, status, "
            "counts — never names or contacts."
        ),
        examples=["event.updated"],
    ),
]
EventTypes = Annotated[list[EventType], Meta(min_length=1, max_length=7)]
EndpointUrl = Annotated[
    str,
    Meta(
        min_length=8,
        max_length=2000,
        pattern=r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\x00-\x1f\x7f-\x9f\ufeff]+$",
        description="Where deliveries are POSTed: https, port 443, a public address",
        examples=["https://partner.example/hooks/caravan"],
    ),
]
Description = Annotated[
    str,
    Meta(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$", examples=["Coalition calendar sync"]),
]
When = Annotated[datetime, Meta(examples=["2026-12-05T18:00:00Z"])]
Id = Annotated[UUID, Meta(examples=["0f8e2c4a-1b3d-4e5f-8a9b-0c1d2e3f4a5b"])]


class WebhookEndpointCreate(Struct, forbid_unknown_fields=True):
    """A new endpoint; its signing secret is returned once."""

    url: EndpointUrl
    event_types: EventTypes
    description: Description = ""


class WebhookEndpointPatch(Struct, forbid_unknown_fields=True):
    """Change an endpoint; `enabled: true` re-enables one that was disabled."""

    url: EndpointUrl | UnsetType = UNSET
    event_types: EventTypes | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET


class WebhookEndpoint(Struct, kw_only=True):
    """An endpoint (the secret is never shown again)."""

    id: Id
    url: EndpointUrl
    description: Description
    event_types: list[EventType]
    enabled: bool
    disabled_reason: Annotated[
        str | None,
        Meta(
            description="Why deliveries stopped: the receiver answered 410, or every retry failed",
            examples=[None],
        ),
    ]
    created_at: When
    updated_at: When


class WebhookEndpointCreated(Struct, kw_only=True):
    """The endpoint and its signing secret: store it now, it is never shown again."""

    secret: Annotated[
        str,
        Meta(
            description="`whsec_` + base64 of 32 random bytes; verify with any Standard Webhooks library",
            examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        ),
    ]
    endpoint: WebhookEndpoint


class WebhookEndpointPage(Struct):
    """The org's webhook endpoints."""

    items: list[WebhookEndpoint]
    next_cursor: NextCursor = None


DeliveryStatus = Annotated[
    Literal["pending", "succeeded", "failed"],
    Meta(description="pending: waiting for its next try", examples=["pending"]),
]


class WebhookDelivery(Struct, kw_only=True):
    """One message to the endpoint: its status and tries (the receiver's body is never kept)."""

    id: Id
    webhook_id: Annotated[
        str,
        Meta(description="The webhook-id header: the same on every retry", examples=["msg_2b1c…"]),
    ]
    event_type: Annotated[str, Meta(examples=["event.updated"])]
    status: DeliveryStatus
    attempts: Annotated[int, Meta(examples=[1])]
    next_attempt_at: Annotated[When | None, Meta(description="Set while pending")]
    last_attempt_at: When | None
    last_status_code: Annotated[int | None, Meta(examples=[500])]
    last_error: Annotated[str | None, Meta(examples=["HTTP 500"])]
    created_at: When
    succeeded_at: When | None


class WebhookDeliveryPage(Struct):
    """The endpoint's deliveries, newest first."""

    items: list[WebhookDelivery]
    next_cursor: NextCursor = None
