-- Idempotency at the HTTP edge: a key is reserved before the request runs (status NULL), bound
-- to the request's first commit (originator, in that transaction) and answered: status > 0
-- with the response sealed in `response`; 0 = ended without an answer to replay (a retry runs).
ALTER TABLE idempotency_keys ADD COLUMN status integer;
