-- Partner data exchange: API keys, a commit-safe change horizon and tombstones for incremental
-- sync, facts the schema.org view needs, webhook endpoints and deliveries, calendar imports.

-- Webhook secrets must stay usable for signing, so they are sealed (not hashed) with a data
-- key per organization.
ALTER TABLE data_keys
    DROP CONSTRAINT data_keys_scope_check,
    ADD CONSTRAINT data_keys_scope_check
        CHECK (scope IN ('account', 'event', 'trip', 'ride_offer', 'org'));

-- ------------------------------------------------------------------ API keys
-- Only the SHA-256 of a key is stored; `hint` (prefix + 4 characters) lets people recognise it.
CREATE TABLE api_keys (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id       uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    key_hash     bytea NOT NULL,
    hint         text NOT NULL,
    scopes       text[] NOT NULL CHECK (
                     cardinality(scopes) > 0
                     AND scopes <@ ARRAY['events:read', 'events:counts', 'webhooks:manage',
                                         'imports:manage']),
    created_by   uuid REFERENCES accounts (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- a date, never a time or an address: enough to spot unused keys
    last_used_on date,
    revoked_at   timestamptz,
    CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash)
);
CREATE INDEX api_keys_org_id_idx ON api_keys (org_id, created_at, id);

-- ------------------------------------------------------------------ the change horizon
-- change_seq is allocated mid-transaction, so a smaller value can commit after a larger one.
-- Every change also records the writing transaction (xid8, never wraps); partner sync orders by
-- (change_xid, change_seq) and hands out only rows whose transaction precedes the snapshot's
-- xmin (every such transaction has ended). See db/queries/partner_sync.py.
ALTER TABLE events
    ADD COLUMN change_xid         xid8 NOT NULL DEFAULT pg_current_xact_id(),
    -- for schema.org: the start before a rescheduling, and when an in-person event went online
    ADD COLUMN previous_starts_at timestamptz,
    ADD COLUMN moved_online_at    timestamptz;
CREATE INDEX events_change_order_idx ON events (change_xid, change_seq);

CREATE FUNCTION events_stamp_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was_in_person boolean;
    is_in_person  boolean;
BEGIN
    IF NEW.change_seq IS DISTINCT FROM OLD.change_seq THEN
        NEW.change_xid := pg_current_xact_id();
    END IF;
    IF OLD.status <> 'draft' AND NEW.starts_at IS DISTINCT FROM OLD.starts_at THEN
        NEW.previous_starts_at := OLD.starts_at;
    END IF;
    was_in_person := coalesce(OLD.venue_name, OLD.venue_address) IS NOT NULL
                     OR OLD.venue_lat IS NOT NULL;
    is_in_person := coalesce(NEW.venue_name, NEW.venue_address) IS NOT NULL
                    OR NEW.venue_lat IS NOT NULL;
    IF is_in_person THEN
        NEW.moved_online_at := NULL;
    ELSIF was_in_person AND NEW.virtual_url IS NOT NULL AND OLD.status <> 'draft' THEN
        NEW.moved_online_at := now();
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER events_stamp_change BEFORE UPDATE ON events
    FOR EACH ROW EXECUTE FUNCTION events_stamp_change();

-- Which orgs' partners may have seen an event: written whenever an event is committed while
-- visible to partners (public, not a draft) for its creating org and each co-host. A later
-- change that hides the event from such an org becomes a tombstone for that org.
-- No foreign key to events: the row must outlive a deleted event.
CREATE TABLE partner_exposures (
    org_id     uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    event_id   uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT partner_exposures_pkey PRIMARY KEY (org_id, event_id)
);
CREATE INDEX partner_exposures_event_id_idx ON partner_exposures (event_id);

CREATE FUNCTION events_record_exposure() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO partner_exposures (org_id, event_id)
    SELECT NEW.org_id, NEW.id
    UNION
    SELECT ec.org_id, NEW.id FROM event_cohosts ec WHERE ec.event_id = NEW.id
    ON CONFLICT ON CONSTRAINT partner_exposures_pkey DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER events_record_exposure AFTER INSERT OR UPDATE ON events
    FOR EACH ROW WHEN (NEW.visibility = 'public' AND NEW.status <> 'draft')
    EXECUTE FUNCTION events_record_exposure();

