-- Discovery at scale. "Upcoming" means ends_at > now(): past events pile up at the front of
-- the starts_at index, so give the planner a range scan on ends_at. These two also serve
-- signed-in callers, whose lists add their orgs' members-only events to the public ones
-- (the public-only partial indexes of 0002 do not cover that OR).
CREATE INDEX events_listed_ends_idx ON events (ends_at) WHERE status <> 'draft';
CREATE INDEX events_listed_lat_idx ON events (public_lat, public_lon) WHERE status <> 'draft';
