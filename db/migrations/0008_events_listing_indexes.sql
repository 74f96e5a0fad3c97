-- Lists sort by start time but keep events that have not ended yet. Bounding the start time
-- by the longest event's length (one backward scan of the duration index) lets the start-time
-- indexes range-scan upcoming events instead of walking every past one. The second index
-- serves signed-in callers, whose lists also hold members-only events.
CREATE INDEX events_listed_duration_idx ON events ((ends_at - starts_at)) WHERE status <> 'draft';
CREATE INDEX events_listed_starts_idx ON events (starts_at, id) WHERE status <> 'draft';
