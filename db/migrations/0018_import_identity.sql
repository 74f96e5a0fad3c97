-- A mirrored event is what its feed says it is, across all of an org's imports: the source
-- calendar's UID ('' when the feed names none) and the entry's UID. Another spelling of a feed's
-- address, a redirect or a second partner carrying the same calendar update that one event
-- instead of adding copies. One import writes it (`imported_from`, the owner); every import
-- whose feed carries it is listed in feed_import_events, so that deleting one import keeps what
-- another still carries.
ALTER TABLE events ADD COLUMN source_calendar text CHECK (length(source_calendar) <= 400);
UPDATE events SET source_calendar = '' WHERE imported_from IS NOT NULL;

CREATE TABLE feed_import_events (
    feed_import_id uuid NOT NULL REFERENCES feed_imports (id) ON DELETE CASCADE,
    event_id       uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT feed_import_events_pkey PRIMARY KEY (feed_import_id, event_id)
);
CREATE INDEX feed_import_events_event_idx ON feed_import_events (event_id, created_at);

-- Copies made before: the oldest of each (org, UID) stays and every import that made a copy
-- carries it; the other copies go (the events trigger leaves partners their tombstones).
INSERT INTO feed_import_events (feed_import_id, event_id, created_at)
SELECT e.imported_from,
       first_value(e.id) OVER (PARTITION BY e.org_id, e.source_uid ORDER BY e.created_at, e.id),
       e.created_at
  FROM events e
 WHERE e.imported_from IS NOT NULL
ON CONFLICT ON CONSTRAINT feed_import_events_pkey DO NOTHING;

WITH ranked AS (
    SELECT e.id, e.org_id, e.sequence,
           first_value(e.id) OVER (PARTITION BY e.org_id, e.source_uid
                                   ORDER BY e.created_at, e.id) AS keeper
      FROM events e
     WHERE e.imported_from IS NOT NULL
), gone AS (
    DELETE FROM events e
     USING ranked r
     WHERE e.id = r.id AND r.id <> r.keeper
    RETURNING e.id, e.org_id, e.sequence
)
INSERT INTO outbox (org_id, topic, subject_id, payload)
SELECT g.org_id, 'event.deleted', g.id, jsonb_build_object('id', g.id::text, 'sequence', g.sequence)
  FROM gone g;

DROP INDEX events_imported_from_source_uid_key;
CREATE UNIQUE INDEX events_org_id_source_key ON events (org_id, source_calendar, source_uid)
    WHERE imported_from IS NOT NULL;
CREATE INDEX events_imported_from_idx ON events (imported_from) WHERE imported_from IS NOT NULL;

-- What a run left out on purpose: entries that are the org's own events (its own feed, or a
-- partner's feed mirroring it) and entries another import of the org already writes.
ALTER TABLE feed_import_runs
    ADD COLUMN skipped integer NOT NULL DEFAULT 0,
    ADD COLUMN shared  integer NOT NULL DEFAULT 0,
    ADD COLUMN notice  text;
