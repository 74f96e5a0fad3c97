-- Two-factor authentication (TOTP), one-time recovery codes, an org's two-factor requirement
-- for its organizers and owners, and the index behind the owners' audit-log filter.

-- The TOTP secret is sealed with the account's 'totp' data key (scope 'account'). No time of
-- enrolment or of last use is kept: replay protection lives in short-lived rate_limits rows.
CREATE TABLE account_totp (
    account_id        uuid PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    secret_ciphertext bytea NOT NULL,
    -- false until the first code confirms that the authenticator app holds the secret
    is_enabled        boolean NOT NULL DEFAULT false
);

-- Recovery codes are stored only as keyed hashes; using one deletes its row.
CREATE TABLE recovery_codes (
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    code_hash  bytea NOT NULL,
    CONSTRAINT recovery_codes_pkey PRIMARY KEY (account_id, code_hash)
);

ALTER TABLE orgs ADD COLUMN require_two_factor boolean NOT NULL DEFAULT false;

CREATE INDEX audit_log_org_action_idx ON audit_log (org_id, action, id DESC);
