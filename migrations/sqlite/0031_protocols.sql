-- Signed protocols (BRIEF C5) and jurisdiction rules (C7).
-- The private halves of practitioners' signing keys (adapters/crypto/practitioner_signing.py),
-- sealed with the practitioner's own data key; the public halves are events (PractitionerKeys).
CREATE TABLE IF NOT EXISTS practitioner_signing_keys (
    key_id          text PRIMARY KEY,
    practitioner_id text  NOT NULL,
    sealed_private  blob NOT NULL
);
-- The protocol view (projections/protocol_view.py): content sealed with the patient's key.
CREATE TABLE IF NOT EXISTS protocol_view (
    protocol_id     text PRIMARY KEY,
    consultation_id text   NOT NULL,
    patient_id      text   NOT NULL,
    doctor_id       text   NOT NULL,
    organisation_id text,
    version         bigint NOT NULL,
    status          text   NOT NULL,
    sealed_content  blob,
    signer_id       text,
    signed_at       text,
    key_id          text
);
CREATE TABLE IF NOT EXISTS protocol_addenda (
    addendum_id text PRIMARY KEY,
    protocol_id text        NOT NULL,
    patient_id  text        NOT NULL,
    signer_id   text        NOT NULL,
    signed_at   text NOT NULL,
    key_id      text        NOT NULL,
    sealed_text blob
);
CREATE INDEX IF NOT EXISTS protocol_addenda_by_protocol ON protocol_addenda (protocol_id);
-- Rule sets and the decisions taken under them (projections/rule_sets.py): no personal data.
CREATE TABLE IF NOT EXISTS rule_set_versions (
    organisation_id text        NOT NULL,
    version         integer     NOT NULL,
    rules           text        NOT NULL,
    published_at    text NOT NULL,
    published_by    text        NOT NULL,
    PRIMARY KEY (organisation_id, version)
);
CREATE TABLE IF NOT EXISTS rule_decisions (
    position        bigint PRIMARY KEY,
    organisation_id text        NOT NULL,
    consultation_id text        NOT NULL,
    rule_id         text        NOT NULL,
    version         integer     NOT NULL,
    allowed         integer     NOT NULL,
    step            text        NOT NULL,
    explanation     text        NOT NULL,
    decided_at      text NOT NULL,
    actor_id        text        NOT NULL
);
CREATE INDEX IF NOT EXISTS rule_decisions_by_organisation ON rule_decisions (organisation_id, position);
