-- Mobilizations: events (with co-hosts and series), shifts, RSVPs, announcements,
-- notifications, idempotency records, and the change log partners will sync from.

-- One counter for every change a partner may need to see; allocated in the writing
-- transaction (partner sync adds a commit-order watermark on top of it).
CREATE SEQUENCE change_seq AS bigint;

CREATE TABLE event_series (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id      uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    frequency   text NOT NULL CHECK (frequency IN ('weekly', 'monthly')),
    interval    integer NOT NULL DEFAULT 1 CHECK (interval BETWEEN 1 AND 12),
    until_date  date,
    count       integer CHECK (count BETWEEN 1 AND 200),
    timezone    text NOT NULL,
    created_by  uuid REFERENCES accounts (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT event_series_end_check CHECK (until_date IS NOT NULL OR count IS NOT NULL)
);
CREATE INDEX event_series_org_id_idx ON event_series (org_id);

CREATE TABLE events (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id              uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    series_id           uuid REFERENCES event_series (id) ON DELETE SET NULL,
    series_index        integer,
    kind                text NOT NULL CHECK (kind IN
                            ('rally', 'march', 'vigil', 'training', 'meeting', 'rapid_response', 'other')),
    -- texts per language: {"en": "...", "es": "..."}; `languages` orders them (first = default)
    title               jsonb NOT NULL,
    summary             jsonb NOT NULL DEFAULT '{}',
    description         jsonb NOT NULL DEFAULT '{}',
    languages           text[] NOT NULL DEFAULT '{}',
    starts_at           timestamptz NOT NULL,
    ends_at             timestamptz NOT NULL,
    timezone            text NOT NULL,
    venue_name          text,
    venue_address       text,
    venue_lat           double precision CHECK (venue_lat BETWEEN -90 AND 90),
    venue_lon           double precision CHECK (venue_lon BETWEEN -180 AND 180),
    area                text,
    -- what anyone may see and search by: exact when the location is public, else ~5 km grid
    public_lat          double precision CHECK (public_lat BETWEEN -90 AND 90),
    public_lon          double precision CHECK (public_lon BETWEEN -180 AND 180),
    virtual_url         text,
    visibility          text NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'members', 'private')),
    share_token_hash    bytea,
    status              text NOT NULL DEFAULT 'draft'
                            CHECK (status IN ('draft', 'published', 'cancelled', 'postponed')),
    cancel_reason       text,
    capacity            integer CHECK (capacity >= 0),
    places_taken        integer NOT NULL DEFAULT 0 CHECK (places_taken >= 0),
    places_waitlisted   integer NOT NULL DEFAULT 0 CHECK (places_waitlisted >= 0),
    location_policy     text NOT NULL DEFAULT 'public'
                            CHECK (location_policy IN ('public', 'attendees', 'reveal_at')),
    reveal_at           timestamptz,
    tags                text[] NOT NULL DEFAULT '{}',
    accessibility_notes text,
    contact             text,
    hide_counts         boolean NOT NULL DEFAULT false,
    search              tsvector GENERATED ALWAYS AS (
                            jsonb_to_tsvector('simple'::regconfig, title, '["string"]')
                            || jsonb_to_tsvector('simple'::regconfig, summary, '["string"]')
                            || jsonb_to_tsvector('simple'::regconfig, description, '["string"]')
                        ) STORED,
    sequence            integer NOT NULL DEFAULT 0,
    change_seq          bigint NOT NULL DEFAULT nextval('change_seq'),
    created_by          uuid REFERENCES accounts (id) ON DELETE SET NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    published_at        timestamptz,
    cancelled_at        timestamptz,
    CONSTRAINT events_time_order_check CHECK (ends_at > starts_at),
    -- the backstop behind the conditional UPDATE that books places
    CONSTRAINT events_places_within_capacity_check CHECK (capacity IS NULL OR places_taken <= capacity),
    CONSTRAINT events_reveal_at_check CHECK ((location_policy = 'reveal_at') = (reveal_at IS NOT NULL)),
    CONSTRAINT events_share_token_hash_key UNIQUE (share_token_hash)
);
-- discovery: upcoming public events by start time; the partial index stays small
CREATE INDEX events_public_starts_idx ON events (starts_at, id)
    WHERE visibility = 'public' AND status <> 'draft';
CREATE INDEX events_public_lat_idx ON events (public_lat, public_lon)
    WHERE visibility = 'public' AND status <> 'draft';
CREATE INDEX events_org_starts_idx ON events (org_id, starts_at, id);
CREATE INDEX events_series_idx ON events (series_id, series_index);
CREATE INDEX events_search_idx ON events USING gin (search);
CREATE INDEX events_tags_idx ON events USING gin (tags);
CREATE INDEX events_change_seq_idx ON events (change_seq);

-- Co-hosting orgs (the creating org is events.org_id and is not listed here).
CREATE TABLE event_cohosts (
    event_id            uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    org_id              uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    can_see_attendees   boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT event_cohosts_pkey PRIMARY KEY (event_id, org_id)
);
CREATE INDEX event_cohosts_org_id_idx ON event_cohosts (org_id);

