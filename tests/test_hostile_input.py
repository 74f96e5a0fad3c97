"""Hostile input on every route of openapi.yaml: a clear 4xx problem, never a 500.

Each JSON-body operation gets NUL bytes, lone surrogates, 10,000-character strings,
right-to-left and zero-width characters, huge numbers, wrong types and 5,000-level-deep JSON;
each query and string path parameter gets the same treatment. Real ids from a seeded org
fill the paths, so requests reach the handlers and the database rather than a 404.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from api.app import create_app
from tests.conftest import SharedConnection
from tests.test_hostile_helpers import (
    Operation,
    Seed,
    example_value,
    load_openapi,
    map_leaves,
    operations,
    seed,
)

DOCUMENT = load_openapi()
OPERATIONS = operations(DOCUMENT)
BODY_OPERATIONS = [op for op in OPERATIONS if op.body_schema is not None]
QUERY_OPERATIONS = [op for op in OPERATIONS if op.method == "get" and op.parameters("query")]
STRING_PATH_OPERATIONS = [
    op
    for op in OPERATIONS
    if any(
        p.get("schema", {}).get("type") == "string" and "format" not in p.get("schema", {})
        for p in op.parameters("path")
    )
]

MARK = "\u2063MARK\u2063"  # replaced in the encoded JSON by text json.dumps cannot write
RTL = "\u202eevil\u200b\u200d\u200f\u2066x\u2069"
DEEP = "[" * 5000 + "]" * 5000
#: what a hostile body may get: schema mismatch, too large, or a broken rule
REFUSED = {400, 413, 422}


@pytest.fixture(scope="module")
async def seeded(session_pool, settings) -> AsyncIterator[tuple[httpx.AsyncClient, Seed, Any]]:
    """One seeded org for the module, in a transaction rolled back at the end."""
    async with session_pool.acquire() as connection:
        tx = connection.transaction()
        await tx.start()
        try:
            app = create_app(settings, pool=SharedConnection(connection))
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                yield http, await seed(http), connection
        finally:
            await tx.rollback()


@pytest.fixture
async def hostile(seeded) -> AsyncIterator[tuple[httpx.AsyncClient, Seed]]:
    """The seeded org; whatever a test's requests change is rolled back after it."""
    http, s, connection = seeded
    savepoint = connection.transaction()
    await savepoint.start()
    try:
        yield http, s
    finally:
        await savepoint.rollback()


def check_answer(response: httpx.Response, what: str, allowed: set[int] | None = None) -> None:
    """Never a server error; every refusal is an RFC 9457 problem."""
    status = response.status_code
    assert status < 500, f"{what}: {status} {response.text[:300]}"
    if allowed is not None:
        assert status in allowed, f"{what}: {status} {response.text[:300]}"
    if status >= 400:
        assert response.headers["content-type"].startswith("application/problem+json"), what
        body = response.json()
        assert body["status"] == status and body["title"] and body["detail"], what


def _encode(document: Any, marker_text: str | None = None) -> bytes:
    text = json.dumps(document, ensure_ascii=False)
    if marker_text is not None:
        text = text.replace(json.dumps(MARK, ensure_ascii=False), marker_text)
    return text.encode("utf-8", "surrogatepass")


def _swapped(value: Any) -> Any:
    if isinstance(value, list):
        return {"0": value[0] if value else None}
    if isinstance(value, dict):
        return list(value.values())
    return value


def hostile_bodies(base: Any) -> list[tuple[str, bytes, set[int] | None]]:
    """(name, raw body, statuses allowed or None for "anything but a 5xx")."""
    keep: Callable[[Any], Any] = lambda v: v  # noqa: E731
    mark: Callable[[Any], Any] = lambda _: MARK  # noqa: E731
    strings_marked = map_leaves(base, mark, keep)
    numbers_marked = map_leaves(base, keep, mark)
    has_strings = strings_marked != base
    has_numbers = numbers_marked != base
    bodies: list[tuple[str, bytes, set[int] | None]] = [
        ("deep JSON", DEEP.encode(), REFUSED),
        ("a JSON scalar", b'"just a string"', REFUSED),
        ("truncated JSON", _encode(base)[:-1] or b"{", REFUSED),
    ]
    if isinstance(base, dict):
        bodies.append(("an unknown field", _encode({**base, "is_admin": True}), REFUSED))
        swapped = {k: _swapped(v) for k, v in base.items()}
        if swapped != base:
            bodies.append(("objects for arrays and arrays for objects", _encode(swapped), REFUSED))
    if has_strings:
        bodies += [
            ("NUL bytes", _encode(map_leaves(base, lambda s: f"a\x00{s}", keep)), REFUSED),
            ("a lone surrogate", _encode(strings_marked, '"\\ud800"'), REFUSED),
            ("a raw lone surrogate", _encode(strings_marked, '"\ud800"'), REFUSED),
            ("10,000 characters", _encode(map_leaves(base, lambda _: "x" * 10_000, keep)), None),
            ("RTL and zero-width", _encode(map_leaves(base, lambda s: RTL + s, keep)), None),
            ("numbers for strings", _encode(map_leaves(base, lambda _: 12345, keep)), REFUSED),
            ("deep JSON in a field", _encode(strings_marked, DEEP), REFUSED),
        ]
    if has_numbers:
        bodies += [
            ("1e309", _encode(numbers_marked, "1e309"), REFUSED),
            ("2**64", _encode(map_leaves(base, keep, lambda _: 2**64)), None),
            ("-2**63 - 1", _encode(map_leaves(base, keep, lambda _: -(2**63) - 1)), None),
            ("strings for numbers", _encode(map_leaves(base, keep, lambda _: "twelve")), REFUSED),
        ]
    return bodies


