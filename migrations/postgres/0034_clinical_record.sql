-- The clinical part of the patient card (projections/clinical_record.py): one row per
-- consultation, protocol, prescription, lab order and consent of a patient, the results of lab
-- orders, and the index of the aggregate streams that belong to the patient (for compliance
-- replay; a stream may belong to several patients, as a teleconference). Every clinical value
-- is sealed with the patient's own key; in clear only ids, sections, states and times.
CREATE TABLE IF NOT EXISTS clinical_streams (
    aggregate_id   uuid NOT NULL,
    patient_id     uuid NOT NULL,
    aggregate_type text NOT NULL,
    position       bigint NOT NULL,
    PRIMARY KEY (patient_id, aggregate_id)
);
CREATE INDEX IF NOT EXISTS clinical_streams_aggregate ON clinical_streams (aggregate_id);
CREATE INDEX IF NOT EXISTS clinical_streams_patient ON clinical_streams (patient_id, position);

CREATE TABLE IF NOT EXISTS clinical_entries (
    entry_id        uuid PRIMARY KEY,
    patient_id      uuid NOT NULL,
    section         text NOT NULL,
    status          text NOT NULL,
    at              timestamptz NOT NULL,
    ends_at         timestamptz,
    updated_at      timestamptz NOT NULL,
    position        bigint NOT NULL,
    organisation_id uuid,
    consultation_id uuid,
    doctor_id       uuid,
    signer_id       uuid,
    signed_at       timestamptz,
    tally           integer NOT NULL DEFAULT 0,
    taken           integer NOT NULL DEFAULT 0,
    sealed          bytea
);
CREATE INDEX IF NOT EXISTS clinical_entries_patient ON clinical_entries (patient_id, section, at);

CREATE TABLE IF NOT EXISTS clinical_parts (
    entry_id   uuid NOT NULL,
    part       text NOT NULL,
    patient_id uuid NOT NULL,
    sealed     bytea,
    PRIMARY KEY (entry_id, part)
);
