"""Helpers that read like prose: drivers offer rides, riders ask for seats, drivers decide."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import httpx

from tests.events_helpers import published_event
from tests.people import Person, create_org, sign_up

#: the exact pickup in the examples: off the ~2 km grid, so it must never show up anywhere
PICKUP = {
    "address": "Calle Ocampo 1234, Colonia Libertad, blue gate",
    "lat": 32.54713,
    "lon": -117.01987,
    "details": "Grey van, I wait 10 minutes",
}
CONTACT = "Signal: @driver.ana.77"


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance on a sphere of the mean Earth radius, computed independently."""
    r = 6371.0088
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def offer_body(event: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """A valid RideOfferCreate: 4 seats leaving 2 hours before the event (or trip) starts."""
    starts = datetime.fromisoformat(event["starts_at"])
    body: dict[str, Any] = {
        "seats": 4,
        "departs_at": (starts - timedelta(hours=2)).isoformat(),
        "area": "Colonia Libertad",
        "pickup": PICKUP,
        "contact": CONTACT,
        "notes": "Spanish/English",
    }
    for key, value in overrides.items():
        body[key] = value.isoformat() if isinstance(value, datetime) else value
    return body


async def offer_ride(
    client: httpx.AsyncClient,
    event: dict[str, Any],
    driver: Person,
    *,
    kind: str = "events",
    **overrides: Any,
) -> dict[str, Any]:
    """`driver` offers a ride to the event (or trip, with kind="trips"); the RideOffer JSON."""
    response = await client.post(
        f"/v1/{kind}/{event['id']}/ride-offers",
        json=offer_body(event, **overrides),
        headers=driver.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def book(
    client: httpx.AsyncClient,
    offer: dict[str, Any],
    rider: Person,
    seats: int = 1,
    leg: str = "outbound",
) -> httpx.Response:
    return await client.post(
        f"/v1/ride-offers/{offer['id']}/bookings",
        json={"seats": seats, "leg": leg},
        headers=rider.headers,
    )


async def booked(
    client: httpx.AsyncClient,
    offer: dict[str, Any],
    rider: Person,
    seats: int = 1,
    leg: str = "outbound",
) -> dict[str, Any]:
    response = await book(client, offer, rider, seats, leg)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def act(
    client: httpx.AsyncClient, booking: dict[str, Any], action: str, by: Person
) -> httpx.Response:
    """POST /v1/ride-bookings/{id}/{confirm|decline|cancel} as `by`."""
    return await client.post(f"/v1/ride-bookings/{booking['id']}/{action}", headers=by.headers)


async def confirmed(
    client: httpx.AsyncClient,
    offer: dict[str, Any],
    rider: Person,
    driver: Person,
    seats: int = 1,
    leg: str = "outbound",
) -> dict[str, Any]:
    """`rider` books and `driver` confirms; the confirmed RideBooking JSON."""
    booking = await booked(client, offer, rider, seats, leg)
    response = await act(client, booking, "confirm", driver)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def get_offer(
    client: httpx.AsyncClient, offer: dict[str, Any], who: Person
) -> dict[str, Any]:
    response = await client.get(f"/v1/ride-offers/{offer['id']}", headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def inbox_kinds(client: httpx.AsyncClient, who: Person) -> list[str]:
    response = await client.get("/v1/me/notifications", headers=who.headers)
    assert response.status_code == 200, response.text
    return [n["kind"] for n in response.json()["items"]]


async def ride_world(client: httpx.AsyncClient, **event_overrides: Any) -> dict[str, Any]:
    """An organizer, their org, a published public event, a driver and two riders."""
    organizer = await sign_up(client, "Rosa")
    org = await create_org(client, organizer)
    event = await published_event(client, org, organizer, **event_overrides)
    return {
        "organizer": organizer,
        "org": org,
        "event": event,
        "driver": await sign_up(client, "Ana"),
        "rider": await sign_up(client, "Luis"),
        "other": await sign_up(client, "Marta"),
    }
