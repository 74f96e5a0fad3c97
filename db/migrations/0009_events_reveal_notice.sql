-- "Location revealed" notices: when an event's reveal_at passes, its confirmed attendees are
-- told once. The worker claims due events by this marker (reset when reveal_at changes).
ALTER TABLE events ADD COLUMN reveal_notified_at timestamptz;
CREATE INDEX events_reveal_due_idx ON events (reveal_at)
    WHERE location_policy = 'reveal_at' AND reveal_notified_at IS NULL;
