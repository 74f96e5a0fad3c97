"""Conditional GET (RFC 9110 §13): strong ETags, and the 304 that lists and feeds answer."""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from litestar import Response


def etag_of(body: bytes) -> str:
    """A strong validator: a hash of the body, so every server gives the same one."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def not_modified(
    etag: str,
    if_none_match: str | None,
    last_modified: datetime | None = None,
    if_modified_since: str | None = None,
) -> bool:
    """RFC 9110 §13.2.2: If-None-Match (weak comparison, lists, `*`) wins; otherwise an
    If-Modified-Since that parses and is not before Last-Modified, when there is one."""
    if if_none_match is not None:
        tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
        return "*" in tags or etag in tags
    if if_modified_since and last_modified is not None:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError, IndexError):
            return False
        if since.tzinfo is None:
            return False
        return last_modified.replace(microsecond=0) <= since
    return False


def conditional_response(
    body: bytes,
    media_type: str,
    headers: dict[str, str],
    if_none_match: str | None,
    last_modified: datetime | None = None,
    if_modified_since: str | None = None,
) -> Response[Any]:
    """The body with its headers (ETag among them), or an empty 304 with the same headers when
    the client already holds it."""
    if not_modified(headers["ETag"], if_none_match, last_modified, if_modified_since):
        return Response(content=b"", status_code=304, headers=headers)
    return Response(content=body, media_type=media_type, headers=headers)
