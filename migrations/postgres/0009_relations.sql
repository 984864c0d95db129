-- Who is tied to a patient record, written in the same transaction as the events that make or
-- end the tie, so authorization sees a change at once: 'self' (the record's own account),
-- 'holder' (the patient account that manages a beneficiary) and 'care' (an organisation that
-- has booked a consultation with the patient).
CREATE TABLE IF NOT EXISTS patient_links (
    patient_id uuid NOT NULL,
    party_id   uuid NOT NULL,
    relation   text NOT NULL,
    since      timestamptz NOT NULL,
    ended_at   timestamptz,
    PRIMARY KEY (patient_id, relation, party_id)
);
CREATE INDEX IF NOT EXISTS patient_links_party ON patient_links (party_id, relation);

-- The organisations a member of staff works for (one account, several organisations).
CREATE TABLE IF NOT EXISTS memberships (
    account_id      uuid NOT NULL,
    organisation_id uuid NOT NULL,
    since           timestamptz NOT NULL,
    ended_at        timestamptz,
    PRIMARY KEY (account_id, organisation_id)
);
CREATE INDEX IF NOT EXISTS memberships_organisation ON memberships (organisation_id);

-- The doctors an assistant acts for.
CREATE TABLE IF NOT EXISTS assistant_assignments (
    assistant_id    uuid NOT NULL,
    doctor_id       uuid NOT NULL,
    organisation_id uuid NOT NULL,
    since           timestamptz NOT NULL,
    ended_at        timestamptz,
    PRIMARY KEY (assistant_id, doctor_id)
);
CREATE INDEX IF NOT EXISTS assistant_assignments_doctor ON assistant_assignments (doctor_id);

-- Bootstrap bearer tokens gave way to accounts and sessions.
DROP TABLE IF EXISTS api_tokens;
