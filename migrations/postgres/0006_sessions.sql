-- Sign-in sessions: opaque bearer tokens stored only as hashes; idle and absolute expiry.
CREATE TABLE IF NOT EXISTS sessions (
    token_hash      bytea  PRIMARY KEY,
    account_id      uuid   NOT NULL,
    role            text NOT NULL,
    organisation_id uuid,
    created_at      timestamptz  NOT NULL,
    last_seen_at    timestamptz  NOT NULL,
    expires_at      timestamptz  NOT NULL,
    idle_seconds    integer NOT NULL,
    stepped_up_at   timestamptz,
    enrolment_only  boolean   NOT NULL,
    revoked_at      timestamptz
);
CREATE INDEX IF NOT EXISTS sessions_account ON sessions (account_id);

-- Failed attempts per client address (keyed hash of the address, never the address itself).
CREATE TABLE IF NOT EXISTS throttle (
    key          bytea  PRIMARY KEY,
    failures     integer NOT NULL,
    window_start timestamptz  NOT NULL,
    locked_until timestamptz
);
