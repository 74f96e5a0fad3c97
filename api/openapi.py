"""The published contract: Litestar's schema with our problem+json errors and auth declared."""

from __future__ import annotations

import re
from typing import Any

import msgspec
import yaml
from litestar import Litestar
from litestar.enums import ParamType
from litestar.openapi.spec import (
    Components,
    Discriminator,
    OpenAPI,
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Parameter,
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
    428: (
        "Many requests came from this network: solve a challenge from GET /v1/challenges "
        "(or take a token from GET /v1/challenges/time-lock) and send it in the "
        "Caravan-Challenge header; the problem type is "
        "https://caravan.example/problems/challenge-required"
    ),
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
            props[name] = Schema(type=OpenAPIType.ARRAY, items=Reference(ref=prop["items"]["$ref"]))
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


# ---------------------------------------------------------------- request bodies, exactly

_KEYWORDS = {"not": "schema_not", "if": "schema_if", "else": "schema_else"}
_ONE = {"items", "property_names", "contains", "schema_not", "schema_if", "then", "schema_else"}
_MANY = {"all_of", "any_of", "one_of", "prefix_items"}
_FORMATS = {f.value for f in OpenAPIFormat}


def _spec(body: dict[str, Any]) -> Schema | Reference:
    """A JSON Schema (msgspec's) as Litestar's spec objects."""
    if "$ref" in body:
        return Reference(ref=body["$ref"])
    kwargs: dict[str, Any] = {}
    for key, value in body.items():
        name = _KEYWORDS.get(key) or re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()
        if name == "properties":
            value = {k: _spec(v) for k, v in value.items()}
        elif name in _ONE or (name == "additional_properties" and isinstance(value, dict)):
            value = _spec(value)
        elif name in _MANY:
            value = [_spec(v) for v in value]
        elif name == "type":
            value = (
                OpenAPIType(value) if isinstance(value, str) else [OpenAPIType(v) for v in value]
            )
        elif name == "format" and value in _FORMATS:
            value = OpenAPIFormat(value)
        elif name == "discriminator":
            value = Discriminator(property_name=value["propertyName"], mapping=value.get("mapping"))
        kwargs[name] = value
    if "any_of" in kwargs and any(
        isinstance(v, Schema) and v.type == OpenAPIType.NULL for v in kwargs["any_of"]
    ):
        kwargs["one_of"] = kwargs.pop("any_of")  # `X | None`: exactly one branch matches
    return Schema(**kwargs)


def _request_body_components(app: Litestar) -> dict[str, Schema]:
    """The schemas of every request body, as msgspec validates them.

    Litestar's own schemas drop what msgspec enforces inside dicts and lists (the keys and
    values of a texts-by-language map, the length of each list item) and do not say that
    unknown fields are refused; clients and contract tests would then send bodies that look
    valid and get 400. msgspec's schemas are exact, so request bodies are described by them.
    """
    types = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            data = handler.parsed_fn_signature.parameters.get("data")
            if data is not None and handler.include_in_schema:
                types.append(data.annotation)
    _, components = msgspec.json.schema_components(
        types, ref_template="#/components/schemas/{name}"
    )
    specs = {name: _spec(body) for name, body in components.items()}
    return {name: spec for name, spec in specs.items() if isinstance(spec, Schema)}


def _security(handler: Any, declared: set[int]) -> list[dict[str, list[str]]] | None:
    """Required when the handler needs a signed-in account (or says so); optional when a
    token only changes what the caller sees (a bad one still gets 401)."""
    if 401 not in declared:
        return None
    required = handler is None or (
        "account" in handler.parsed_fn_signature.parameters or handler.opt.get("auth") == "required"
    )
    return [{"bearerAuth": []}] if required else [{}, {"bearerAuth": []}]


_NOT_MODIFIED_HEADERS = {"if-none-match", "if-modified-since"}
_BOUNDS = {
    "gt": "exclusive_minimum",
    "ge": "minimum",
    "lt": "exclusive_maximum",
    "le": "maximum",
}


def _tidy_parameter(parameter: Parameter, handler: Any) -> None:
    """A header is present or absent, never null: drop Litestar's `null` branch (a client would
    send the text "None"; the query reads `null` as absent, so it keeps it); and keep the
    bounds Litestar drops from optional numbers."""
    schema = parameter.schema
    if not isinstance(schema, Schema):
        return
    branches = (schema.one_of or []) if parameter.param_in != ParamType.QUERY else []
    concrete = [b for b in branches if not (isinstance(b, Schema) and b.type == OpenAPIType.NULL)]
    if len(branches) == 2 and len(concrete) == 1 and isinstance(concrete[0], Schema):
        schema.one_of = None
        for name, value in vars(concrete[0]).items():
            if value is not None and getattr(schema, name, None) is None:
                setattr(schema, name, value)
    if handler is None:
        return
    for field_name, field in handler.parsed_fn_signature.parameters.items():
        definition = field.kwarg_definition
        if (getattr(definition, "name", None) or field_name) != parameter.name:
            continue
        for bound, keyword in _BOUNDS.items():
            value = getattr(definition, bound, None)
            if value is not None and getattr(schema, keyword) is None:
                setattr(schema, keyword, value)


def _add_text_form(response: Any, handler: Any) -> None:
    """A route that also answers `Accept: text/plain` (opt `text_plain`: what the text is)
    says so next to its JSON."""
    described = handler.opt.get("text_plain") if handler is not None else None
    if not described or not isinstance(response, OpenAPIResponse) or response.content is None:
        return
    response.content["text/plain"] = OpenAPIMediaType(
        schema=Schema(type=OpenAPIType.STRING, description=described)
    )


_CHALLENGE_HEADER = Parameter(
    name="Caravan-Challenge",
    param_in=ParamType.HEADER,
    required=False,
    schema=Schema(type=OpenAPIType.STRING),
    description=(
        "Read only past a free threshold, after a 428 challenge-required: base64 of the JSON "
        "solution "
        "{algorithm, challenge, number, salt, signature} of a challenge from GET /v1/challenges "
        "(ALTCHA's v1 payload), or a time-lock token from GET /v1/challenges/time-lock "
        "once it is valid. Each works once."
    ),
)


def finalize(app: Litestar, challenged: frozenset[tuple[str, str]] = frozenset()) -> OpenAPI:
    """Replace every error response with problem+json, describe request bodies exactly, and
    declare which operations need a bearer token and which only accept one; `challenged`
    (method, path) operations take the Caravan-Challenge header and may answer 428."""
    schema = app.openapi_schema
    problems: dict[tuple[str, str], tuple[int, ...]] = {}
    handlers: dict[tuple[str, str], Any] = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in handler.http_methods:
                problems[(route.path_format, method.lower())] = tuple(
                    handler.opt.get("problems", ())
                )
                handlers[(route.path_format, method.lower())] = handler
    schema.components = schema.components or Components()
    schemas = dict(schema.components.schemas or {})
    schemas.update(_request_body_components(app))
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
            if (method.upper(), path) in challenged:
                declared |= {422, 428}
                operation.parameters = [*(operation.parameters or []), _CHALLENGE_HEADER]
            if method in _BODY_METHODS and operation.request_body is not None:
                declared |= {413, 415}
            responses = {
                code: resp for code, resp in (operation.responses or {}).items() if int(code) < 400
            }
            conditional = {
                p.name.lower() for p in operation.parameters or [] if isinstance(p, Parameter)
            } & _NOT_MODIFIED_HEADERS
            if conditional and "304" not in responses:
                responses["304"] = OpenAPIResponse(
                    description="Not modified since the ETag or date the request named"
                )
            for status in sorted(declared):
                responses[str(status)] = _problem_response(status)
            operation.responses = responses
            handler = handlers.get((path, method))
            _add_text_form(responses.get("200"), handler)
            for parameter in operation.parameters or []:
                if isinstance(parameter, Parameter):
                    _tidy_parameter(parameter, handler)
            data = handler.parsed_fn_signature.parameters.get("data") if handler else None
            if operation.request_body is not None and data is not None and data.has_default:
                operation.request_body.required = False  # e.g. a feed token's optional label
            security = _security(handler, declared)
            if security is not None:
                operation.security = security
    return schema


def render_yaml(app: Litestar) -> str:
    """Byte-stable YAML of the app's contract (what `openapi.yaml` must hold); after finalize."""
    document = app.openapi_schema.to_schema()
    return yaml.safe_dump(document, sort_keys=True, allow_unicode=True, width=100)
