-- Proof-of-work and time-lock challenges are single use: a solved one is remembered here (only a
-- hash of it, never who sent it) until it would have expired anyway, so every API process
-- refuses a second use. Housekeeping deletes rows past expires_at.
CREATE TABLE spent_challenges (
    digest     bytea PRIMARY KEY,
    expires_at timestamptz NOT NULL
);

CREATE INDEX spent_challenges_expires_at_idx ON spent_challenges (expires_at);
