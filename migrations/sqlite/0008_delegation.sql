-- Delegation grants in force, written in the same transaction as their events, so that a
-- revoked or expired grant stops working at once (authorization reads this table).
CREATE TABLE IF NOT EXISTS delegation_grants (
    grant_id   text   PRIMARY KEY,
    patient_id text   NOT NULL,
    grantee_id text   NOT NULL,
    scopes     text NOT NULL,
    starts_at  text  NOT NULL,
    ends_at    text,
    revoked_at text
);
CREATE INDEX IF NOT EXISTS delegation_grants_grantee ON delegation_grants (grantee_id, patient_id);
