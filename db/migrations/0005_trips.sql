-- Solidarity trips: the trip (with co-hosts), its itinerary, application questions,
-- applications with sealed participant data, checklists and announcements.

CREATE TABLE trips (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id                 uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    -- texts per language: {"en": "...", "es": "..."}; `languages` orders them (first = default)
    title                  jsonb NOT NULL,
    summary                jsonb NOT NULL DEFAULT '{}',
    description            jsonb NOT NULL DEFAULT '{}',
    languages              text[] NOT NULL DEFAULT '{}',
    starts_at              timestamptz NOT NULL,
    ends_at                timestamptz NOT NULL,
    timezone               text NOT NULL,
    -- the meeting point: exact (shown per location_policy) and its public stand-ins
    meeting_name           text,
    meeting_address        text,
    meeting_lat            double precision CHECK (meeting_lat BETWEEN -90 AND 90),
    meeting_lon            double precision CHECK (meeting_lon BETWEEN -180 AND 180),
    area                   text,
    public_lat             double precision CHECK (public_lat BETWEEN -90 AND 90),
    public_lon             double precision CHECK (public_lon BETWEEN -180 AND 180),
    location_policy        text NOT NULL DEFAULT 'attendees'
                               CHECK (location_policy IN ('public', 'attendees', 'reveal_at')),
    reveal_at              timestamptz,
    capacity               integer NOT NULL CHECK (capacity >= 0),
    places_taken           integer NOT NULL DEFAULT 0 CHECK (places_taken >= 0),
    status                 text NOT NULL DEFAULT 'draft'
                               CHECK (status IN ('draft', 'open', 'full', 'closed', 'cancelled', 'completed')),
    cancel_reason          text,
    application_deadline   timestamptz,
    cost_amount            numeric(12, 2) CHECK (cost_amount >= 0),
    cost_currency          text CHECK (cost_currency ~ '^[A-Z]{3}$'),
    cost_notes             jsonb NOT NULL DEFAULT '{}',
    scholarships_available boolean NOT NULL DEFAULT false,
    visibility             text NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'members')),
    -- a list of short texts per language: [{"en": "Passport needed", "es": "..."}]
    requirements           jsonb NOT NULL DEFAULT '[]',
    promote_from_waitlist  boolean NOT NULL DEFAULT true,
    sequence               integer NOT NULL DEFAULT 0,
    change_seq             bigint NOT NULL DEFAULT nextval('change_seq'),
    created_by             uuid REFERENCES accounts (id) ON DELETE SET NULL,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    opened_at              timestamptz,
    cancelled_at           timestamptz,
    completed_at           timestamptz,
    CONSTRAINT trips_time_order_check CHECK (ends_at > starts_at),
    -- the backstop behind the locked trip row that every acceptance takes
    CONSTRAINT trips_places_within_capacity_check CHECK (places_taken <= capacity),
    CONSTRAINT trips_reveal_at_check CHECK ((location_policy = 'reveal_at') = (reveal_at IS NOT NULL)),
    CONSTRAINT trips_cost_needs_currency_check CHECK (cost_amount IS NULL OR cost_currency IS NOT NULL)
);
CREATE INDEX trips_org_starts_idx ON trips (org_id, starts_at, id);
CREATE INDEX trips_change_seq_idx ON trips (change_seq);
CREATE INDEX trips_ends_at_idx ON trips (ends_at);

-- Co-hosting orgs (the creating org is trips.org_id and is not listed here).
CREATE TABLE trip_cohosts (
    trip_id           uuid NOT NULL REFERENCES trips (id) ON DELETE CASCADE,
    org_id            uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    can_see_attendees boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT trip_cohosts_pkey PRIMARY KEY (trip_id, org_id)
);
CREATE INDEX trip_cohosts_org_id_idx ON trip_cohosts (org_id);

CREATE TABLE itinerary_items (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    trip_id       uuid NOT NULL REFERENCES trips (id) ON DELETE CASCADE,
    position      integer NOT NULL CHECK (position >= 1),
    kind          text NOT NULL CHECK (kind IN ('travel', 'activity', 'lodging', 'meal', 'briefing', 'free')),
    title         jsonb NOT NULL,
    notes         jsonb NOT NULL DEFAULT '{}',
    starts_at     timestamptz NOT NULL,
    ends_at       timestamptz NOT NULL,
    place_name    text,
    place_address text,
    place_lat     double precision CHECK (place_lat BETWEEN -90 AND 90),
    place_lon     double precision CHECK (place_lon BETWEEN -180 AND 180),
    area          text,
    public_lat    double precision CHECK (public_lat BETWEEN -90 AND 90),
    public_lon    double precision CHECK (public_lon BETWEEN -180 AND 180),
    visibility    text NOT NULL DEFAULT 'everyone' CHECK (visibility IN ('everyone', 'participants')),
    sequence      integer NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT itinerary_items_time_order_check CHECK (ends_at > starts_at),
    -- checked at the end of each statement, so one UPDATE can reorder the whole list
    CONSTRAINT itinerary_items_position_key UNIQUE (trip_id, position) DEFERRABLE INITIALLY IMMEDIATE
);

