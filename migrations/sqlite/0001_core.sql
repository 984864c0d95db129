-- Event store (SQLite): writers are serialised by the database, so each write transaction numbers
-- its own rows (notification_id) and extends the hash chain before it commits.
CREATE TABLE IF NOT EXISTS stored_events (
    originator_id      text        NOT NULL,
    originator_version bigint      NOT NULL,
    topic              text        NOT NULL,
    state              blob       NOT NULL,
    recorded_at        text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00','now')),
    notification_id    bigint      UNIQUE,
    chain_hash         blob,
    PRIMARY KEY (originator_id, originator_version)
);

CREATE TABLE IF NOT EXISTS chain_heads (
    chain         text   PRIMARY KEY,
    last_position bigint NOT NULL,
    last_hash     blob  NOT NULL
);

CREATE TABLE IF NOT EXISTS subject_keys (
    subject_id    text        PRIMARY KEY,
    master_key_id text,
    wrapped_key   blob,
    created_at    text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00','now')),
    destroyed_at  text
);

CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope              text        NOT NULL,
    key                text        NOT NULL,
    request_hash       blob       NOT NULL,
    response           blob       NOT NULL,
    originator_id      text,
    originator_version bigint,
    created_at         text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00','now')),
    PRIMARY KEY (scope, key)
);

CREATE TABLE IF NOT EXISTS projection_tracking (
    name       text        PRIMARY KEY,
    position   bigint      NOT NULL,
    updated_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00','now'))
);

CREATE TABLE IF NOT EXISTS access_log (
    seq             integer     PRIMARY KEY AUTOINCREMENT,
    position        bigint      UNIQUE,
    chain_hash      blob,
    at              text NOT NULL,
    actor_id        text        NOT NULL,
    role            text        NOT NULL,
    organisation_id text,
    on_behalf_of    text,
    subject_id      text        NOT NULL,
    what            text        NOT NULL,
    purpose         text        NOT NULL
);
CREATE INDEX IF NOT EXISTS access_log_unsequenced ON access_log (seq) WHERE position IS NULL;
CREATE INDEX IF NOT EXISTS access_log_subject ON access_log (subject_id, seq);

CREATE TABLE IF NOT EXISTS api_tokens (
    token_hash      blob       PRIMARY KEY,
    actor_id        text        NOT NULL,
    role            text        NOT NULL,
    organisation_id text,
    created_at      text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00','now')),
    expires_at      text NOT NULL,
    revoked_at      text
);

CREATE TABLE IF NOT EXISTS patient_directory (
    patient_id      text        PRIMARY KEY,
    organisation_id text,
    email_index     blob,
    name_index      blob,
    sealed_names    blob,
    sealed_contact  blob,
    consents        integer     NOT NULL DEFAULT 0,
    erased          integer     NOT NULL DEFAULT 0,
    registered_at   text NOT NULL,
    version         bigint      NOT NULL
);
CREATE INDEX IF NOT EXISTS patient_directory_email ON patient_directory (email_index);
CREATE INDEX IF NOT EXISTS patient_directory_name ON patient_directory (name_index);
CREATE INDEX IF NOT EXISTS patient_directory_order
    ON patient_directory (organisation_id, registered_at, patient_id);
