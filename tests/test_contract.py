"""The contract says what the server always sends: real responses against openapi.yaml.

A client generated from openapi.yaml types a property the schema leaves optional as
`string | undefined`, and every caller then writes `?? ''` for a value the server never
omits. So every property a response always carries is required in its schema (nullable ones
stay nullable), and no response carries a property its schema does not name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.openapi import OUTPUT_SUFFIX, always_sent, project_structs
from tests.conftest import SharedConnection
from tests.events_helpers import event_body
from tests.test_hostile_helpers import Seed, load_openapi, operations, resolve, seed

#: operations only the seeded member may take (the ride's driver, the trip's applicant)
MEMBER_PATHS = {
    "/v1/trip-applications/{application_id}/participant-data",
    "/v1/trips/{trip_id}/applications/mine",
}


@pytest.fixture(scope="module")
async def seeded(session_pool, settings) -> AsyncIterator[tuple[httpx.AsyncClient, Seed]]:
    """One of everything a path can name, in a transaction rolled back at the end."""
    async with session_pool.acquire() as connection:
        tx = connection.transaction()
        await tx.start()
        try:
            app = create_app(settings, pool=SharedConnection(connection))
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                yield http, await seed(http)
        finally:
            await tx.rollback()


def _component(ref_or_schema: dict[str, Any]) -> str | None:
    ref = ref_or_schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else None


def mismatches(
    document: dict[str, Any], schema: dict[str, Any], value: Any, where: str
) -> list[str]:
    """How `value` (a decoded response) differs from `schema` in which properties it has:
    a required one missing, one the schema does not name, or one sent yet left optional."""
    name = _component(schema)
    schema = resolve(document, schema)
    branches = schema.get("oneOf") or schema.get("anyOf")
    if branches:
        if value is None and any(resolve(document, b).get("type") == "null" for b in branches):
            return []
        options = [b for b in branches if resolve(document, b).get("type") != "null"]
        found = [mismatches(document, b, value, where) for b in options]
        return min(found, key=len) if found else []
    found: list[str] = []
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value[:3]):
            found += mismatches(document, schema["items"], item, f"{where}/{index}")
    if not isinstance(value, dict):
        return found
    properties = schema.get("properties")
    extra = schema.get("additionalProperties")
    if properties is None:  # a map: texts by language, counts by status
        if isinstance(extra, dict):
            for key, item in value.items():
                found += mismatches(document, extra, item, f"{where}/{key}")
        return found
    required = set(schema.get("required", []))
    omits_defaults = name is not None and _omits_defaults(name)
    for key in sorted(required - set(value)):
        found.append(f"{where}: required `{key}` is missing ({name})")
    for key, item in value.items():
        if key not in properties:
            found.append(f"{where}/{key}: sent but not in the schema ({name})")
            continue
        if key not in required and not omits_defaults:
            found.append(f"{where}/{key}: always sent, yet optional in the schema ({name})")
        found += mismatches(document, properties[key], item, f"{where}/{key}")
    return found


def _omits_defaults(component: str) -> bool:
    cls = project_structs().get(component.removesuffix(OUTPUT_SUFFIX))
    return cls is not None and cls.__struct_config__.omit_defaults


def _json_schema(operation: dict[str, Any], status: int) -> dict[str, Any] | None:
    response = operation["responses"].get(str(status), {})
    media = response.get("content", {}).get("application/json")
    return media.get("schema") if media else None


def test_no_response_component_leaves_a_property_optional_unless_its_struct_omits_it():
    document = load_openapi()
    schemas = document["components"]["schemas"]
    names: set[str] = set()

    def refs(node: Any) -> None:
        if isinstance(node, dict):
            if (name := _component(node)) is not None and name not in names:
                names.add(name)
                refs(schemas[name])
            for value in node.values():
                refs(value)
        elif isinstance(node, list):
            for value in node:
                refs(value)

    for op in operations(document):
        refs(op.spec["responses"])
    structs = project_structs()
    optional, unknown = [], []
    for name in sorted(names):
        component = schemas[name]
        if "properties" not in component:
            continue
        cls = structs.get(name.removesuffix(OUTPUT_SUFFIX))
        if cls is None:  # a component the generator could not tie to its Struct
            unknown.append(name)
            continue
        sent = set(always_sent(cls))
        left_out = sorted(sent - set(component.get("required", [])))
        if left_out:
            optional.append(f"{name}: {left_out}")
    assert len(names) > 50
    assert not unknown, unknown
    assert not optional, "\n".join(optional)


def test_components_that_requests_share_keep_their_request_form():
    schemas = load_openapi()["components"]["schemas"]
    # a trip's cost may be left out when creating a trip, and is always there when reading one
    assert schemas["Cost"]["required"] == []
    assert set(schemas["CostOutput"]["required"]) == set(schemas["Cost"]["properties"])
    trip = schemas["Trip"]["properties"]["cost"]
    assert "CostOutput" in str(trip)


def test_the_guests_maximum_is_the_setting_default_and_says_so():
    from api.config import Settings

    schemas = load_openapi()["components"]["schemas"]
    guests = schemas["RsvpCreate"]["properties"]["guests"]
    assert guests["maximum"] == Settings(secret_key="x" * 32).max_guests_per_rsvp
    assert "CARAVAN_MAX_GUESTS_PER_RSVP" in guests["description"]


def test_every_free_string_a_client_sends_says_it_refuses_nul():
    document = load_openapi()
    loose: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            kinds = node.get("type")
            if (kinds == "string" or (isinstance(kinds, list) and "string" in kinds)) and not any(
                key in node for key in ("pattern", "format", "enum", "const")
            ):
                loose.append(where)
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}/{index}")

    for op in operations(document):
        walk(op.spec.get("parameters", []), f"{op.id} parameters")
        body = op.body_schema
        if body is not None:
            walk(resolve(document, body), f"{op.id} body")
    schemas = document["components"]["schemas"]
    for name in ("AccountCreate", "SessionCreate", "EventCreate", "RsvpCreate"):
        walk(schemas[name], name)
    assert not loose, "\n".join(loose)
    password = schemas["AccountCreate"]["properties"]["password"]
    assert password["pattern"] == r"^[^\x00]*$"


def test_every_conditional_read_documents_its_etag_on_200_and_304():
    document = load_openapi()
    conditional = [
        op
        for op in operations(document)
        if any(p["name"].lower() == "if-none-match" for p in op.parameters("header"))
    ]
    assert len(conditional) >= 5
    for op in conditional:
        for status in ("200", "304"):
            headers = op.spec["responses"][status].get("headers", {})
            assert "ETag" in headers, (op.id, status)


# ------------------------------------------------------------------ real answers (seeded last:
# the module's transaction must not sit idle while the schema walks run)


async def test_every_json_answer_of_every_read_has_what_its_schema_requires(seeded):
    http, s = seeded
    document = load_openapi()
    checked, found = [], []
    for op in operations(document):
        if op.method != "get":
            continue
        headers = s.member.headers if op.path in MEMBER_PATHS else s.owner.headers
        response = await http.get(s.fill(op.path, op.spec.get("parameters", [])), headers=headers)
        schema = _json_schema(op.spec, response.status_code)
        if response.status_code != 200 or schema is None:
            continue
        if not response.headers["content-type"].startswith("application/json"):
            continue
        checked.append(op.id)
        found += mismatches(document, schema, response.json(), op.id)
    assert not found, "\n".join(found)
    # the seed reaches most reads; a broken seed must not make this pass by checking nothing
    assert len(checked) >= 40, checked


async def test_answers_to_writes_carry_what_their_schemas_require(seeded):
    http, s = seeded
    document = load_openapi()
    paths = document["paths"]
    slug = s.ids["slug"]
    answers = [
        (
            "/v1/orgs/{slug}/events",
            "post",
            await http.post(f"/v1/orgs/{slug}/events", json=event_body(), headers=s.owner.headers),
        ),
        (
            "/v1/events/{event_id}/rsvps",
            "post",
            await http.post(f"/v1/events/{s.ids['event_id']}/rsvps", json={"alias": "Noor"}),
        ),
        (
            "/v1/me/feed-tokens",
            "post",
            await http.post(
                "/v1/me/feed-tokens", json={"label": "tablet"}, headers=s.owner.headers
            ),
        ),
    ]
    found = []
    for path, method, response in answers:
        assert response.status_code in (200, 201), response.text
        schema = _json_schema(paths[path][method], response.status_code)
        assert schema is not None, path
        found += mismatches(document, schema, response.json(), f"{method.upper()} {path}")
    assert not found, "\n".join(found)
    rsvp = answers[1][2].json()
    assert rsvp["manage_url"] and rsvp["manage_token"]  # what a client needs no `?? ''` for
