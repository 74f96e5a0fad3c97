-- Carpools: ride offers for an event or a trip, ride requests, seat bookings per leg.
-- The exact pickup point and the driver's shared contact channel are sealed with the
-- offer's 'ride_pickup' data key (scope 'ride_offer'); the purge nulls them, records
-- pickup_purged_at and destroys the key. Departure areas are public only as a label and a
-- point on a ~2 km grid.

-- Great-circle distance in km (haversine on the mean Earth radius, as event discovery uses).
CREATE FUNCTION great_circle_km(lat1 double precision, lon1 double precision,
                                lat2 double precision, lon2 double precision)
    RETURNS double precision
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT 2 * 6371.0088 * asin(least(1, sqrt(
               power(sin(radians(lat2 - lat1) / 2), 2)
               + cos(radians(lat1)) * cos(radians(lat2))
                 * power(sin(radians(lon2 - lon1) / 2), 2))))
$$;

CREATE TABLE ride_offers (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id           uuid REFERENCES events (id) ON DELETE CASCADE,
    trip_id            uuid REFERENCES trips (id) ON DELETE CASCADE,
    org_id             uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    driver_id          uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    seats              integer NOT NULL CHECK (seats BETWEEN 1 AND 15),
    seats_taken        integer NOT NULL DEFAULT 0 CHECK (seats_taken >= 0),
    departs_at         timestamptz NOT NULL,
    area               text NOT NULL CHECK (length(area) BETWEEN 1 AND 200),
    area_lat           double precision NOT NULL CHECK (area_lat BETWEEN -90 AND 90),
    area_lon           double precision NOT NULL CHECK (area_lon BETWEEN -180 AND 180),
    pickup_ciphertext  bytea,
    contact_ciphertext bytea,
    return_departs_at  timestamptz,
    return_seats       integer CHECK (return_seats BETWEEN 1 AND 15),
    return_seats_taken integer NOT NULL DEFAULT 0 CHECK (return_seats_taken >= 0),
    notes              text CHECK (length(notes) <= 1000),
    accessibility      text[] NOT NULL DEFAULT '{}'
                           CHECK (accessibility <@ ARRAY['wheelchair', 'step_free', 'child_seat',
                                                        'service_animal', 'quiet']),
    auto_confirm       boolean NOT NULL DEFAULT false,
    -- open/full follow the seat counters (full = no leg has a free seat); cancelled is final
    status             text NOT NULL DEFAULT 'open'
                           CHECK (status IN ('open', 'full', 'cancelled', 'completed')),
    cancel_reason      text CHECK (cancel_reason IN ('driver', 'event_cancelled', 'trip_cancelled')),
    -- "event time changed — please confirm": set when the event or trip moves
    event_changed      boolean NOT NULL DEFAULT false,
    pickup_purged_at   timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    cancelled_at       timestamptz,
    CONSTRAINT ride_offers_one_parent_check CHECK (num_nonnulls(event_id, trip_id) = 1),
    -- the backstops behind the conditional UPDATEs that book seats
    CONSTRAINT ride_offers_seats_within_check CHECK (seats_taken <= seats),
    CONSTRAINT ride_offers_return_seats_within_check
        CHECK (return_seats_taken <= coalesce(return_seats, 0)),
    CONSTRAINT ride_offers_return_pair_check
        CHECK ((return_departs_at IS NULL) = (return_seats IS NULL)),
    CONSTRAINT ride_offers_return_order_check
        CHECK (return_departs_at IS NULL OR return_departs_at > departs_at),
    CONSTRAINT ride_offers_purged_check
        CHECK (pickup_purged_at IS NULL OR (pickup_ciphertext IS NULL AND contact_ciphertext IS NULL))
);
CREATE INDEX ride_offers_event_idx ON ride_offers (event_id, departs_at, id) WHERE event_id IS NOT NULL;
CREATE INDEX ride_offers_trip_idx ON ride_offers (trip_id, departs_at, id) WHERE trip_id IS NOT NULL;
CREATE INDEX ride_offers_driver_idx ON ride_offers (driver_id, departs_at);
-- the purge looks for rides whose last leg has left
CREATE INDEX ride_offers_purge_idx ON ride_offers ((coalesce(return_departs_at, departs_at)))
    WHERE pickup_purged_at IS NULL;

-- A rider asks for seats from an area within a departure window; drivers see the area only.
CREATE TABLE ride_requests (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id      uuid REFERENCES events (id) ON DELETE CASCADE,
    trip_id       uuid REFERENCES trips (id) ON DELETE CASCADE,
    org_id        uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    rider_id      uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    leg           text NOT NULL DEFAULT 'outbound' CHECK (leg IN ('outbound', 'return')),
    seats         integer NOT NULL CHECK (seats BETWEEN 1 AND 8),
    area          text NOT NULL CHECK (length(area) BETWEEN 1 AND 200),
    area_lat      double precision NOT NULL CHECK (area_lat BETWEEN -90 AND 90),
    area_lon      double precision NOT NULL CHECK (area_lon BETWEEN -180 AND 180),
    earliest_at   timestamptz NOT NULL,
    latest_at     timestamptz NOT NULL,
    accessibility text[] NOT NULL DEFAULT '{}'
                      CHECK (accessibility <@ ARRAY['wheelchair', 'step_free', 'child_seat',
                                                   'service_animal', 'quiet']),
    -- matched while the rider holds a confirmed booking on this leg for the event or trip
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'matched', 'cancelled')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ride_requests_one_parent_check CHECK (num_nonnulls(event_id, trip_id) = 1),
    CONSTRAINT ride_requests_window_check CHECK (latest_at >= earliest_at)
);
-- one live request per rider per event (or trip) per leg
CREATE UNIQUE INDEX ride_requests_event_live_key ON ride_requests (event_id, rider_id, leg)
    WHERE event_id IS NOT NULL AND status <> 'cancelled';
CREATE UNIQUE INDEX ride_requests_trip_live_key ON ride_requests (trip_id, rider_id, leg)
    WHERE trip_id IS NOT NULL AND status <> 'cancelled';
CREATE INDEX ride_requests_rider_idx ON ride_requests (rider_id, earliest_at);

-- A rider's seats on one leg of an offer. requested → confirmed | declined; requested or
-- confirmed → cancelled (by the rider, the driver, or the ride being cancelled).
CREATE TABLE ride_bookings (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    offer_id     uuid NOT NULL REFERENCES ride_offers (id) ON DELETE CASCADE,
    org_id       uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    rider_id     uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    leg          text NOT NULL CHECK (leg IN ('outbound', 'return')),
    seats        integer NOT NULL CHECK (seats BETWEEN 1 AND 8),
    status       text NOT NULL CHECK (status IN ('requested', 'confirmed', 'declined', 'cancelled')),
    ended_by     text CHECK (ended_by IN ('rider', 'driver', 'ride')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    decided_at   timestamptz,
    cancelled_at timestamptz,
    CONSTRAINT ride_bookings_ended_check CHECK ((status = 'cancelled') = (ended_by IS NOT NULL))
);
-- one live booking per rider per offer per leg
CREATE UNIQUE INDEX ride_bookings_live_key ON ride_bookings (offer_id, rider_id, leg)
    WHERE status IN ('requested', 'confirmed');
CREATE INDEX ride_bookings_offer_idx ON ride_bookings (offer_id, status, created_at);
CREATE INDEX ride_bookings_rider_idx ON ride_bookings (rider_id, created_at);
