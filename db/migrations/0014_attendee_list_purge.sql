-- When an event's window ends its attendee list goes, and only counts stay.
--
-- Aliases are sealed with the event's RSVP data key (the one that seals contacts), so
-- destroying that key also covers dead rows, WAL and backups; the plaintext column stays only
-- for rows written before this release and for the stock alias of a deleted account.
ALTER TABLE rsvps ALTER COLUMN alias DROP NOT NULL;
ALTER TABLE rsvps ADD COLUMN alias_ciphertext bytea;
ALTER TABLE rsvps ADD CONSTRAINT rsvps_alias_present_check
    CHECK (alias IS NOT NULL OR alias_ciphertext IS NOT NULL);

-- What the purge leaves of an event's RSVPs once it deletes them: per pool (the event itself,
-- shift_id NULL, or one shift) and status, how many RSVPs and places; and per language need,
-- how many people among those going or checked in. Counts read rows plus these.
CREATE TABLE rsvp_tallies (
    event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    shift_id uuid REFERENCES shifts (id) ON DELETE CASCADE,
    status   text NOT NULL CHECK (status IN ('going', 'waitlisted', 'cancelled', 'attended')),
    rsvps    integer NOT NULL CHECK (rsvps >= 0),
    places   integer NOT NULL CHECK (places >= 0)
);
-- one row per pool and status; the event's own pool (shift_id NULL) keyed as the nil UUID,
-- since UNIQUE NULLS NOT DISTINCT needs PostgreSQL 15 and Caravan runs on 13 and newer
CREATE UNIQUE INDEX rsvp_tallies_key
    ON rsvp_tallies (event_id, (coalesce(shift_id, '00000000-0000-0000-0000-000000000000'::uuid)), status);

CREATE TABLE rsvp_language_tallies (
    event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    shift_id uuid REFERENCES shifts (id) ON DELETE CASCADE,
    need     text NOT NULL,
    people   integer NOT NULL CHECK (people >= 0)
);
CREATE UNIQUE INDEX rsvp_language_tallies_key
    ON rsvp_language_tallies (event_id, (coalesce(shift_id, '00000000-0000-0000-0000-000000000000'::uuid)), need);

-- The same for trip applications: per status and role, how many applications.
CREATE TABLE trip_application_tallies (
    trip_id      uuid NOT NULL REFERENCES trips (id) ON DELETE CASCADE,
    status       text NOT NULL CHECK (status IN ('applied', 'accepted', 'waitlisted',
                                                 'declined', 'withdrawn')),
    role         text NOT NULL,
    applications integer NOT NULL CHECK (applications >= 0),
    CONSTRAINT trip_application_tallies_key UNIQUE (trip_id, status, role)
);
-- one row per status with role '' holds the number of applications (an application has
-- several roles, so the per-role rows do not add up to it)
