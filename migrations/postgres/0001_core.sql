-- Event store: rows are appended concurrently without a table lock; a sequencer numbers them
-- (notification_id) and extends the hash chain in commit order, after they become visible.
CREATE TABLE IF NOT EXISTS stored_events (
    originator_id      uuid        NOT NULL,
    originator_version bigint      NOT NULL,
    topic              text        NOT NULL,
    state              bytea       NOT NULL,
    recorded_at        timestamptz NOT NULL DEFAULT now(),
    seq                bigserial   NOT NULL,
    notification_id    bigint      UNIQUE,
    chain_hash         bytea,
    PRIMARY KEY (originator_id, originator_version)
);
CREATE INDEX IF NOT EXISTS stored_events_unsequenced ON stored_events (seq)
    WHERE notification_id IS NULL;

CREATE TABLE IF NOT EXISTS chain_heads (
    chain         text   PRIMARY KEY,
    last_position bigint NOT NULL,
    last_hash     bytea  NOT NULL
);

CREATE TABLE IF NOT EXISTS subject_keys (
    subject_id    uuid        PRIMARY KEY,
    master_key_id text,
    wrapped_key   bytea,
    created_at    timestamptz NOT NULL DEFAULT now(),
    destroyed_at  timestamptz
);

CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope              text        NOT NULL,
    key                text        NOT NULL,
    request_hash       bytea       NOT NULL,
    response           bytea       NOT NULL,
    originator_id      uuid,
    originator_version bigint,
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);

CREATE TABLE IF NOT EXISTS projection_tracking (
    name       text        PRIMARY KEY,
    position   bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS access_log (
    seq             bigserial   PRIMARY KEY,
    position        bigint      UNIQUE,
    chain_hash      bytea,
    at              timestamptz NOT NULL,
    actor_id        uuid        NOT NULL,
    role            text        NOT NULL,
    organisation_id uuid,
    on_behalf_of    uuid,
    subject_id      uuid        NOT NULL,
    what            text        NOT NULL,
    purpose         text        NOT NULL
);
CREATE INDEX IF NOT EXISTS access_log_unsequenced ON access_log (seq) WHERE position IS NULL;
CREATE INDEX IF NOT EXISTS access_log_subject ON access_log (subject_id, seq);

CREATE TABLE IF NOT EXISTS api_tokens (
    token_hash      bytea       PRIMARY KEY,
    actor_id        uuid        NOT NULL,
    role            text        NOT NULL,
    organisation_id uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    revoked_at      timestamptz
);

CREATE TABLE IF NOT EXISTS patient_directory (
    patient_id      uuid        PRIMARY KEY,
    organisation_id uuid,
    email_index     bytea,
    name_index      bytea,
    sealed_names    bytea,
    sealed_contact  bytea,
    consents        integer     NOT NULL DEFAULT 0,
    erased          boolean     NOT NULL DEFAULT false,
    registered_at   timestamptz NOT NULL,
    version         bigint      NOT NULL
);
CREATE INDEX IF NOT EXISTS patient_directory_email ON patient_directory (email_index);
CREATE INDEX IF NOT EXISTS patient_directory_name ON patient_directory (name_index);
CREATE INDEX IF NOT EXISTS patient_directory_order
    ON patient_directory (organisation_id, registered_at, patient_id);
