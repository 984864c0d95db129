-- The patient card (projections/patient_card.py): one record as GET /v1/patients/{id} shows it,
-- computed from the record's events. Identity and notes, and contact details, are sealed with the
-- patient's own key (nothing personal in clear; erasure destroys the key); consents are a bit set.
-- It starts empty and its runner fills it from the log's start.
CREATE TABLE IF NOT EXISTS patient_card (
    patient_id         text PRIMARY KEY,
    version            bigint  NOT NULL,
    organisation_id    text,
    sealed_identity    blob,
    sealed_contact     blob,
    consents           integer NOT NULL DEFAULT 0,
    erased             integer NOT NULL DEFAULT 0,
    holder_id          text,
    has_account        integer NOT NULL DEFAULT 0,
    invitation_pending integer NOT NULL DEFAULT 0
);
