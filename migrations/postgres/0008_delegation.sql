-- Delegation grants in force, written in the same transaction as their events, so that a
-- revoked or expired grant stops working at once (authorization reads this table).
CREATE TABLE IF NOT EXISTS delegation_grants (
    grant_id   uuid   PRIMARY KEY,
    patient_id uuid   NOT NULL,
    grantee_id uuid   NOT NULL,
    scopes     text NOT NULL,
    starts_at  timestamptz  NOT NULL,
    ends_at    timestamptz,
    revoked_at timestamptz
);
CREATE INDEX IF NOT EXISTS delegation_grants_grantee ON delegation_grants (grantee_id, patient_id);
