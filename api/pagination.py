"""Opaque keyset cursors and the Link header shared by every list endpoint."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

import msgspec
from litestar import Request
from litestar.params import QueryParameter

from api.errors import BadRequest
from schemas.problems import FieldError

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

Limit = Annotated[
    int,
    QueryParameter(ge=1, le=MAX_LIMIT, description="Items per page (at most 200)"),
]
Cursor = Annotated[
    str | None,
    QueryParameter(max_length=500, description="Opaque cursor from `next_cursor`"),
]


def encode_cursor(values: list[Any]) -> str:
    raw = msgspec.json.encode(values)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str | None, types: type) -> Any:
    """Decode a cursor into `types` (e.g. tuple[str, UUID]); a bad one is a 400."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return msgspec.json.decode(raw, type=types)
    except (binascii.Error, ValueError, msgspec.DecodeError, msgspec.ValidationError):
        raise BadRequest(
            "The cursor is not one this API issued; start again without it.",
            errors=[FieldError(pointer="#/query/cursor", detail="not a valid cursor")],
        ) from None


def link_header(request: Request[Any, Any, Any], next_cursor: str | None) -> dict[str, str]:
    """`Link: <…?cursor=…>; rel="next"` when there is a next page: the request's own path and
    query (in the caller's order), with the next cursor in place of the current one."""
    if next_cursor is None:
        return {}
    params = [
        (name, value)
        for name, value in parse_qsl(request.url.query, keep_blank_values=True)
        if name != "cursor"
    ]
    params.append(("cursor", next_cursor))
    return {"Link": f'<{request.url.path}?{urlencode(params)}>; rel="next"'}


def split_page(rows: list[Any], limit: int, sort_key: Any) -> tuple[list[Any], str | None]:
    """Rows were fetched with limit + 1: return this page and the cursor for the next one."""
    if len(rows) <= limit:
        return rows, None
    page = rows[:limit]
    return page, encode_cursor(list(sort_key(page[-1])))
