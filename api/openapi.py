"""The published contract: Litestar's schema with our problem+json errors and auth declared."""

from __future__ import annotations

import copy as copy_module
import dataclasses
import enum
import re
from collections.abc import Iterator
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
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Parameter,
    Reference,
    Schema,
    SecurityScheme,
)

from api.config import Settings
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


#: no string the API reads may hold NUL (api/app.py refuses it in every body, query and path
#: before any handler); a string without a pattern of its own says so with this one
NO_NUL = r"^[^\x00]*$"
#: `Meta(extra_json_schema={SETTING_MAXIMUM: "max_guests_per_rsvp"})`: the maximum is a
#: deployment setting; the contract shows its default (so `caravan openapi --check` does not
#: depend on the environment) and says which variable moves it
SETTING_MAXIMUM = "x-maximum-setting"


def _setting_maximum(body: dict[str, Any]) -> dict[str, Any]:
    name = body[SETTING_MAXIMUM]
    default = next(f.default for f in msgspec.structs.fields(Settings) if f.name == name)
    variable = "CARAVAN_" + name.upper()
    note = f"At most {default} by default: a deployment setting ({variable})"
    body = {k: v for k, v in body.items() if k != SETTING_MAXIMUM}
    body["maximum"] = default
    body["description"] = f"{body['description']}. {note}" if body.get("description") else note
    return body


def _refuses_nul(body: dict[str, Any]) -> bool:
    return any(key in body for key in ("pattern", "format", "enum", "const"))


def _spec(body: dict[str, Any]) -> Schema | Reference:
    """A JSON Schema (msgspec's) as Litestar's spec objects."""
    if "$ref" in body:
        return Reference(ref=body["$ref"])
    if SETTING_MAXIMUM in body:
        body = _setting_maximum(body)
    kinds = body.get("type")
    if (kinds == "string" or (isinstance(kinds, list) and "string" in kinds)) and not _refuses_nul(
        body
    ):
        body = {**body, "pattern": NO_NUL}
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
    token only changes what the caller sees (a stale one is answered as no token: api/deps)."""
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


def _refuse_nul(schema: Schema | Reference | None) -> None:
    """A parameter's free strings (in every branch and item) carry the NUL-refusing pattern."""
    if not isinstance(schema, Schema):
        return
    if schema.type == OpenAPIType.STRING and not (
        schema.pattern or schema.format or schema.enum or schema.const
    ):
        schema.pattern = NO_NUL
    for branch in [*(schema.one_of or []), *(schema.any_of or []), schema.items]:
        _refuse_nul(branch)  # type: ignore[arg-type]


def _tidy_parameter(parameter: Parameter, handler: Any) -> None:
    """A header is present or absent, never null: drop Litestar's `null` branch (a client would
    send the text "None"; the query reads `null` as absent, so it keeps it); say that a free
    string refuses NUL; and keep the bounds Litestar drops from optional numbers."""
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
    _refuse_nul(schema)
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


# ---------------------------------------------------------------- responses, always complete

#: the name of a response's copy of a component that request bodies use too
OUTPUT_SUFFIX = "Output"


_LEAVES = (str, int, float, bool, enum.Enum)


def _references(node: Any) -> Iterator[Reference]:
    """Every Reference inside `node` (spec objects, lists and dicts), iteratively."""
    stack = [node]
    while stack:
        item = stack.pop()
        if item is None or isinstance(item, _LEAVES):
            continue
        if isinstance(item, Reference):
            yield item
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif dataclasses.is_dataclass(item) and not isinstance(item, type):
            stack.extend(vars(item).values())


def _ref_name(reference: Reference) -> str:
    return reference.ref.rsplit("/", 1)[-1]


def _refs(node: Any) -> set[str]:
    """Names of the components `node` refers to."""
    return {_ref_name(r) for r in _references(node)}


def _closure(names: set[str], graph: dict[str, set[str]]) -> set[str]:
    """`names` and every component they refer to, transitively (`graph`: direct refs)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name not in seen and name in graph:
            seen.add(name)
            todo.extend(graph[name])
    return seen


def _rename_refs(node: Any, renames: dict[str, str]) -> None:
    """Point `node`'s references to renamed components (in place)."""
    for reference in _references(node):
        name = _ref_name(reference)
        if name in renames:
            reference.ref = "#/components/schemas/" + renames[name]


