"""The one assertion every error test uses: an RFC 9457 body of the expected kind."""

from __future__ import annotations

from typing import Any

import httpx

TYPE_BASE = "https://caravan.example/problems/"


def assert_problem(
    response: httpx.Response,
    status: int,
    kind: str | None = None,
    *,
    pointer: str | None = None,
    detail_contains: str | None = None,
) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert set(body) == {"type", "title", "status", "detail", "errors"}, body
    assert body["status"] == status
    assert body["type"].startswith(TYPE_BASE)
    assert body["title"] and body["detail"] and body["title"] != body["detail"]
    assert "Traceback" not in body["detail"]
    if kind is not None:
        assert body["type"] == TYPE_BASE + kind, body
    if pointer is not None:
        pointers = [e["pointer"] for e in body["errors"]]
        assert pointer in pointers, body
    if detail_contains is not None:
        assert detail_contains.lower() in body["detail"].lower(), body
    return body