CREATE TABLE shifts (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id          uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    org_id            uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    name              jsonb NOT NULL,
    role              text NOT NULL DEFAULT 'volunteer',
    starts_at         timestamptz NOT NULL,
    ends_at           timestamptz NOT NULL,
    capacity          integer CHECK (capacity >= 0),
    staffing_target   integer CHECK (staffing_target >= 0),
    places_taken      integer NOT NULL DEFAULT 0 CHECK (places_taken >= 0),
    places_waitlisted integer NOT NULL DEFAULT 0 CHECK (places_waitlisted >= 0),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT shifts_time_order_check CHECK (ends_at > starts_at),
    CONSTRAINT shifts_places_within_capacity_check CHECK (capacity IS NULL OR places_taken <= capacity)
);
CREATE INDEX shifts_event_id_idx ON shifts (event_id, starts_at);

-- RSVPs: an alias is enough. Contact (email/phone) is sealed with the event's
-- 'rsvp_contact' data key and purged after `contact_purge_after`.
CREATE TABLE rsvps (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id            uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    shift_id            uuid REFERENCES shifts (id) ON DELETE CASCADE,
    org_id              uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    account_id          uuid REFERENCES accounts (id) ON DELETE SET NULL,
    alias               text NOT NULL CHECK (length(alias) BETWEEN 1 AND 100),
    contact_ciphertext  bytea,
    contact_purge_after timestamptz,
    contact_purged_at   timestamptz,
    guests              integer NOT NULL DEFAULT 0 CHECK (guests >= 0),
    places              integer GENERATED ALWAYS AS (1 + guests) STORED,
    language_needs      text[] NOT NULL DEFAULT '{}',
    status              text NOT NULL CHECK (status IN ('going', 'waitlisted', 'cancelled', 'attended')),
    manage_token_hash   bytea NOT NULL,
    -- arrival order: the waitlist is served strictly by it
    arrival             bigint GENERATED ALWAYS AS IDENTITY,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    cancelled_at        timestamptz,
    checked_in_at       timestamptz,
    CONSTRAINT rsvps_manage_token_hash_key UNIQUE (manage_token_hash)
);
-- one live RSVP per account per event (event-level) and per shift
CREATE UNIQUE INDEX rsvps_event_account_key ON rsvps (event_id, account_id)
    WHERE account_id IS NOT NULL AND shift_id IS NULL AND status <> 'cancelled';
CREATE UNIQUE INDEX rsvps_shift_account_key ON rsvps (shift_id, account_id)
    WHERE account_id IS NOT NULL AND shift_id IS NOT NULL AND status <> 'cancelled';
CREATE INDEX rsvps_event_status_idx ON rsvps (event_id, shift_id, status, arrival);
CREATE INDEX rsvps_account_id_idx ON rsvps (account_id) WHERE account_id IS NOT NULL;
CREATE INDEX rsvps_contact_purge_idx ON rsvps (contact_purge_after) WHERE contact_ciphertext IS NOT NULL;

CREATE TABLE announcements (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id   uuid REFERENCES events (id) ON DELETE CASCADE,
    org_id     uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    author_id  uuid REFERENCES accounts (id) ON DELETE SET NULL,
    body       jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX announcements_event_idx ON announcements (event_id, created_at DESC);

-- The inbox: for an account, or (no account) for the RSVP behind a manage link.
CREATE TABLE notifications (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id uuid REFERENCES accounts (id) ON DELETE CASCADE,
    rsvp_id    uuid REFERENCES rsvps (id) ON DELETE CASCADE,
    kind       text NOT NULL,
    event_id   uuid REFERENCES events (id) ON DELETE CASCADE,
    payload    jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    read_at    timestamptz,
    CONSTRAINT notifications_recipient_check CHECK (account_id IS NOT NULL OR rsvp_id IS NOT NULL)
);
CREATE INDEX notifications_account_idx ON notifications (account_id, created_at DESC, id)
    WHERE account_id IS NOT NULL;
CREATE INDEX notifications_rsvp_idx ON notifications (rsvp_id, created_at DESC) WHERE rsvp_id IS NOT NULL;

-- Retried writes (Idempotency-Key) replay the first outcome; records expire after 24 h.
CREATE TABLE idempotency_keys (
    scope_hash  bytea PRIMARY KEY,
    resource_id uuid NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL DEFAULT now() + interval '24 hours'
);
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);

-- Written in the same transaction as every change; the worker delivers it (webhooks).
-- Payloads are thin: ids, type, counts; never personal data.
CREATE TABLE outbox (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id     uuid REFERENCES orgs (id) ON DELETE CASCADE,
    topic      text NOT NULL,
    subject_id uuid NOT NULL,
    change_seq bigint NOT NULL DEFAULT nextval('change_seq'),
    payload    jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_org_idx ON outbox (org_id, id);
