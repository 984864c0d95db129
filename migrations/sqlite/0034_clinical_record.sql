-- The clinical part of the patient card (projections/clinical_record.py): one row per
-- consultation, protocol, prescription, lab order and consent of a patient, the results of lab
-- orders, and the index of the aggregate streams that belong to the patient (for compliance
-- replay; a stream may belong to several patients, as a teleconference). Every clinical value
-- is sealed with the patient's own key; in clear only ids, sections, states and times.
CREATE TABLE IF NOT EXISTS clinical_streams (
    aggregate_id   text NOT NULL,
    patient_id     text NOT NULL,
    aggregate_type text NOT NULL,
    position       bigint NOT NULL,
    PRIMARY KEY (patient_id, aggregate_id)
);
CREATE INDEX IF NOT EXISTS clinical_streams_aggregate ON clinical_streams (aggregate_id);
CREATE INDEX IF NOT EXISTS clinical_streams_patient ON clinical_streams (patient_id, position);

CREATE TABLE IF NOT EXISTS clinical_entries (
    entry_id        text PRIMARY KEY,
    patient_id      text NOT NULL,
    section         text NOT NULL,
    status          text NOT NULL,
    at              text NOT NULL,
    ends_at         text,
    updated_at      text NOT NULL,
    position        bigint NOT NULL,
    organisation_id text,
    consultation_id text,
    doctor_id       text,
    signer_id       text,
    signed_at       text,
    tally           integer NOT NULL DEFAULT 0,
    taken           integer NOT NULL DEFAULT 0,
    sealed          blob
);
CREATE INDEX IF NOT EXISTS clinical_entries_patient ON clinical_entries (patient_id, section, at);

CREATE TABLE IF NOT EXISTS clinical_parts (
    entry_id   text NOT NULL,
    part       text NOT NULL,
    patient_id text NOT NULL,
    sealed     blob,
    PRIMARY KEY (entry_id, part)
);
