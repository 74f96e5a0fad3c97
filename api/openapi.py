"""The published contract: Litestar's schema with our problem+json errors and auth declared."""

from __future__ import annotations

from typing import Any

import msgspec
import yaml
from litestar import Litestar
from litestar.openapi.spec import (
    Components,
    OpenAPI,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Reference,
    Schema,
    SecurityScheme,
)

from api.errors import PROBLEM_MEDIA_TYPE
from schemas.problems import FieldError, Problem

_DESCRIPTIONS = {
    400: "The request does not match the schema (type, range, unknown field, bad cursor)",
    401: "No, expired or revoked credentials",
    403: "Authenticated, but the role is not enough",
    404: "Not found, or not visible to the caller",
    405: "Method not allowed on this path",
    409: "Conflicts with the current state (full, duplicate, illegal transition)",
    413: "Request body too large",
    415: "Request body is not application/json",
    422: "Well-formed input that breaks a rule (ends before starts, unknown time zone)",
    429: "Rate limited; see Retry-After",
    503: "Database unavailable or busy; see Retry-After",
}
_BODY_METHODS = {"post", "put", "patch"}


def _problem_components() -> dict[str, Schema]:
    (_, components) = msgspec.json.schema_components(
        [Problem, FieldError], ref_template="#/components/schemas/{name}"
    )
    return {name: Schema(**_schema_kwargs(body)) for name, body in components.items()}


def _schema_kwargs(body: dict[str, Any]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "type": body.get("type"),
        "title": body.get("title"),
        "description": body.get("description"),
        "required": body.get("required"),
    }
    props: dict[str, Schema | Reference] = {}
    for name, prop in body.get("properties", {}).items():
        if "$ref" in prop:
            props[name] = Reference(ref=prop["$ref"])
        elif prop.get("type") == "array":
            props[name] = Schema(type="array", items=Reference(ref=prop["items"]["$ref"]))
        else:
            kind = prop.get("type")
            props[name] = Schema(
                type=OpenAPIType(kind) if kind else None, examples=prop.get("examples")
            )
    kwargs["properties"] = props
    return {k: v for k, v in kwargs.items() if v is not None}


def _problem_response(status: int) -> OpenAPIResponse:
    return OpenAPIResponse(
        description=_DESCRIPTIONS.get(status, "Error"),
        content={
            PROBLEM_MEDIA_TYPE: OpenAPIMediaType(
                schema=Reference(ref="#/components/schemas/Problem")
            )
        },
    )


def finalize(app: Litestar) -> OpenAPI:
    """Replace every error response with problem+json and declare which need a bearer token."""
    schema = app.openapi_schema
    problems: dict[tuple[str, str], tuple[int, ...]] = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in handler.http_methods:
                problems[(route.path_format, method.lower())] = tuple(
                    handler.opt.get("problems", ())
                )
    schema.components = schema.components or Components()
    schemas = dict(schema.components.schemas or {})
    schemas.update(_problem_components())
    schema.components.schemas = dict(sorted(schemas.items()))
    schema.components.security_schemes = {
        "bearerAuth": SecurityScheme(
            type="http", scheme="bearer", description="A session token from POST /v1/sessions"
        )
    }
    for path, item in (schema.paths or {}).items():
        for method in ("get", "put", "post", "delete", "patch", "head"):
            operation = getattr(item, method, None)
            if operation is None:
                continue
            declared = set(problems.get((path, method), ()))
            declared |= {400, 429, 503}
            if method in _BODY_METHODS and operation.request_body is not None:
                declared |= {413, 415}
            responses = {
                code: resp for code, resp in (operation.responses or {}).items() if int(code) < 400
            }
            for status in sorted(declared):
                responses[str(status)] = _problem_response(status)
            operation.responses = responses
            if 401 in declared:
                operation.security = [{"bearerAuth": []}]
    return schema


def render_yaml(app: Litestar) -> str:
    """Byte-stable YAML of the app's contract (what `openapi.yaml` must hold); after finalize."""
    document = app.openapi_schema.to_schema()
    return yaml.safe_dump(document, sort_keys=True, allow_unicode=True, width=100)
