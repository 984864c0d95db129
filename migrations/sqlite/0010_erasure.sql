-- Which account an email address opens: the address's blind index, deleted when the person is
-- erased (the account's id is random, so nothing else links the address to the account).
CREATE TABLE IF NOT EXISTS account_emails (
    email_index blob PRIMARY KEY,
    account_id  text NOT NULL UNIQUE
);

-- What an erasure looks up: mail waiting for a subject, grants given for a record.
CREATE INDEX IF NOT EXISTS outbox_subject ON outbox (subject_id) WHERE sent_at IS NULL;
CREATE INDEX IF NOT EXISTS delegation_grants_patient ON delegation_grants (patient_id);
