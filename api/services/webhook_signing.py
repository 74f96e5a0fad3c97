"""Standard Webhooks v1 messages: endpoint secrets, signatures, bodies and message ids."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec

SECRET_CLASS = "webhook_secret"
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """`whsec_` + base64 of 32 random bytes (Standard Webhooks asks for 24 to 64)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: str) -> str:
    """The webhook-signature header: `v1,` + base64(HMAC-SHA256(key, "id.timestamp.body"))."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    mac = hmac.new(key, f"{message_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def message_body(event_type: str, moment: datetime, data: dict[str, Any]) -> str:
    return msgspec.json.encode(
        {"type": event_type, "timestamp": moment.astimezone(UTC).isoformat(), "data": data}
    ).decode()


def message_id(delivery_id: UUID) -> str:
    return f"msg_{delivery_id.hex}"
