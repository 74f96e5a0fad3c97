"""Demo trip: a bilingual border delegation, open for applications, with an itinerary,
questions and a checklist."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import msgspec

from api.services import itinerary, trip_checklists, trip_editing, trip_lifecycle, trip_questions
from schemas.itinerary import ItineraryItemCreate
from schemas.trip_applications import ChecklistItemCreate, QuestionCreate
from schemas.trips import TripCreate

_ORG = "frontera-unida"
_ZONE = "America/Tijuana"
_LANGUAGES = ["es", "en"]


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    """Local time `day` days from today in Tijuana, as an aware datetime."""
    zone = ZoneInfo(_ZONE)
    today = datetime.now(zone).date()
    return datetime.combine(today + timedelta(days=day), time(hour, minute), zone).astimezone(UTC)


async def load_demo_trips(conn: asyncpg.Connection, owner_id: UUID) -> int:
    """Create and open the demo trip as the demo organizer; how many trips were made."""
    start, end = _at(21, 8), _at(23, 18)
    trip = await trip_editing.create_trip(
        conn,
        None,
        _ORG,
        owner_id,
        msgspec.convert(
            {
                "title": {
                    "es": "Delegación de acompañamiento en Tijuana",
                    "en": "Accompaniment delegation to Tijuana",
                },
                "summary": {
                    "es": "Tres días de acompañamiento en albergues y audiencias.",
                    "en": "Three days accompanying shelters and court hearings.",
                },
                "starts_at": start,
                "ends_at": end,
                "timezone": _ZONE,
                "meeting_point": {
                    "name": "Punto de encuentro",
                    "address": "Se comparte con participantes aceptados",
                    "lat": 32.5149,
                    "lon": -117.0382,
                },
                "area": "Zona Centro, Tijuana",
                "location_policy": "attendees",
                "capacity": 12,
                "application_deadline": _at(14, 23, 59),
                "cost": {
                    "amount": "120.00",
                    "currency": "USD",
                    "scholarships_available": True,
                    "notes": {"es": "Incluye comidas.", "en": "Meals included."},
                },
                "requirements": [
                    {"es": "Pasaporte vigente", "en": "Valid passport"},
                    {"es": "Español útil", "en": "Spanish helpful"},
                ],
                "languages": _LANGUAGES,
            },
            TripCreate,
        ),
        _LANGUAGES,
    )
    steps = [
        ("briefing", "Orientación de seguridad", "Safety briefing", 21, 9, 11, "everyone"),
        ("activity", "Observación de audiencias", "Court watch", 22, 9, 13, "everyone"),
        ("lodging", "Albergue", "Shelter", 21, 20, 23, "participants"),
    ]
    for kind, es, en, day, begin, finish, visibility in steps:
        await itinerary.add_item(
            conn,
            trip.id,
            owner_id,
            ItineraryItemCreate(
                kind=kind,  # type: ignore[arg-type]
                title={"es": es, "en": en},
                starts_at=_at(day, begin),
                ends_at=_at(day, finish),
                area="Tijuana",
                visibility=visibility,  # type: ignore[arg-type]
            ),
            _LANGUAGES,
        )
    await trip_questions.add_question(
        conn,
        trip.id,
        owner_id,
        QuestionCreate(
            kind="text", prompt={"es": "¿Por qué quieres ir?", "en": "Why do you want to come?"}
        ),
        _LANGUAGES,
    )
    for es, en in (("Exención firmada", "Waiver signed"), ("Capacitación", "Training attended")):
        await trip_checklists.add_checklist_item(
            conn, trip.id, owner_id, ChecklistItemCreate(title={"es": es, "en": en}), _LANGUAGES
        )
    await trip_lifecycle.open_trip(conn, None, trip.id, owner_id, _LANGUAGES)
    return 1
