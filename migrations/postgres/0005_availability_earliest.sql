-- "Earliest N of a specialty" without a type filter reads this index in time order instead of
-- sorting every future slot of the specialty.
CREATE INDEX IF NOT EXISTS availability_earliest_any_type
    ON availability_slots (specialty, start_at, doctor_id);
