"""Demo events: a fortnight of upcoming, bilingual actions across the demo organizations."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import msgspec

from api.services import event_lifecycle, events
from schemas.events import EventCreate

# (org slug, timezone, days from today, local start, hours, fields)
_DEMO: list[tuple[str, str, int, time, float, dict[str, Any]]] = [
    (
        "frontera-unida",
        "America/Tijuana",
        3,
        time(17, 0),
        2,
        {
            "kind": "vigil",
            "title": {
                "es": "Vigilia por las familias separadas",
                "en": "Vigil for separated families",
            },
            "summary": {"es": "Traigan velas y fotos.", "en": "Bring candles and photos."},
            "venue": {"name": "Playas de Tijuana, el muro", "lat": 32.5343, "lon": -117.1228},
            "area": "Playas de Tijuana",
            "tags": ["families", "border"],
        },
    ),
    (
        "frontera-unida",
        "America/Tijuana",
        6,
        time(10, 0),
        3,
        {
            "kind": "training",
            "title": {"es": "Taller: observación legal", "en": "Workshop: legal observing"},
            "description": {
                "es": "Cómo documentar sin ponerse en riesgo ni poner en riesgo a otras personas.",
                "en": "How to document without putting yourself or others at risk.",
            },
            "venue": {
                "name": "Casa de acogida",
                "address": "Dirección al confirmar",
                "lat": 32.5149,
                "lon": -117.0382,
            },
            "area": "Zona Centro, Tijuana",
            "capacity": 25,
            "location_policy": "attendees",
            "tags": ["legal-observers", "training"],
        },
    ),
    (
        "frontera-unida",
        "America/Tijuana",
        12,
        time(9, 0),
        4,
        {
            "kind": "march",
            "title": {
                "es": "Marcha por el derecho al asilo",
                "en": "March for the right to asylum",
            },
            "venue": {"name": "Glorieta de las Tijeras", "lat": 32.5250, "lon": -117.0230},
            "area": "Zona Río, Tijuana",
            "tags": ["asylum"],
            "accessibility_notes": "Ruta plana de 3 km; vehículo de apoyo para quien lo necesite.",
        },
    ),
    (
        "red-de-apoyo-cdmx",
        "America/Mexico_City",
        4,
        time(18, 0),
        2,
        {
            "kind": "training",
            "title": {"es": "Conoce tus derechos", "en": "Know your rights"},
            "languages": ["es", "en"],
            "venue": {"name": "Centro comunitario", "lat": 19.4270, "lon": -99.1677},
            "area": "Colonia Juárez, CDMX",
            "capacity": 40,
            "tags": ["know-your-rights"],
        },
    ),
    (
        "red-de-apoyo-cdmx",
        "America/Mexico_City",
        9,
        time(11, 0),
        3,
        {
            "kind": "meeting",
            "title": {"es": "Asamblea de albergues", "en": "Shelter assembly"},
            "venue": {
                "name": "Albergue",
                "address": "Se comparte al confirmar",
                "lat": 19.4326,
                "lon": -99.1332,
            },
            "area": "Centro Histórico, CDMX",
            "location_policy": "attendees",
            "capacity": 30,
            "hide_counts": True,
            "tags": ["shelters"],
        },
    ),
    (
        "la-rights-network",
        "America/Los_Angeles",
        2,
        time(18, 30),
        1.5,
        {
            "kind": "vigil",
            "title": {"en": "Tuesday vigil", "es": "Vigilia de los martes"},
            "venue": {"name": "Placita Olvera", "lat": 34.0573, "lon": -118.2376},
            "area": "Downtown LA",
            "tags": ["vigil"],
        },
    ),
    (
        "la-rights-network",
        "America/Los_Angeles",
        5,
        time(7, 0),
        4,
        {
            "kind": "rapid_response",
            "title": {"en": "Rapid response drill", "es": "Simulacro de respuesta rápida"},
            "summary": {"en": "Practice the phone tree and accompaniment."},
            "virtual_url": "https://meet.example.org/rapid-response-drill",
            "area": "Los Angeles (online)",
            "tags": ["rapid-response"],
        },
    ),
    (
        "la-rights-network",
        "America/Los_Angeles",
        10,
        time(12, 0),
        3,
        {
            "kind": "rally",
            "title": {"en": "Rally at City Hall", "es": "Mitin en el Ayuntamiento"},
            "venue": {"name": "City Hall steps", "lat": 34.0537, "lon": -118.2428},
            "area": "Civic Center, LA",
            "tags": ["asylum", "families"],
            "contact": "info@la-rights.example.org",
        },
    ),
    (
        "acogida-madrid",
        "Europe/Madrid",
        4,
        time(19, 0),
        2,
        {
            "kind": "meeting",
            "title": {"es": "Encuentro de bienvenida", "en": "Welcome gathering"},
            "venue": {"name": "Plaza de Lavapiés", "lat": 40.4088, "lon": -3.7010},
            "area": "Lavapiés, Madrid",
            "tags": ["welcome"],
        },
    ),
    (
        "acogida-madrid",
        "Europe/Madrid",
        11,
        time(10, 30),
        2,
        {
            "kind": "training",
            "title": {
                "es": "Acompañamiento a citas de asilo",
                "en": "Accompanying asylum appointments",
            },
            "languages": ["es", "en", "fr"],
            "venue": {"name": "Local de la asociación", "lat": 40.4168, "lon": -3.7038},
            "area": "Centro, Madrid",
            "capacity": 20,
            "tags": ["asylum", "training"],
        },
    ),
]


def demo_event_bodies(today: datetime | None = None) -> list[tuple[str, EventCreate]]:
    """The demo events as (org slug, EventCreate), dated from `today` on."""
    today = today or datetime.now(UTC)
    bodies = []
    for slug, timezone, days, start, hours, fields in _DEMO:
        tz = ZoneInfo(timezone)
        day = (today.astimezone(tz) + timedelta(days=days)).date()
        starts_at = datetime.combine(day, start, tzinfo=tz)
        body = {
            **fields,
            "timezone": timezone,
            "starts_at": starts_at,
            "ends_at": starts_at + timedelta(hours=hours),
        }
        bodies.append((slug, msgspec.convert(body, EventCreate)))
    return bodies


async def load_demo_events(conn: asyncpg.Connection, owner_account_id: UUID) -> int:
    """Create and publish the demo events (the owner organizes every demo org); how many."""
    for slug, body in demo_event_bodies():
        event = await events.create_event(conn, "", slug, owner_account_id, body, [])
        await event_lifecycle.publish_event(conn, None, event.id, owner_account_id, [])
    return len(_DEMO)