def project_structs() -> dict[str, type[msgspec.Struct]]:
    """The project's Structs by class name (the component names Litestar and msgspec give)."""
    found: dict[str, type[msgspec.Struct]] = {}
    clashes: set[str] = set()
    todo: list[type[msgspec.Struct]] = list(msgspec.Struct.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if not cls.__module__.startswith(("schemas.", "api.")):
            continue
        if found.setdefault(cls.__name__, cls) is not cls:
            clashes.add(cls.__name__)
    return {name: cls for name, cls in found.items() if name not in clashes}


def always_sent(cls: type[msgspec.Struct]) -> list[str]:
    """The fields msgspec writes in every encoding of `cls`: all of them, unless it omits
    defaults (then those without one)."""
    fields = msgspec.structs.fields(cls)
    if cls.__struct_config__.omit_defaults:
        return [f.encode_name for f in fields if f.required]
    return [f.encode_name for f in fields]


def _complete_responses(schema: OpenAPI, schemas: dict[str, Schema]) -> None:
    """Mark every property a response always carries as required (nullable ones stay
    nullable: required is not non-null), so generated clients need no `?? ''`.

    msgspec encodes every field of a Struct (unless it omits defaults), so a response's
    property is optional only when its Struct says so. A component that request bodies use
    too keeps its request form (a default there means "may be left out"); responses get a
    copy named `<Name>Output`.
    """
    responses: set[str] = set()
    requests: set[str] = set()
    operations = []
    for item in (schema.paths or {}).values():
        for method in ("get", "put", "post", "delete", "patch", "head"):
            operation = getattr(item, method, None)
            if operation is not None:
                operations.append(operation)
                responses |= _refs(operation.responses)
                requests |= _refs([operation.request_body, operation.parameters])
    graph = {name: _refs(component) for name, component in schemas.items()}
    responses = _closure(responses, graph)
    requests = _closure(requests, graph)
    structs = project_structs()
    wanted: dict[str, list[str]] = {}
    for name in sorted(responses):
        cls = structs.get(name)
        component = schemas[name]
        if cls is None or not component.properties:
            continue
        required = [p for p in always_sent(cls) if p in component.properties]
        if sorted(required) != sorted(component.required or []):
            wanted[name] = required
    renames = {name: name + OUTPUT_SUFFIX for name in wanted if name in requests}
    # a shared component holding a renamed one needs its own response copy too
    while extra := {
        name
        for name in responses & requests
        if name not in renames and _closure({name}, graph) & set(renames)
    }:
        renames |= {name: name + OUTPUT_SUFFIX for name in extra}
    for name, copy in renames.items():
        schemas[copy] = copy_module.deepcopy(schemas[name])
        schemas[copy].title = copy
    for name, required in wanted.items():
        schemas[renames.get(name, name)].required = sorted(required)
    if renames:
        _rename_refs([op.responses for op in operations], renames)
        _rename_refs([schemas[n] for n in responses if n not in requests], renames)
        _rename_refs([schemas[copy] for copy in renames.values()], renames)


_VALIDATORS = ("ETag", "Last-Modified", "Cache-Control")


def _document_validators(responses: dict[str, Any]) -> None:
    """A conditional GET sends its ETag on 200 and on 304 alike (RFC 9110 §15.4.5), and the
    contract says so: the 304 carries the 200's validators and caching headers."""
    ok = responses.get("200")
    headers = dict(getattr(ok, "headers", None) or {})
    headers.setdefault(
        "ETag",
        OpenAPIHeader(
            schema=Schema(type=OpenAPIType.STRING),
            description="Strong validator (a hash of the body): send it back in If-None-Match",
            required=True,
        ),
    )
    if isinstance(ok, OpenAPIResponse):
        ok.headers = headers
    existing = responses.get("304")
    responses["304"] = OpenAPIResponse(
        description=getattr(existing, "description", None)
        or "Not modified since the ETag or date the request named",
        headers={name: headers[name] for name in _VALIDATORS if name in headers},
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
    schema.components.schemas = schemas
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
            if conditional:
                _document_validators(responses)
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
    _complete_responses(schema, schemas)
    schema.components.schemas = dict(sorted(schemas.items()))
    return schema


def render_yaml(app: Litestar) -> str:
    """Byte-stable YAML of the app's contract (what `openapi.yaml` must hold); after finalize."""
    document = app.openapi_schema.to_schema()
    return yaml.safe_dump(document, sort_keys=True, allow_unicode=True, width=100)
