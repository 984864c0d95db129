-- Prescriptions (projections/prescriptions.py). The medication line with its code, and a
-- cancellation reason, are sealed with the patient's own key; the prescription's code is kept
-- only as a blind index (keyed HMAC) for a pharmacy's lookup; in clear only ids, states,
-- counts and times. The pharmacies: machine clients with that purpose, not revoked.
CREATE TABLE IF NOT EXISTS prescriptions (
    prescription_id   text PRIMARY KEY,
    version           bigint NOT NULL,
    patient_id        text NOT NULL,
    consultation_id   text NOT NULL,
    protocol_id       text NOT NULL,
    line              integer NOT NULL,
    doctor_id         text NOT NULL,
    organisation_id   text,
    status            text NOT NULL,
    fills             integer NOT NULL,
    fills_allowed     integer NOT NULL,
    issued_at         text NOT NULL,
    valid_until       text NOT NULL,
    updated_at        text NOT NULL,
    code_index        blob UNIQUE,
    sealed_medication blob,
    sealed_reason     blob
);
CREATE INDEX IF NOT EXISTS prescriptions_patient ON prescriptions (patient_id, issued_at);

CREATE TABLE IF NOT EXISTS pharmacy_clients (
    client_id       text PRIMARY KEY,
    organisation_id text NOT NULL
);
