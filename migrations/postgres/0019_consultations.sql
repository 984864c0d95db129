-- Whose consultation it is, for authorization: the patient, the doctor and the organisation it
-- was booked for; written by the booking command in the same transaction as its events, so a
-- route authorizes a change to a consultation without loading it.
CREATE TABLE IF NOT EXISTS consultation_parties (
    consultation_id uuid PRIMARY KEY,
    patient_id      uuid NOT NULL,
    doctor_id       uuid NOT NULL,
    organisation_id uuid
);

-- Consultations booked before this table existed, as the agenda has seen them.
INSERT INTO consultation_parties (consultation_id, patient_id, doctor_id, organisation_id)
SELECT consultation_id, patient_id, doctor_id, organisation_id FROM agenda;

-- The consultation view (projections/consultation_view.py): one consultation as its parties
-- read it, with the options its organisation's booking template preset (JSON).
CREATE TABLE IF NOT EXISTS consultation_view (
    consultation_id uuid PRIMARY KEY,
    version         bigint NOT NULL,
    doctor_id       uuid NOT NULL,
    patient_id      uuid NOT NULL,
    practice_id     uuid,
    organisation_id uuid,
    type_code       text NOT NULL,
    kind            text NOT NULL,
    start_at        timestamptz NOT NULL,
    end_at          timestamptz NOT NULL,
    status          text NOT NULL,
    urgent          boolean NOT NULL,
    flagged         text,
    booked_by_role  text NOT NULL,
    options         text NOT NULL
);
