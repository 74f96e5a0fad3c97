"""Every error class answers RFC 9457 problem+json; nothing a client sends produces a 500."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

import httpx
import msgspec
import yaml
from msgspec import Meta

from api.app import create_app
from api.errors import readable
from db.pool import create_pool
from schemas.common import pattern_phrase
from tests.conftest import settings_for
from tests.faults import DatabaseProxy
from tests.people import PASSWORD, sign_up
from tests.problems import assert_problem
from tests.test_openapi import SPEC


async def test_unknown_route_is_a_404_problem(client):
    assert_problem(await client.get("/v1/nothing-here"), 404, "not-found")


async def test_wrong_method_is_a_405_problem(client):
    assert_problem(await client.put("/v1/orgs"), 405, "method-not-allowed")


async def test_malformed_json_is_a_400_problem(client):
    response = await client.post(
        "/v1/accounts", content=b'{"email": ', headers={"content-type": "application/json"}
    )
    assert_problem(response, 400, "invalid-request")


async def test_wrong_type_names_the_field(client):
    response = await client.post(
        "/v1/accounts", json={"email": 5, "display_name": "A", "password": PASSWORD}
    )
    body = assert_problem(response, 400, "invalid-request", pointer="#/email")
    assert body["errors"][0]["detail"] == "must be text, not a whole number"


async def test_nested_field_paths_are_json_pointers(client):
    ana = await sign_up(client, "Ana")
    org = await client.post(
        "/v1/orgs", json={"slug": "x1", "name": "X", "timezone": "UTC"}, headers=ana.headers
    )
    assert org.status_code == 201
    response = await client.post(
        "/v1/orgs/x1/members", json={"email": "a@b.co", "role": "king"}, headers=ana.headers
    )
    assert_problem(response, 400, pointer="#/role")


async def test_unknown_field_is_rejected_with_its_path(client):
    response = await client.post(
        "/v1/accounts",
        json={"email": "a@example.org", "display_name": "A", "password": PASSWORD, "role": "owner"},
    )
    assert_problem(response, 400, "invalid-request", pointer="#/role")


async def test_nul_byte_in_body_is_a_400_not_a_500(client):
    response = await client.post(
        "/v1/accounts",
        content=json.dumps(
            {"email": "n@example.org", "display_name": "A\u0000B", "password": PASSWORD}
        ),
        headers={"content-type": "application/json"},
    )
    assert_problem(response, 400, "invalid-request", detail_contains="NUL")


async def test_nul_byte_in_query_is_a_400_not_a_500(client):
    assert_problem(await client.get("/v1/orgs", params={"q": "a\x00b"}), 400)


async def test_lone_surrogate_is_a_400_not_a_500(client):
    response = await client.post(
        "/v1/accounts",
        content=b'{"email": "s@example.org", "display_name": "\\ud800", "password": "a long enough password"}',
        headers={"content-type": "application/json"},
    )
    assert_problem(response, 400, "invalid-request")


async def test_deeply_nested_json_is_a_400(client):
    response = await client.post(
        "/v1/accounts",
        content=b"[" * 5000 + b"]" * 5000,
        headers={"content-type": "application/json"},
    )
    assert_problem(response, 400)


async def test_huge_numbers_and_long_strings_are_400(client):
    response = await client.post(
        "/v1/accounts",
        json={"email": "h@example.org", "display_name": "x" * 10_000, "password": PASSWORD},
    )
    assert_problem(response, 400, pointer="#/display_name")
    big = await client.get("/v1/orgs", params={"limit": 10**30})
    assert_problem(big, 400, pointer="#/query/limit")


async def test_oversized_body_is_a_413_problem(client, settings):
    body = b'{"email": "' + b"a" * (settings.max_body_bytes + 10) + b'"}'
    response = await client.post(
        "/v1/accounts", content=body, headers={"content-type": "application/json"}
    )
    assert_problem(response, 413, "body-too-large")


async def test_non_json_body_is_a_415_problem(client):
    response = await client.post(
        "/v1/accounts",
        content=b"email=a@b.co",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert_problem(response, 415, "unsupported-media-type")


async def test_security_headers_are_set(client):
    response = await client.get("/healthz")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_database_outage_is_a_503_with_retry_after_and_the_pool_recovers(live_database_url):
    proxy = DatabaseProxy(live_database_url)
    await proxy.start()
    pool = await create_pool(proxy.url, min_size=1, max_size=2)
    app = create_app(settings_for(live_database_url), pool=pool)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            assert (await http.get("/v1/orgs")).status_code == 200
            await proxy.cut()
            during = [await http.get("/v1/orgs") for _ in range(5)]
            for response in during:
                assert_problem(response, 503, "unavailable")
                assert response.headers["retry-after"] == "2"
            await proxy.restore()
            # the pool replaces its dead connections by itself
            after = [await http.get("/v1/orgs") for _ in range(3)]
            assert [r.status_code for r in after] == [200, 200, 200]
    finally:
        await proxy.cut()
        pool.terminate()


async def test_readyz_is_503_when_the_database_is_gone(live_database_url):
    pool = await create_pool(live_database_url, min_size=1, max_size=1)
    app = create_app(settings_for(live_database_url), pool=pool)
    await pool.close()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/readyz")
        assert_problem(response, 503, "unavailable")
        assert response.headers["retry-after"]
        orgs = await http.get("/v1/orgs")
        assert_problem(orgs, 503, "unavailable")


async def test_hsts_is_sent_when_configured(database_url):
    app = create_app(settings_for(database_url, CARAVAN_HSTS_SECONDS="31536000"), pool=None)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/healthz")
    assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


# ------------------------------------------------------------------ errors a person can read


def _readable(body: dict) -> None:
    """No regular expression, no msgspec type notation: words a person can act on."""
    text = json.dumps(body)
    for machine in ("regex", "\\\\x", "Expected `", "Expected str", "^[", "$."):
        assert machine not in text, (machine, body)


async def test_a_pattern_is_explained_in_words_with_the_pointer(client):
    response = await client.post(
        "/v1/accounts",
        json={"email": "ana@example.org", "display_name": "Ana\nR.", "password": PASSWORD},
    )
    body = assert_problem(response, 400, "invalid-request", pointer="#/display_name")
    assert body["errors"][0]["detail"] == (
        "must be one line without control characters (line breaks, tabs, NUL)"
    )
    assert body["detail"].startswith("#/display_name: must be one line")
    _readable(body)
    bad_email = await client.post(
        "/v1/accounts", json={"email": "ana @x.org", "display_name": "A", "password": PASSWORD}
    )
    body = assert_problem(bad_email, 400, pointer="#/email", detail_contains="email address")
    _readable(body)


async def test_lengths_bounds_and_missing_or_unknown_fields_are_words(client):
    ana = await sign_up(client, "Ana")
    cases = [
        ({"slug": "", "name": "X", "timezone": "UTC"}, "#/slug", "must not be empty"),
        (
            {"slug": "s" * 51, "name": "X", "timezone": "UTC"},
            "#/slug",
            "must have at most 50 characters",
        ),
        ({"slug": "ok", "name": "X"}, "#/timezone", "is required"),
        ({"slug": "ok", "name": "X", "timezone": "UTC", "x": 1}, "#/x", "is not a field"),
        ({"slug": "ok", "name": 7, "timezone": "UTC"}, "#/name", "must be text, not"),
        ({"slug": "Ok!", "name": "X", "timezone": "UTC"}, "#/slug", "lower-case letters"),
    ]
    for body, pointer, words in cases:
        response = await client.post("/v1/orgs", json=body, headers=ana.headers)
        problem = assert_problem(response, 400, "invalid-request", pointer=pointer)
        assert words in problem["errors"][0]["detail"], (body, problem)
        _readable(problem)


async def test_query_parameters_are_explained_in_words(client):
    for params, pointer, words in [
        ({"limit": "0"}, "#/query/limit", "must be at least 1"),
        ({"limit": "lots"}, "#/query/limit", "whole number"),
        ({"near": "north"}, "#/query/near", "decimal degrees"),
    ]:
        problem = assert_problem(await client.get("/v1/events", params=params), 400)
        assert problem["errors"][0]["pointer"] == pointer, problem
        assert words in problem["errors"][0]["detail"], problem
        _readable(problem)


class Sample(msgspec.Struct, forbid_unknown_fields=True):
    text: Annotated[str, Meta(min_length=2, max_length=3)] = "ab"
    count: Annotated[int, Meta(ge=0, le=10)] = 0
    share: Annotated[float, Meta(gt=0, lt=5)] = 1.0
    step: Annotated[int, Meta(multiple_of=5)] = 5
    items: Annotated[list[int], Meta(min_length=1, max_length=2)] = msgspec.field(
        default_factory=lambda: [1]
    )
    when: datetime | None = None
    aware: Annotated[datetime, Meta(tz=True)] | None = None
    day: date | None = None
    ref: UUID | None = None
    kind: Literal["a", "b"] = "a"
    code: Annotated[str, Meta(pattern="^q+$")] = "q"


def test_every_msgspec_message_shape_reads_as_words():
    expected = {
        "text": ("x", "must have at least 2 characters"),
        "count": (11, "must be at most 10"),
        "share": (0, "must be greater than 0"),
        "step": (3, "must be a multiple of 5"),
        "items": ([], "must not be empty"),
        "when": ("soon", "must be an RFC 3339 date-time"),
        "aware": ("2026-12-05T10:00:00", "needs a UTC offset"),
        "day": ("tomorrow", "must be an RFC 3339 date"),
        "ref": ("x", "must be a UUID"),
        "kind": ("c", "is not one of the allowed values"),
        "code": ("z", "is not in the expected form"),  # a pattern nobody phrased
    }
    for field, (value, words) in expected.items():
        try:
            msgspec.convert({field: value}, Sample, strict=True)
        except msgspec.ValidationError as exc:
            message = str(exc).split(" - at ")[0]
        else:
            raise AssertionError(field)
        assert readable(message).startswith(words), (field, message, readable(message))
        assert "`" not in readable(message) and "^q" not in readable(message)


def test_every_pattern_in_the_contract_has_a_phrase():
    # a field that brings a new pattern must say what it asks for (schemas.common.phrased)
    patterns: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                patterns.add(node["pattern"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load(SPEC.read_text()))
    assert len(patterns) > 10
    missing = sorted(p for p in patterns if not pattern_phrase(p))
    assert not missing, f"give these patterns a phrase in schemas/common.py: {missing}"
    for pattern in patterns:
        assert pattern_phrase(pattern).startswith(("must", "needs")), pattern  # type: ignore[union-attr]
