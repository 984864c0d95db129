-- Outgoing mail, written in the same transaction as the events that cause it and sent by the
-- workers. Recipient and body are sealed with the recipient's data key.
CREATE TABLE IF NOT EXISTS outbox (
    message_id      text PRIMARY KEY,
    subject_id      uuid   NOT NULL,
    sealed          bytea  NOT NULL,
    created_at      timestamptz  NOT NULL,
    next_attempt_at timestamptz  NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    sent_at         timestamptz,
    last_error      text
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_attempt_at) WHERE sent_at IS NULL;
