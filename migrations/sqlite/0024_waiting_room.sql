-- The waiting room (projections/waiting_room.py): one row per synchronous consultation, in the
-- queue of its doctor (or, later, of an on-call pool: queue_key), where it is (spot), and when
-- it arrived and was admitted; each doctor's pace; the samples the estimate learns from.
CREATE TABLE IF NOT EXISTS waiting_room (
    consultation_id text PRIMARY KEY,
    version         bigint NOT NULL,
    queue_key       text NOT NULL,
    doctor_id       text NOT NULL,
    patient_id      text NOT NULL,
    organisation_id text,
    type_code       text NOT NULL,
    urgent          integer NOT NULL,
    scheduled_at    text,
    slot_minutes    double precision NOT NULL,
    spot            text NOT NULL,
    arrived_at      text,
    admitted_at     text
);
CREATE INDEX IF NOT EXISTS waiting_room_queue ON waiting_room (queue_key, spot);

CREATE TABLE IF NOT EXISTS waiting_room_pace (
    doctor_id        text PRIMARY KEY,
    free_since       text,
    last_admitted_at text
);

CREATE TABLE IF NOT EXISTS waiting_room_history (
    doctor_id text NOT NULL,
    measure   text NOT NULL,
    type_code text NOT NULL,
    samples   text NOT NULL,
    PRIMARY KEY (doctor_id, measure, type_code)
);
