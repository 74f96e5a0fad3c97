-- Calendar feeds: personal feed tokens, and calendar sequences for every row a feed shows.

-- A personal feed is reached through a secret URL; only the token's SHA-256 is kept. Revoking
-- deletes the row (no history is kept); rotating deletes it and inserts a new one.
CREATE TABLE feed_tokens (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id  uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    token_hash  bytea NOT NULL,
    label       text CHECK (length(label) BETWEEN 1 AND 100),
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT feed_tokens_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX feed_tokens_account_idx ON feed_tokens (account_id, created_at, id);

-- Calendars (Google above all) ignore an edit unless SEQUENCE rises. Shifts and ride offers
-- had no sequence; events and trips did not count a change of location policy, which moves
-- the place a feed shows. These triggers make every such change count, whoever writes it.
ALTER TABLE shifts ADD COLUMN sequence integer NOT NULL DEFAULT 0;
ALTER TABLE ride_offers ADD COLUMN sequence integer NOT NULL DEFAULT 0;

CREATE FUNCTION shifts_calendar_sequence() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    IF (NEW.name, NEW.role, NEW.starts_at, NEW.ends_at)
       IS DISTINCT FROM (OLD.name, OLD.role, OLD.starts_at, OLD.ends_at) THEN
        NEW.sequence := greatest(NEW.sequence, OLD.sequence + 1);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER shifts_calendar_sequence BEFORE UPDATE ON shifts
    FOR EACH ROW EXECUTE FUNCTION shifts_calendar_sequence();

CREATE FUNCTION ride_offers_calendar_sequence() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    -- open <-> full and completed change nothing a calendar shows; cancelled does
    IF (NEW.departs_at, NEW.return_departs_at, NEW.area, NEW.notes, NEW.pickup_ciphertext,
        NEW.event_changed, NEW.status = 'cancelled')
       IS DISTINCT FROM (OLD.departs_at, OLD.return_departs_at, OLD.area, OLD.notes,
                         OLD.pickup_ciphertext, OLD.event_changed, OLD.status = 'cancelled') THEN
        NEW.sequence := greatest(NEW.sequence, OLD.sequence + 1);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER ride_offers_calendar_sequence BEFORE UPDATE ON ride_offers
    FOR EACH ROW EXECUTE FUNCTION ride_offers_calendar_sequence();

-- The location policy decides whether a feed shows the venue or only the area.
CREATE FUNCTION location_policy_calendar_sequence() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    IF (NEW.location_policy, NEW.reveal_at) IS DISTINCT FROM (OLD.location_policy, OLD.reveal_at)
       AND NEW.sequence <= OLD.sequence THEN
        NEW.sequence := OLD.sequence + 1;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER events_location_policy_sequence BEFORE UPDATE ON events
    FOR EACH ROW EXECUTE FUNCTION location_policy_calendar_sequence();
CREATE TRIGGER trips_location_policy_sequence BEFORE UPDATE ON trips
    FOR EACH ROW EXECUTE FUNCTION location_policy_calendar_sequence();
