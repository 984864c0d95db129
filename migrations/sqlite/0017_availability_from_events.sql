-- Availability is computed from events alone: it keeps what it needs in its own tables, so it
-- never loads an aggregate. Which doctor each stream (schedule, doctor's day, calendars) is of:
CREATE TABLE IF NOT EXISTS availability_owners (
    stream_id text PRIMARY KEY,
    doctor_id text NOT NULL
);
-- Each doctor's rules (zone, practices, types, weekly hours, overrides, time off), one document.
CREATE TABLE IF NOT EXISTS availability_rules (
    doctor_id text PRIMARY KEY,
    document  text NOT NULL
);
-- What the doctors' days hold (a booking across UTC midnight is held by both days).
CREATE TABLE IF NOT EXISTS availability_bookings (
    day_id          text        NOT NULL,
    consultation_id text        NOT NULL,
    doctor_id       text        NOT NULL,
    start_at        text        NOT NULL,
    end_at          text        NOT NULL,
    PRIMARY KEY (day_id, consultation_id)
);
CREATE INDEX IF NOT EXISTS availability_bookings_doctor
    ON availability_bookings (doctor_id, start_at);
-- Busy periods synced from the doctors' external calendars (no personal data).
CREATE TABLE IF NOT EXISTS availability_busy (
    doctor_id   text        NOT NULL,
    calendar_id text        NOT NULL,
    uid         text        NOT NULL,
    start_at    text        NOT NULL,
    end_at      text        NOT NULL,
    PRIMARY KEY (doctor_id, calendar_id, uid)
);
CREATE INDEX IF NOT EXISTS availability_busy_doctor ON availability_busy (doctor_id, start_at);
-- Rebuild the read model from zero so that these tables are filled.
DELETE FROM availability_slots;
DELETE FROM availability_horizon;
UPDATE projection_tracking SET position = 0 WHERE name = 'availability';
