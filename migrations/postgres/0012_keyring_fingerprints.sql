-- The keys this database depends on, by id and fingerprint (BLAKE2b keyed by the secret over its
-- id; never the key): a process whose keyring does not match refuses to start. A master key is
-- retired once no data key is wrapped with it any more.
CREATE TABLE IF NOT EXISTS keyring_fingerprints (
    key_id      text        PRIMARY KEY,
    kind        text        NOT NULL,
    fingerprint text        NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    retired_at  timestamptz
);
-- During a rotation a data key is also kept wrapped by the previous master key, so processes
-- still holding only the old keyring keep working; retirement (or erasure) clears it.
ALTER TABLE subject_keys ADD COLUMN previous_master_key_id text;
ALTER TABLE subject_keys ADD COLUMN previous_wrapped_key bytea;
