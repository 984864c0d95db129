-- Whose consultation it is, for authorization: the patient, the doctor and the organisation it
-- was booked for; written by the booking command in the same transaction as its events, so a
-- route authorizes a change to a consultation without loading it.
CREATE TABLE IF NOT EXISTS consultation_parties (
    consultation_id text PRIMARY KEY,
    patient_id      text NOT NULL,
    doctor_id       text NOT NULL,
    organisation_id text
);

-- Consultations booked before this table existed, as the agenda has seen them.
INSERT INTO consultation_parties (consultation_id, patient_id, doctor_id, organisation_id)
SELECT consultation_id, patient_id, doctor_id, organisation_id FROM agenda;

-- The consultation view (projections/consultation_view.py): one consultation as its parties
-- read it, with the options its organisation's booking template preset (JSON).
CREATE TABLE IF NOT EXISTS consultation_view (
    consultation_id text PRIMARY KEY,
    version         bigint NOT NULL,
    doctor_id       text NOT NULL,
    patient_id      text NOT NULL,
    practice_id     text,
    organisation_id text,
    type_code       text NOT NULL,
    kind            text NOT NULL,
    start_at        text NOT NULL,
    end_at          text NOT NULL,
    status          text NOT NULL,
    urgent          integer NOT NULL,
    flagged         text,
    booked_by_role  text NOT NULL,
    options         text NOT NULL
);
