"""Synthetic data at a chosen scale: organizations, events across cities and time zones, RSVPs.

Written straight in SQL (generate_series) so 100k events take seconds; used by `make bench`
and by the test that checks the hot queries' plans use indexes.
"""

from __future__ import annotations

from typing import Any

import asyncpg

CITIES = [  # (lat, lon, timezone, area)
    (32.5149, -117.0382, "America/Tijuana", "Tijuana"),
    (32.7157, -117.1611, "America/Los_Angeles", "San Diego"),
    (34.0522, -118.2437, "America/Los_Angeles", "Los Angeles"),
    (19.4326, -99.1332, "America/Mexico_City", "Ciudad de México"),
    (31.6904, -106.4245, "America/Ciudad_Juarez", "Ciudad Juárez"),
    (29.4241, -98.4936, "America/Chicago", "San Antonio"),
    (40.4168, -3.7038, "Europe/Madrid", "Madrid"),
    (41.3874, 2.1686, "Europe/Madrid", "Barcelona"),
    (25.6866, -100.3161, "America/Monterrey", "Monterrey"),
    (40.7128, -74.0060, "America/New_York", "New York"),
]


SEED_SQL = """
WITH cities(i, lat, lon, tz, area) AS (SELECT * FROM unnest($2::int[], $3::float8[], $4::float8[], $5::text[], $6::text[]))
INSERT INTO orgs (slug, name, timezone, description)
SELECT 'bench-org-' || g, 'Bench Org ' || g, c.tz, 'Benchmark organization ' || g
  FROM generate_series(1, $1) g
  JOIN cities c ON c.i = g % 10
"""

EVENTS_SQL = """
WITH cities(i, lat, lon, tz, area) AS (SELECT * FROM unnest($3::int[], $4::float8[], $5::float8[], $6::text[], $7::text[])),
     o AS (SELECT id, row_number() OVER (ORDER BY slug) - 1 AS n FROM orgs WHERE slug LIKE 'bench-org-%'),
     words(w) AS (SELECT ARRAY['vigil','asylum','families','rights','border','shelter','court',
                               'training','solidarity','march','legal','detention','welcome',
                               'interpreters','caravan','community','teachers','workers','youth','faith'])
INSERT INTO events (org_id, kind, title, summary, description, languages, starts_at, ends_at,
                    timezone, venue_name, venue_address, venue_lat, venue_lon, area, public_lat,
                    public_lon, visibility, status, capacity, location_policy, tags, published_at,
                    cancel_reason, cancelled_at)
SELECT o.id,
       (ARRAY['rally','march','vigil','training','meeting','rapid_response','other'])[1 + g % 7],
       jsonb_build_object('en', 'Event ' || g || ' ' || w[1 + g % 20], 'es', 'Evento ' || g),
       jsonb_build_object('en', 'About ' || w[1 + (g / 7) % 20]),
       jsonb_build_object('en', repeat(w[1 + (g / 3) % 20] || ' ' || w[1 + (g / 11) % 20] || ' ', 20)),
       ARRAY['en', 'es'],
       now() - interval '30 days' + (g::float8 / $1) * interval '395 days',
       now() - interval '30 days' + (g::float8 / $1) * interval '395 days' + interval '2 hours',
       c.tz, 'Venue ' || g, g || ' Main St', c.lat + (g % 97) * 0.002, c.lon + (g % 89) * 0.002,
       c.area,
       CASE WHEN g % 5 = 0 THEN round((c.lat + (g % 97) * 0.002) / 0.05) * 0.05 ELSE c.lat + (g % 97) * 0.002 END,
       CASE WHEN g % 5 = 0 THEN round((c.lon + (g % 89) * 0.002) / 0.05) * 0.05 ELSE c.lon + (g % 89) * 0.002 END,
       CASE WHEN g % 30 = 0 THEN 'members' WHEN g % 97 = 0 THEN 'private' ELSE 'public' END,
       CASE WHEN g % 20 = 0 THEN 'draft' WHEN g % 25 = 0 THEN 'cancelled' ELSE 'published' END,
       CASE WHEN g % 3 = 0 THEN 100 END,
       CASE WHEN g % 5 = 0 THEN 'attendees' ELSE 'public' END,
       ARRAY[w[1 + g % 20], w[1 + (g / 5) % 20]],
       now() - interval '40 days',
       CASE WHEN g % 20 <> 0 AND g % 25 = 0 THEN 'weather' END,
       CASE WHEN g % 20 <> 0 AND g % 25 = 0 THEN now() - interval '1 day' END
  FROM generate_series(1, $1) g
  JOIN o ON o.n = (g / 3) % $2  -- not g % $2: statuses below follow g % 20, g % 25, …
  JOIN cities c ON c.i = g % 10
  CROSS JOIN words
"""

RSVPS_SQL = """
INSERT INTO rsvps (event_id, org_id, alias, guests, status, manage_token_hash, language_needs)
SELECT e.id, e.org_id, 'Guest ' || k, k % 2, 'going',
       sha256(convert_to(e.id::text || ':' || k, 'UTF8')),
       CASE WHEN k % 4 = 0 THEN ARRAY['es'] ELSE '{}' END
  FROM (SELECT id, org_id FROM events WHERE capacity IS NOT NULL AND status = 'published') e
 CROSS JOIN generate_series(1, 3) k
"""


async def seed_events(conn: asyncpg.Connection, events: int) -> dict[str, Any]:
    """Seed `events` events (with orgs and RSVPs in proportion) and ANALYZE; say how many."""
    n_orgs = max(20, events // 250)
    cols = list(zip(*[(i, *c) for i, c in enumerate(CITIES)], strict=True))
    args = [list(cols[0]), list(cols[1]), list(cols[2]), list(cols[3]), list(cols[4])]
    await conn.execute(SEED_SQL, n_orgs, *args)
    await conn.execute("SET statement_timeout = 0")
    await conn.execute(EVENTS_SQL, events, n_orgs, *args)
    await conn.execute(RSVPS_SQL)
    await conn.execute(
        "UPDATE events e SET places_taken = s.places FROM (SELECT event_id, sum(places) AS places "
        "FROM rsvps GROUP BY event_id) s WHERE s.event_id = e.id"
    )
    await conn.execute("ANALYZE")
    return {
        "orgs": n_orgs,
        "events": events,
        "rsvps": await conn.fetchval("SELECT count(*) FROM rsvps"),
    }
