"""Turning a PATCH Struct into column values: only the fields the client sent."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from msgspec import UNSET


def sent_fields(data: Any, fields: Iterable[str]) -> dict[str, Any]:
    """The given fields that the PATCH body carried (UNSET means "leave as it is")."""
    values = {field: getattr(data, field) for field in fields}
    return {field: value for field, value in values.items() if value is not UNSET}


def place_columns(prefix: str, place: Any) -> dict[str, Any]:
    """A venue-like {name, address, lat, lon} (or None to clear it) as `<prefix>_*` columns."""
    return {
        f"{prefix}_{part}": getattr(place, part) if place else None
        for part in ("name", "address", "lat", "lon")
    }