CREATE TABLE trip_questions (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    trip_id    uuid NOT NULL REFERENCES trips (id) ON DELETE CASCADE,
    position   integer NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('text', 'single_choice', 'multiple_choice')),
    prompt     jsonb NOT NULL,
    -- choices: [{"value": "yes", "label": {"en": "Yes", "es": "Sí"}}]
    options    jsonb NOT NULL DEFAULT '[]',
    required   boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT trip_questions_options_check CHECK ((kind = 'text') = (jsonb_array_length(options) = 0)),
    CONSTRAINT trip_questions_position_key UNIQUE (trip_id, position)
);

-- Applications. Emergency contact and notes are sealed with the trip's 'trip_emergency'
-- data key; the purge nulls them, records data_purged_at and destroys the key.
CREATE TABLE trip_applications (
    id                           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    trip_id                      uuid NOT NULL REFERENCES trips (id) ON DELETE CASCADE,
    org_id                       uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    account_id                   uuid REFERENCES accounts (id) ON DELETE SET NULL,
    status                       text NOT NULL DEFAULT 'applied'
                                     CHECK (status IN ('applied', 'accepted', 'waitlisted', 'declined', 'withdrawn')),
    roles                        text[] NOT NULL
                                     CHECK (cardinality(roles) >= 1
                                            AND roles <@ ARRAY['participant', 'driver', 'interpreter',
                                                               'medic', 'legal_observer', 'lead']),
    answers                      jsonb NOT NULL DEFAULT '{}',
    -- arrival order: the waitlist is served by (waitlisted_at, arrival)
    arrival                      bigint GENERATED ALWAYS AS IDENTITY,
    waitlisted_at                timestamptz,
    emergency_contact_ciphertext bytea,
    notes_ciphertext             bytea,
    data_purged_at               timestamptz,
    decided_by                   uuid REFERENCES accounts (id) ON DELETE SET NULL,
    decided_at                   timestamptz,
    withdrawn_at                 timestamptz,
    created_at                   timestamptz NOT NULL DEFAULT now(),
    updated_at                   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT trip_applications_purged_check CHECK (
        data_purged_at IS NULL
        OR (emergency_contact_ciphertext IS NULL AND notes_ciphertext IS NULL))
);
-- one live application per account per trip (a withdrawn one may be followed by a new one)
CREATE UNIQUE INDEX trip_applications_live_key ON trip_applications (trip_id, account_id)
    WHERE status <> 'withdrawn';
CREATE INDEX trip_applications_trip_status_idx ON trip_applications (trip_id, status, arrival);
CREATE INDEX trip_applications_account_idx ON trip_applications (account_id)
    WHERE account_id IS NOT NULL;

CREATE TABLE checklist_items (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    trip_id     uuid NOT NULL REFERENCES trips (id) ON DELETE CASCADE,
    position    integer NOT NULL,
    title       jsonb NOT NULL,
    description jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT checklist_items_position_key UNIQUE (trip_id, position)
);

-- A row per item a participant has done; no row = outstanding.
CREATE TABLE checklist_completions (
    application_id uuid NOT NULL REFERENCES trip_applications (id) ON DELETE CASCADE,
    item_id        uuid NOT NULL REFERENCES checklist_items (id) ON DELETE CASCADE,
    completed_by   uuid REFERENCES accounts (id) ON DELETE SET NULL,
    completed_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT checklist_completions_pkey PRIMARY KEY (application_id, item_id)
);
CREATE INDEX checklist_completions_item_idx ON checklist_completions (item_id);

CREATE TABLE trip_announcements (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    trip_id    uuid NOT NULL REFERENCES trips (id) ON DELETE CASCADE,
    org_id     uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    author_id  uuid REFERENCES accounts (id) ON DELETE SET NULL,
    body       jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX trip_announcements_trip_idx ON trip_announcements (trip_id, created_at DESC, id DESC);

-- Trip notifications land in the same inbox as event ones.
ALTER TABLE notifications ADD COLUMN trip_id uuid REFERENCES trips (id) ON DELETE CASCADE;
CREATE INDEX notifications_trip_idx ON notifications (trip_id) WHERE trip_id IS NOT NULL;
