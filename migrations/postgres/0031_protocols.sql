-- Signed protocols (BRIEF C5) and jurisdiction rules (C7).
-- The private halves of practitioners' signing keys (adapters/crypto/practitioner_signing.py),
-- sealed with the practitioner's own data key; the public halves are events (PractitionerKeys).
CREATE TABLE IF NOT EXISTS practitioner_signing_keys (
    key_id          text PRIMARY KEY,
    practitioner_id uuid  NOT NULL,
    sealed_private  bytea NOT NULL
);
-- The protocol view (projections/protocol_view.py): content sealed with the patient's key.
CREATE TABLE IF NOT EXISTS protocol_view (
    protocol_id     uuid PRIMARY KEY,
    consultation_id uuid   NOT NULL,
    patient_id      uuid   NOT NULL,
    doctor_id       uuid   NOT NULL,
    organisation_id uuid,
    version         bigint NOT NULL,
    status          text   NOT NULL,
    sealed_content  bytea,
    signer_id       uuid,
    signed_at       timestamptz,
    key_id          text
);
CREATE TABLE IF NOT EXISTS protocol_addenda (
    addendum_id uuid PRIMARY KEY,
    protocol_id uuid        NOT NULL,
    patient_id  uuid        NOT NULL,
    signer_id   uuid        NOT NULL,
    signed_at   timestamptz NOT NULL,
    key_id      text        NOT NULL,
    sealed_text bytea
);
CREATE INDEX IF NOT EXISTS protocol_addenda_by_protocol ON protocol_addenda (protocol_id);
-- Rule sets and the decisions taken under them (projections/rule_sets.py): no personal data.
CREATE TABLE IF NOT EXISTS rule_set_versions (
    organisation_id uuid        NOT NULL,
    version         integer     NOT NULL,
    rules           text        NOT NULL,
    published_at    timestamptz NOT NULL,
    published_by    uuid        NOT NULL,
    PRIMARY KEY (organisation_id, version)
);
CREATE TABLE IF NOT EXISTS rule_decisions (
    position        bigint PRIMARY KEY,
    organisation_id uuid        NOT NULL,
    consultation_id uuid        NOT NULL,
    rule_id         text        NOT NULL,
    version         integer     NOT NULL,
    allowed         boolean     NOT NULL,
    step            text        NOT NULL,
    explanation     text        NOT NULL,
    decided_at      timestamptz NOT NULL,
    actor_id        uuid        NOT NULL
);
CREATE INDEX IF NOT EXISTS rule_decisions_by_organisation ON rule_decisions (organisation_id, position);
