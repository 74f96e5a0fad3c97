"""Protected places: the public grid point, who sees the exact place, and searching near a point.

With location policy `attendees` or `reveal_at`, everyone but organizers and confirmed
attendees (for `reveal_at` only from that time on) sees the coarse `area` and lat/lon on a
~5 km grid. That grid point is computed when the place is written (`public_lat`/`public_lon`)
and is the only point lists and distances use. Events, trips, itinerary items and feeds all
read a `Place`; each stores its columns under its own prefix (`venue_`, `meeting_`, `place_`).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from api.errors import BadRequest, RuleViolation
from api.services.access import Hosted, Standing
from schemas.events import Location
from schemas.problems import FieldError

#: public lat/lon of protected locations snap to this grid (degrees; ≈ 5.5 km of latitude)
GRID_DEGREES = 0.05
EARTH_RADIUS_KM = 6371.0088

#: how each kind of row names its place columns: events `venue_*`, trips `meeting_*`,
#: itinerary items `place_*`
Prefix = Literal["venue", "meeting", "place"]


class Place(msgspec.Struct, frozen=True, kw_only=True):
    """A place as stored, under the location policy that protects it."""

    policy: str
    reveal_at: datetime | None
    area: str | None
    name: str | None
    address: str | None
    lat: float | None
    lon: float | None
    public_lat: float | None
    public_lon: float | None
    virtual_url: str | None = None


def place_of(row: Hosted, prefix: Prefix, *, policy: Hosted | None = None) -> Place:
    """The place of an event, trip or itinerary item row; `policy` is the row whose
    `location_policy` and `reveal_at` protect it (an item's trip), else the row itself."""
    rules = row if policy is None else policy
    return Place(
        policy=rules["location_policy"],
        reveal_at=rules["reveal_at"],
        area=row["area"],
        name=row[f"{prefix}_name"],
        address=row[f"{prefix}_address"],
        lat=row[f"{prefix}_lat"],
        lon=row[f"{prefix}_lon"],
        public_lat=row["public_lat"],
        public_lon=row["public_lon"],
        virtual_url=row["virtual_url"] if prefix == "venue" else None,
    )


def snap(lat: float, lon: float, degrees: float = GRID_DEGREES) -> tuple[float, float]:
    """The nearest point on a grid of `degrees` (rides use a finer one for departure areas)."""
    return (
        round(round(lat / degrees) * degrees, 2),
        round(round(lon / degrees) * degrees, 2),
    )


def grid_point(lat: float | None, lon: float | None) -> tuple[float | None, float | None]:
    """Snap a point to the ~5 km grid (what callers see of a protected location)."""
    if lat is None or lon is None:
        return None, None
    return snap(lat, lon)


def with_public_point(
    values: dict[str, Any], prefix: Prefix, *, always_grid: bool = False
) -> dict[str, Any]:
    """`values` (a row's writable columns) with `public_lat`/`public_lon` set from the exact
    point: the point itself under policy public, else the grid point. `always_grid` for
    places whose policy lives elsewhere (an item's trip may turn protected later)."""
    lat, lon = values[f"{prefix}_lat"], values[f"{prefix}_lon"]
    if not always_grid and values["location_policy"] == "public":
        values["public_lat"], values["public_lon"] = lat, lon
    else:
        values["public_lat"], values["public_lon"] = grid_point(lat, lon)
    return values


def may_see_exact_location(place: Place, standing: Standing, now: datetime | None = None) -> bool:
    """Whether a caller sees the exact place: organizers always; confirmed attendees under
    policy `attendees`, or under `reveal_at` once that time has come."""
    if place.policy == "public" or standing.organizer:
        return True
    if not standing.confirmed:
        return False
    if place.policy == "attendees":
        return True
    return place.reveal_at is not None and (now or datetime.now(UTC)) >= place.reveal_at


def location_for(place: Place, *, exact_allowed: bool) -> Location:
    """The place as a caller may see it.

    `exact_allowed` comes from `may_see_exact_location` (or, for an RSVP's manage link, from
    that RSVP's status). Without it, a protected place shows only the area, the grid point
    and `precision: "area"`: no name, address or virtual link.
    """
    if exact_allowed or place.policy == "public":
        return Location(
            precision="exact",
            area=place.area,
            name=place.name,
            address=place.address,
            lat=place.lat,
            lon=place.lon,
            virtual_url=place.virtual_url,
        )
    return Location(
        precision="area",
        area=place.area,
        name=None,
        address=None,
        lat=place.public_lat,
        lon=place.public_lon,
        virtual_url=None,
    )


# ---------------------------------------------------------------- near a point


def parse_near(near: str) -> tuple[float, float]:
    """`lat,lon` in degrees; a malformed or out-of-range point is a 400."""
    parts = near.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        lat, lon = float(parts[0]), float(parts[1])
        if not (math.isfinite(lat) and math.isfinite(lon)):
            raise ValueError
    except ValueError:
        raise BadRequest(
            "`near` must be `lat,lon` in decimal degrees, e.g. near=32.53,-117.04.",
            errors=[FieldError(pointer="#/query/near", detail="expected lat,lon")],
        ) from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise BadRequest(
            "`near` is out of range: lat must be within ±90 and lon within ±180.",
            errors=[FieldError(pointer="#/query/near", detail="lat within ±90, lon within ±180")],
        )
    return lat, lon


def check_near(near: tuple[float, float] | None, radius_km: float | None) -> None:
    """`near` and `radius_km` come together (422 naming the missing one)."""
    if near is not None and radius_km is None:
        raise RuleViolation(
            "`near` needs `radius_km` (how far from the point to look).",
            errors=[FieldError(pointer="#/query/radius_km", detail="required with near")],
        )
    if radius_km is not None and near is None:
        raise RuleViolation(
            "`radius_km` needs `near` (the point to measure from).",
            errors=[FieldError(pointer="#/query/near", detail="required with radius_km")],
        )


def bounding_box(
    lat: float, lon: float, radius_km: float
) -> tuple[float, float, float | None, float | None]:
    """A lat/lon box holding the circle; lon bounds are None near poles or the antimeridian."""
    dlat = math.degrees(radius_km / EARTH_RADIUS_KM)
    lat_min, lat_max = max(-90.0, lat - dlat), min(90.0, lat + dlat)
    widest = max(abs(lat_min), abs(lat_max))
    if widest >= 89.9:
        return lat_min, lat_max, None, None
    dlon = math.degrees(radius_km / (EARTH_RADIUS_KM * math.cos(math.radians(widest))))
    if lon - dlon < -180 or lon + dlon > 180:
        return lat_min, lat_max, None, None
    return lat_min, lat_max, lon - dlon, lon + dlon
