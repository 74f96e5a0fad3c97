"""Demo data for `make run`: a few organizations with upcoming events in several time zones."""

from __future__ import annotations

from api.config import Settings
from api.crypto import Keyring
from api.services import accounts, orgs
from api.services.accounts import Passwords
from db.pool import connect
from demo.events import load_demo_events
from demo.trips import load_demo_trips
from schemas.accounts import AccountCreate
from schemas.orgs import OrgCreate

DEMO_PASSWORD = "caravan-demo-password"
DEMO_ORGS = [
    OrgCreate(
        slug="frontera-unida",
        name="Frontera Unida",
        timezone="America/Tijuana",
        description="Accompaniment and solidarity trips along the Tijuana-San Diego border.",
    ),
    OrgCreate(
        slug="red-de-apoyo-cdmx",
        name="Red de Apoyo CDMX",
        timezone="America/Mexico_City",
        description="Know-your-rights trainings and shelter support in Mexico City.",
    ),
    OrgCreate(
        slug="la-rights-network",
        name="LA Rights Network",
        timezone="America/Los_Angeles",
        description="Rapid response and vigils in Los Angeles.",
    ),
    OrgCreate(
        slug="acogida-madrid",
        name="Acogida Madrid",
        timezone="Europe/Madrid",
        description="Welcoming newcomers in Madrid.",
    ),
]


async def load_demo(settings: Settings) -> str:
    """Load the demo data unless it is already there; say what happened."""
    assert settings.session_database_url
    conn = await connect(settings.session_database_url)
    keyring = Keyring(settings.secret_key)
    try:
        if await conn.fetchval("SELECT 1 FROM orgs WHERE slug = $1", DEMO_ORGS[0].slug):
            return "demo data already loaded"
        async with conn.transaction():
            owner = await accounts.register(
                conn,
                keyring,
                Passwords(settings),
                AccountCreate(
                    email="organizer@example.org",
                    display_name="Demo Organizer",
                    password=DEMO_PASSWORD,
                ),
            )
            for org in DEMO_ORGS:
                await orgs.create_org(conn, None, owner.id, org)
            event_count = await load_demo_events(conn, owner.id)
            trip_count = await load_demo_trips(conn, owner.id)
        return (
            f"demo data loaded: {len(DEMO_ORGS)} organizations, {event_count} events, "
            f"{trip_count} trip; log in as "
            f"organizer@example.org / {DEMO_PASSWORD}"
        )
    finally:
        await conn.close()
