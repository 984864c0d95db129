-- Intake (projections/intake.py): each consultation's complaint and form answers, sealed with
-- the patient's own key (no clinical value in clear), and the organisations' intake form versions.
CREATE TABLE IF NOT EXISTS intake_complaints (
    consultation_id text PRIMARY KEY,
    patient_id      text NOT NULL,
    submitted_at    text NOT NULL,
    sealed          blob
);
CREATE TABLE IF NOT EXISTS intake_answers (
    consultation_id text NOT NULL,
    form_code       text NOT NULL,
    patient_id      text NOT NULL,
    form_version    integer NOT NULL,
    answered_at     text NOT NULL,
    sealed          blob,
    PRIMARY KEY (consultation_id, form_code)
);
CREATE TABLE IF NOT EXISTS intake_form_versions (
    form_id      text NOT NULL,
    version      integer NOT NULL,
    title        text NOT NULL,
    questions    text NOT NULL,
    published_at text NOT NULL,
    PRIMARY KEY (form_id, version)
);

-- Consents (projections/consents.py): the organisations' consent texts, and the signatures in
-- force (the history of signatures and withdrawals is on the patient's record).
CREATE TABLE IF NOT EXISTS consent_texts (
    text_id      text NOT NULL,
    version      integer NOT NULL,
    sha256       text NOT NULL,
    body         text NOT NULL,
    published_at text NOT NULL,
    PRIMARY KEY (text_id, version)
);
CREATE TABLE IF NOT EXISTS consent_signatures (
    patient_id      text NOT NULL,
    organisation_id text NOT NULL,
    kind            text NOT NULL,
    version         integer NOT NULL,
    sha256          text NOT NULL,
    signed_at       text NOT NULL,
    signed_by_role  text NOT NULL,
    on_behalf       integer NOT NULL,
    PRIMARY KEY (patient_id, organisation_id, kind)
);

-- The waiting room's entries link the intake: when it was given (nothing clinical).
ALTER TABLE waiting_room ADD COLUMN intake_at text;
