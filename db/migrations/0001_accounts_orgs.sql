-- Accounts, sessions, organizations and memberships; the shared machinery every
-- capability uses: data keys (envelope encryption), rate-limit buckets, audit log.

CREATE TABLE accounts (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- keyed hash of the lower-cased email: lets us find an account without storing the email
    email_lookup     bytea NOT NULL,
    email_ciphertext bytea NOT NULL,
    display_name     text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
    password_hash    text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT accounts_email_lookup_key UNIQUE (email_lookup)
);

-- Sessions keep no IP, user agent or login time: only when they stop working.
CREATE TABLE sessions (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL,
    label      text CHECK (length(label) <= 60),
    expires_at timestamptz NOT NULL,
    CONSTRAINT sessions_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX sessions_account_id_idx ON sessions (account_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

CREATE TABLE orgs (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    slug        text NOT NULL CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,48}[a-z0-9])?$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    description text NOT NULL DEFAULT '',
    timezone    text NOT NULL,
    website     text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT orgs_slug_key UNIQUE (slug)
);
CREATE INDEX orgs_name_lower_idx ON orgs (lower(name), id);

CREATE TABLE memberships (
    org_id     uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('owner', 'organizer', 'member')),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT memberships_pkey PRIMARY KEY (org_id, account_id)
);
CREATE INDEX memberships_account_id_idx ON memberships (account_id);

-- Envelope encryption: one data key per (scope, data class), stored only wrapped by the
-- master key. Purging sets wrapped_key to NULL, which shreds every copy of the ciphertext.
CREATE TABLE data_keys (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    scope         text NOT NULL CHECK (scope IN ('account', 'event', 'trip', 'ride_offer')),
    scope_id      uuid NOT NULL,
    data_class    text NOT NULL,
    wrapped_key   bytea,
    master_key_id text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    destroyed_at  timestamptz,
    CONSTRAINT data_keys_scope_class_key UNIQUE (scope, scope_id, data_class),
    CONSTRAINT data_keys_destroyed_check CHECK ((wrapped_key IS NULL) = (destroyed_at IS NOT NULL))
);

-- Fixed-window counters; the bucket is a keyed hash, never a raw email or address.
CREATE TABLE rate_limits (
    bucket            bytea PRIMARY KEY,
    window_started_at timestamptz NOT NULL,
    hits              integer NOT NULL
);

CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id      uuid REFERENCES orgs (id) ON DELETE CASCADE,
    actor_id    uuid REFERENCES accounts (id) ON DELETE SET NULL,
    action      text NOT NULL,
    subject_type text NOT NULL,
    subject_id  uuid,
    detail      jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_org_id_idx ON audit_log (org_id, id DESC);
