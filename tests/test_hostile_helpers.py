"""A seeded org with one of everything, and the OpenAPI document walked route by route."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.events_helpers import event_body, in_days, published_event
from tests.people import Person, create_org, join, sign_up
from tests.rides_helpers import offer_ride
from tests.trips_helpers import add_item, apply, open_trip_for

OPENAPI = Path(__file__).resolve().parent.parent / "openapi.yaml"
METHODS = ("get", "put", "post", "patch", "delete")


def load_openapi() -> dict[str, Any]:
    return yaml.safe_load(OPENAPI.read_text())  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.method.upper()} {self.path}"

    @property
    def body_schema(self) -> dict[str, Any] | None:
        content = (self.spec.get("requestBody") or {}).get("content", {})
        media = content.get("application/json")
        return media.get("schema") if media else None

    def parameters(self, where: str) -> list[dict[str, Any]]:
        return [p for p in self.spec.get("parameters", []) if p["in"] == where]


def operations(document: dict[str, Any] | None = None) -> list[Operation]:
    document = document or load_openapi()
    return [
        Operation(method, path, item[method])
        for path, item in sorted(document["paths"].items())
        for method in METHODS
        if method in item
    ]


#: path parameters whose seeded value depends on the path: (name, path) → key in Seed.ids
PATH_KEYS = {
    ("token", "/v1/feeds/{token}/calendar.ics"): "feed_token",
    ("token", "/v1/events/shared/{token}"): "share_token",
    ("token", "/v1/events/shared/{token}/calendar.ics"): "share_token",
    ("slug", "/v1/events/{event_id}/cohosts/{slug}"): "cohost_slug",
    ("slug", "/v1/trips/{trip_id}/cohosts/{slug}"): "cohost_slug",
}


@dataclass
class Seed:
    """The ids a request path may need, and the people who own them."""

    owner: Person
    member: Person
    ids: dict[str, str] = field(default_factory=dict)

    def path_value(self, path: str, name: str, schema: dict[str, Any]) -> str:
        """A real id for a path parameter where the seed has one, else a well-formed unknown."""
        key = PATH_KEYS.get((name, path), name)
        if name == "item_id" and "/checklist/" in path:
            key = "checklist_item_id"
        if key in self.ids:
            return self.ids[key]
        if schema.get("type") == "integer":
            return "0"
        if schema.get("format") == "uuid":
            return str(uuid.UUID(int=1))
        return "unknown"

    def fill(self, path: str, spec_parameters: list[dict[str, Any]]) -> str:
        for parameter in spec_parameters:
            if parameter["in"] == "path":
                value = self.path_value(path, parameter["name"], parameter.get("schema", {}))
                path = path.replace("{" + parameter["name"] + "}", value)
        return path


async def _created(response: httpx.Response) -> dict[str, Any] | None:
    return response.json() if response.status_code in (200, 201) else None  # type: ignore[no-any-return]


async def seed(client: httpx.AsyncClient) -> Seed:
    """An org with a member, a published event with a shift, RSVPs, a trip with an
    application and itinerary, a ride offer with a booking and a request, a webhook, a feed
    import, an API key and a series: one of everything a path can name."""
    owner = await sign_up(client, "Owner")
    member = await sign_up(client, "Member")
    org = await create_org(client, owner)
    await join(client, org, owner, member, "member")
    s = Seed(owner, member, {"slug": org["slug"], "account_id": member.id})
    auth = owner.headers

    event = await published_event(client, org, owner, capacity=50)
    s.ids["event_id"] = s.ids["osdi_id"] = event["id"]
    starts = in_days(7)
    shift = await client.post(
        f"/v1/events/{event['id']}/shifts",
        json={
            "name": {"en": "Marshal"},
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=1)).isoformat(),
            "capacity": 5,
        },
        headers=auth,
    )
    if body := await _created(shift):
        s.ids["shift_id"] = body["id"]
    rsvp = await client.post(
        f"/v1/events/{event['id']}/rsvps", json={"alias": "Lupe"}, headers=member.headers
    )
    assert rsvp.status_code == 201, rsvp.text
    s.ids["rsvp_id"] = rsvp.json()["id"]
    s.ids["token"] = rsvp.json()["manage_token"]

    trip = await open_trip_for(client, org, owner)
    s.ids["trip_id"] = trip["id"]
    s.ids["application_id"] = (await apply(client, trip, member))["id"]
    s.ids["item_id"] = (await add_item(client, trip, owner))["id"]
    checklist = await client.post(
        f"/v1/trips/{trip['id']}/checklist", json={"title": {"en": "Passport"}}, headers=auth
    )
    if body := await _created(checklist):
        s.ids["checklist_item_id"] = body["id"]

    offer = await offer_ride(client, event, member)
    s.ids["offer_id"] = offer["id"]
    booking = await client.post(
        f"/v1/ride-offers/{offer['id']}/bookings",
        json={"seats": 1, "leg": "outbound"},
        headers=auth,
    )
    if body := await _created(booking):
        s.ids["booking_id"] = body["id"]
    request = await client.post(
        f"/v1/events/{event['id']}/ride-requests",
        json={
            "area": "Downtown",
            "lat": 32.53,
            "lon": -117.03,
            "earliest_at": (starts - timedelta(hours=3)).isoformat(),
            "latest_at": (starts - timedelta(hours=1)).isoformat(),
        },
        headers=auth,
    )
    if body := await _created(request):
        s.ids["request_id"] = body["id"]

    hook = await client.post(
        f"/v1/orgs/{org['slug']}/webhooks",
        json={"url": "https://partner.example/hooks/caravan", "event_types": ["event.created"]},
        headers=auth,
    )
    if body := await _created(hook):
        s.ids["endpoint_id"] = body["endpoint"]["id"]
    feed = await client.post(
        f"/v1/orgs/{org['slug']}/feed-imports",
        json={"url": "https://partner.example/events.ics"},
        headers=auth,
    )
    if body := await _created(feed):
        s.ids["import_id"] = body["id"]
    key = await client.post(
        f"/v1/orgs/{org['slug']}/api-keys",
        json={"name": "Coalition site", "scopes": ["events:read"]},
        headers=auth,
    )
    if body := await _created(key):
        s.ids["key_id"] = body["api_key"]["id"]
    private = await client.post(
        f"/v1/orgs/{org['slug']}/events",
        json=event_body(visibility="private", starts_at=in_days(9)),
        headers=auth,
    )
    if body := await _created(private):
        s.ids["share_token"] = body["share_url"].rsplit("/", 1)[-1]
        await client.post(f"/v1/events/{body['id']}/publish", headers=auth)
    feed_token = await client.post("/v1/me/feed-tokens", json={"label": "phone"}, headers=auth)
    if body := await _created(feed_token):
        s.ids["feed_token"] = body["token"]
    series = await client.post(
        f"/v1/orgs/{org['slug']}/series",
        json={"template": event_body(starts_at=in_days(5)), "frequency": "weekly", "count": 3},
        headers=auth,
    )
    if body := await _created(series):
        s.ids["series_id"] = body["id"]
        s.ids["index"] = "1"
    cohost = await create_org(client, owner)
    s.ids["cohost_slug"] = cohost["slug"]
    for kind, id_ in (("events", event["id"]), ("trips", trip["id"])):
        await client.post(f"/v1/{kind}/{id_}/cohosts", json={"org": cohost["slug"]}, headers=auth)
    await _seed_doomed(client, s, org, event, trip)
    sessions = await client.get("/v1/me/sessions", headers=auth)
    if sessions.status_code == 200 and sessions.json().get("items"):
        s.ids["session_id"] = sessions.json()["items"][0]["id"]
    return s


#: DELETE operations get their own victims, so that deleting does not take away what the
#: other operations work on: (path, parameter) → key in Seed.ids
DOOMED = {
    ("/v1/orgs/{slug}/members/{account_id}", "account_id"): "leaver_id",
    ("/v1/orgs/{slug}/webhooks/{endpoint_id}", "endpoint_id"): "doomed_endpoint_id",
    ("/v1/orgs/{slug}/feed-imports/{import_id}", "import_id"): "doomed_import_id",
    ("/v1/orgs/{slug}/api-keys/{key_id}", "key_id"): "doomed_key_id",
    ("/v1/shifts/{shift_id}", "shift_id"): "doomed_shift_id",
    ("/v1/trips/{trip_id}/itinerary/{item_id}", "item_id"): "doomed_item_id",
}


async def _seed_doomed(
    client: httpx.AsyncClient,
    s: Seed,
    org: dict[str, Any],
    event: dict[str, Any],
    trip: dict[str, Any],
) -> None:
    """A second of each thing a DELETE removes (see DOOMED)."""
    auth = s.owner.headers
    leaver = await sign_up(client, "Leaver")
    await join(client, org, s.owner, leaver, "member")
    s.ids["leaver_id"] = leaver.id
    starts = in_days(7)
    creations = {
        "doomed_endpoint_id": (
            f"/v1/orgs/{org['slug']}/webhooks",
            {"url": "https://partner.example/hooks/2", "event_types": ["event.created"]},
            ("endpoint", "id"),
        ),
        "doomed_import_id": (
            f"/v1/orgs/{org['slug']}/feed-imports",
            {"url": "https://partner.example/second.ics"},
            ("id",),
        ),
        "doomed_key_id": (
            f"/v1/orgs/{org['slug']}/api-keys",
            {"name": "Old site", "scopes": ["events:read"]},
            ("api_key", "id"),
        ),
        "doomed_shift_id": (
            f"/v1/events/{event['id']}/shifts",
            {
                "name": {"en": "Medic"},
                "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(hours=1)).isoformat(),
            },
            ("id",),
        ),
    }
    for key, (path, body, where) in creations.items():
        created = await _created(await client.post(path, json=body, headers=auth))
        if created:
            for part in where:
                created = created[part]
            s.ids[key] = str(created)
    s.ids["doomed_item_id"] = (await add_item(client, trip, s.owner))["id"]


# ------------------------------------------------------------------ bodies from the schema


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def _first_concrete(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    schema = resolve(document, schema)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            options = [resolve(document, o) for o in schema[key]]
            concrete = [o for o in options if o.get("type") != "null"] or options
            merged = {k: v for k, v in schema.items() if k != key}
            return {**merged, **concrete[0]}
    return schema


#: date-time fields whose name says they come last: an hour after the others
_LATER = ("end", "latest", "until", "closes", "deadline")


def example_value(
    document: dict[str, Any], schema: dict[str, Any], seed: Seed, depth: int = 0, name: str = ""
) -> Any:
    """A plausible value for a schema: its example, else something of the right shape; times
    are in ten days, an end an hour after a start."""
    schema = _first_concrete(document, schema)
    if schema.get("format") == "date-time":
        later = any(word in name for word in _LATER)
        return (in_days(10) + timedelta(hours=1 if later else 0)).isoformat()
    if schema.get("examples"):
        return schema["examples"][0]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if depth > 4:
            return {}
        return {
            key: example_value(document, prop, seed, depth + 1, key)
            for key, prop in schema.get("properties", {}).items()
        }
    if kind == "array":
        return [example_value(document, schema.get("items", {}), seed, depth + 1, name)]
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return False
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "uuid":
            return seed.ids.get("event_id", str(uuid.UUID(int=1)))
        if fmt == "date":
            return in_days(10).date().isoformat()
        return "text"
    return "text"


def map_leaves(value: Any, on_string: Any, on_number: Any) -> Any:
    """The same document with each string and number leaf replaced (keys kept)."""
    if isinstance(value, dict):
        return {k: map_leaves(v, on_string, on_number) for k, v in value.items()}
    if isinstance(value, list):
        return [map_leaves(v, on_string, on_number) for v in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return on_string(value)
    if isinstance(value, int | float):
        return on_number(value)
    return value
