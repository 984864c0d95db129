-- Prescriptions (projections/prescriptions.py). The medication line with its code, and a
-- cancellation reason, are sealed with the patient's own key; the prescription's code is kept
-- only as a blind index (keyed HMAC) for a pharmacy's lookup; in clear only ids, states,
-- counts and times. The pharmacies: machine clients with that purpose, not revoked.
CREATE TABLE IF NOT EXISTS prescriptions (
    prescription_id   uuid PRIMARY KEY,
    version           bigint NOT NULL,
    patient_id        uuid NOT NULL,
    consultation_id   uuid NOT NULL,
    protocol_id       uuid NOT NULL,
    line              integer NOT NULL,
    doctor_id         uuid NOT NULL,
    organisation_id   uuid,
    status            text NOT NULL,
    fills             integer NOT NULL,
    fills_allowed     integer NOT NULL,
    issued_at         timestamptz NOT NULL,
    valid_until       timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    code_index        bytea UNIQUE,
    sealed_medication bytea,
    sealed_reason     bytea
);
CREATE INDEX IF NOT EXISTS prescriptions_patient ON prescriptions (patient_id, issued_at);

CREATE TABLE IF NOT EXISTS pharmacy_clients (
    client_id       uuid PRIMARY KEY,
    organisation_id uuid NOT NULL
);