@pytest.mark.parametrize("op", BODY_OPERATIONS, ids=lambda op: op.id)
async def test_hostile_bodies_are_refused_with_a_problem_never_a_500(hostile, op: Operation):
    http, s = hostile
    schema = op.body_schema
    assert schema is not None
    base = example_value(DOCUMENT, schema, s)
    path = s.fill(op.path, op.spec.get("parameters", []))
    for name, body, allowed in hostile_bodies(base):
        response = await http.request(
            op.method.upper(),
            path,
            content=body,
            headers={**s.owner.headers, "content-type": "application/json"},
        )
        check_answer(response, f"{op.id} with {name}", allowed)


QUERY_VALUES = [
    ("NUL", "%00", {400}),
    ("a lone surrogate", "%ED%A0%80", None),
    ("invalid UTF-8", "%FF%FE", None),
    ("10,000 characters", "x" * 10_000, None),
    ("RTL and zero-width", quote(RTL), None),
    ("1e309", "1e309", None),
    ("2**64", str(2**64), None),
    ("a negative number", "-1", None),
    ("a word", "twelve", None),
    ("empty", "", None),
]


@pytest.mark.parametrize("op", QUERY_OPERATIONS, ids=lambda op: op.id)
async def test_hostile_query_parameters_are_refused_with_a_problem_never_a_500(
    hostile, op: Operation
):
    http, s = hostile
    path = s.fill(op.path, op.spec.get("parameters", []))
    for parameter in op.parameters("query"):
        for name, raw, allowed in QUERY_VALUES:
            url = f"{path}?{parameter['name']}={raw}"
            response = await http.get(url, headers=s.owner.headers)
            check_answer(response, f"{op.id} with {parameter['name']}={name}", allowed)
        repeated = f"{path}?{parameter['name']}=1&{parameter['name']}=2"
        check_answer(await http.get(repeated, headers=s.owner.headers), f"{op.id} repeated")


PATH_VALUES = [
    ("NUL", "%00"),
    ("a lone surrogate", "%ED%A0%80"),
    ("invalid UTF-8", "%FF"),
    ("10,000 characters", "x" * 10_000),
    ("RTL and zero-width", quote(RTL)),
    ("dots", ".."),
]


@pytest.mark.parametrize("op", STRING_PATH_OPERATIONS, ids=lambda op: op.id)
async def test_hostile_path_segments_are_refused_with_a_problem_never_a_500(hostile, op: Operation):
    http, s = hostile
    for parameter in op.parameters("path"):
        if parameter.get("schema", {}).get("type") != "string" or parameter["schema"].get("format"):
            continue
        for name, raw in PATH_VALUES:
            path = s.fill(
                op.path.replace("{" + parameter["name"] + "}", raw), op.parameters("path")
            )
            response = await http.request(
                op.method.upper(),
                path,
                content=b"{}" if op.body_schema is not None else None,
                headers={**s.owner.headers, "content-type": "application/json"},
            )
            check_answer(response, f"{op.id} with {parameter['name']}={name}")


async def test_a_body_field_named_like_a_dependency_is_a_400_not_a_500(hostile):
    # `languages` is both an event field and the caller's languages (a dependency): Litestar
    # blamed the dependency and answered 500
    http, s = hostile
    for path in (f"/v1/events/{s.ids['event_id']}", f"/v1/trips/{s.ids['trip_id']}"):
        response = await http.patch(path, json={"languages": {}}, headers=s.owner.headers)
        check_answer(response, f"PATCH {path}", {400})
        assert response.json()["errors"][0]["pointer"] == "#/languages"
