"""The published contract: openapi.yaml matches the app, and documents every operation."""

from __future__ import annotations

from pathlib import Path

import yaml

from api.openapi import render_yaml

SPEC = Path(__file__).resolve().parent.parent / "openapi.yaml"


def test_openapi_yaml_matches_the_app(app):
    assert SPEC.exists(), "run `caravan openapi` to write openapi.yaml"
    assert SPEC.read_text() == render_yaml(app), "openapi.yaml is stale: run `make openapi`"


def test_rendering_is_byte_stable(app, settings):
    from api.app import create_app

    assert render_yaml(app) == render_yaml(create_app(settings, pool=None))


def test_every_operation_has_a_description_and_problem_errors():
    document = yaml.safe_load(SPEC.read_text())
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete", "head"}:
                continue
            assert operation.get("description"), f"{method.upper()} {path} has no description"
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert "application/problem+json" in response["content"], (path, method, status)


def test_every_schema_has_a_description_or_examples():
    document = yaml.safe_load(SPEC.read_text())
    for name, schema in document["components"]["schemas"].items():
        props = schema.get("properties", {})
        assert schema.get("description") or props, name
        for prop_name, prop in props.items():
            documented = (
                "examples" in prop
                or "description" in prop
                or "$ref" in prop
                or "oneOf" in prop
                or prop.get("type") in {"array", "object", "boolean"}
            )
            assert documented, f"{name}.{prop_name} has no example"


async def test_openapi_json_is_served(client):
    response = await client.get("/v1/openapi.json")
    assert response.status_code == 200
    assert response.json()["paths"]["/v1/orgs"]["get"]["description"]
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "html" in docs.headers["content-type"]
