-- Row seals: writers MAC each event and access record (keyed, outside the database) as they insert
-- it; the chain sequencer numbers only rows whose seal verifies, so a row inserted behind the
-- application's back never enters the notification log, the hash chain or a checkpoint.
ALTER TABLE stored_events ADD COLUMN row_seal blob;
ALTER TABLE access_log ADD COLUMN row_seal blob;
