-- Availability no longer materialises free slots: queries compute them from each doctor's rules,
-- bookings and busy times. Per doctor the rules row keeps their version (the position of the
-- last event that changed them), what the query across doctors filters on, and a lower bound of
-- when the doctor's first free slot starts.
DROP TABLE IF EXISTS availability_slots;
DROP TABLE IF EXISTS availability_horizon;
ALTER TABLE availability_rules ADD COLUMN version bigint NOT NULL DEFAULT 0;
ALTER TABLE availability_rules ADD COLUMN specialty text NOT NULL DEFAULT '';
ALTER TABLE availability_rules ADD COLUMN languages text NOT NULL DEFAULT ',';
ALTER TABLE availability_rules ADD COLUMN first_free text;
CREATE INDEX IF NOT EXISTS availability_rules_specialty ON availability_rules (specialty, first_free);
-- Rebuild the read model from the log.
DELETE FROM availability_owners;
DELETE FROM availability_rules;
DELETE FROM availability_bookings;
DELETE FROM availability_busy;
UPDATE projection_tracking SET position = 0 WHERE name = 'availability';