-- Deleted events that partners may have seen, per org, in the same change order as events.
-- Written by a trigger so that every path that deletes an event (a purge, an org removed,
-- an import that lost the event) leaves one. No foreign keys: they must outlive both.
CREATE TABLE partner_tombstones (
    org_id     uuid NOT NULL,
    event_id   uuid NOT NULL,
    reason     text NOT NULL,
    change_seq bigint NOT NULL DEFAULT nextval('change_seq'),
    change_xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX partner_tombstones_order_idx ON partner_tombstones (org_id, change_xid, change_seq);

CREATE FUNCTION events_leave_tombstone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO partner_tombstones (org_id, event_id, reason)
    SELECT x.org_id, OLD.id, 'deleted'
      FROM partner_exposures x
      JOIN orgs o ON o.id = x.org_id
     WHERE x.event_id = OLD.id;
    DELETE FROM partner_exposures WHERE event_id = OLD.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER events_leave_tombstone AFTER DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_leave_tombstone();

-- ------------------------------------------------------------------ webhooks
-- The worker fans each outbox row out to the subscribed endpoints once, then marks it.
ALTER TABLE outbox ADD COLUMN dispatched_at timestamptz;
CREATE INDEX outbox_undispatched_idx ON outbox (id) WHERE dispatched_at IS NULL;

CREATE TABLE webhook_endpoints (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id            uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    url               text NOT NULL CHECK (length(url) <= 2000),
    description       text NOT NULL DEFAULT '' CHECK (length(description) <= 200),
    event_types       text[] NOT NULL CHECK (cardinality(event_types) > 0),
    -- sealed with the org's 'webhook_secret' data key
    secret_ciphertext bytea NOT NULL,
    disabled_at       timestamptz,
    disabled_reason   text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_org_id_idx ON webhook_endpoints (org_id, created_at, id);

-- Events each org's endpoints were told about, so receivers see created → updated → deleted.
CREATE TABLE webhook_announcements (
    org_id   uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    event_id uuid NOT NULL,
    CONSTRAINT webhook_announcements_pkey PRIMARY KEY (org_id, event_id)
);

-- One message to one endpoint. `body` is serialised once: every attempt signs and sends the
-- same bytes, under the same webhook-id. Response bodies are never stored.
CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    org_id           uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    message_id       text NOT NULL,
    event_type       text NOT NULL,
    body             text NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                         CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    -- attempts since the last redelivery request: the index into the backoff schedule
    round_attempts   integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_attempt_at  timestamptz,
    last_status_code integer,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    succeeded_at     timestamptz
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at DESC, id);

-- ------------------------------------------------------------------ calendar imports
CREATE TABLE feed_imports (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id        uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    url           text NOT NULL CHECK (length(url) <= 2000),
    name          text NOT NULL DEFAULT '' CHECK (length(name) <= 100),
    interval_s    integer NOT NULL DEFAULT 3600 CHECK (interval_s BETWEEN 300 AND 604800),
    is_active     boolean NOT NULL DEFAULT true,
    next_fetch_at timestamptz NOT NULL DEFAULT now(),
    -- conditional GET validators from the last successful fetch
    etag          text,
    last_modified text,
    last_run_at   timestamptz,
    last_status   text,
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT feed_imports_org_id_url_key UNIQUE (org_id, url)
);
CREATE INDEX feed_imports_due_idx ON feed_imports (next_fetch_at) WHERE is_active;

CREATE TABLE feed_import_runs (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    feed_import_id uuid NOT NULL REFERENCES feed_imports (id) ON DELETE CASCADE,
    started_at     timestamptz NOT NULL,
    finished_at    timestamptz NOT NULL DEFAULT now(),
    status         text NOT NULL CHECK (status IN ('ok', 'not_modified', 'error')),
    added          integer NOT NULL DEFAULT 0,
    updated        integer NOT NULL DEFAULT 0,
    removed        integer NOT NULL DEFAULT 0,
    rejected       integer NOT NULL DEFAULT 0,
    error          text
);
CREATE INDEX feed_import_runs_import_idx ON feed_import_runs (feed_import_id, id DESC);

-- Imported events are ordinary public events marked with their source and the source's UID
-- (one row per occurrence of a recurring source event: `source_uid` then carries its start).
ALTER TABLE events
    ADD COLUMN imported_from uuid REFERENCES feed_imports (id) ON DELETE CASCADE,
    ADD COLUMN source_uid    text CHECK (length(source_uid) <= 400),
    ADD COLUMN source_url    text CHECK (length(source_url) <= 2000);
CREATE UNIQUE INDEX events_imported_from_source_uid_key ON events (imported_from, source_uid)
    WHERE imported_from IS NOT NULL;
