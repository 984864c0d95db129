-- Sign-in sessions: opaque bearer tokens stored only as hashes; idle and absolute expiry.
CREATE TABLE IF NOT EXISTS sessions (
    token_hash      blob  PRIMARY KEY,
    account_id      text   NOT NULL,
    role            text NOT NULL,
    organisation_id text,
    created_at      text  NOT NULL,
    last_seen_at    text  NOT NULL,
    expires_at      text  NOT NULL,
    idle_seconds    integer NOT NULL,
    stepped_up_at   text,
    enrolment_only  integer   NOT NULL,
    revoked_at      text
);
CREATE INDEX IF NOT EXISTS sessions_account ON sessions (account_id);

-- Failed attempts per client address (keyed hash of the address, never the address itself).
CREATE TABLE IF NOT EXISTS throttle (
    key          blob  PRIMARY KEY,
    failures     integer NOT NULL,
    window_start text  NOT NULL,
    locked_until text
);
