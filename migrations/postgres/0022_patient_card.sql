-- The patient card (projections/patient_card.py): one record as GET /v1/patients/{id} shows it,
-- computed from the record's events. Identity and notes, and contact details, are sealed with the
-- patient's own key (nothing personal in clear; erasure destroys the key); consents are a bit set.
-- It starts empty and its runner fills it from the log's start.
CREATE TABLE IF NOT EXISTS patient_card (
    patient_id         uuid PRIMARY KEY,
    version            bigint  NOT NULL,
    organisation_id    uuid,
    sealed_identity    bytea,
    sealed_contact     bytea,
    consents           integer NOT NULL DEFAULT 0,
    erased             boolean NOT NULL DEFAULT false,
    holder_id          uuid,
    has_account        boolean NOT NULL DEFAULT false,
    invitation_pending boolean NOT NULL DEFAULT false
);
