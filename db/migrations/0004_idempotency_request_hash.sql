-- A retried request must carry the same body as the first one: the keyed hash of the first
-- body is kept so a key reused with a different body is refused instead of replayed.
ALTER TABLE idempotency_keys ADD COLUMN request_hash bytea;
