-- The waiting room (projections/waiting_room.py): one row per synchronous consultation, in the
-- queue of its doctor (or, later, of an on-call pool: queue_key), where it is (spot), and when
-- it arrived and was admitted; each doctor's pace; the samples the estimate learns from.
CREATE TABLE IF NOT EXISTS waiting_room (
    consultation_id uuid PRIMARY KEY,
    version         bigint NOT NULL,
    queue_key       text NOT NULL,
    doctor_id       uuid NOT NULL,
    patient_id      uuid NOT NULL,
    organisation_id uuid,
    type_code       text NOT NULL,
    urgent          boolean NOT NULL,
    scheduled_at    timestamptz,
    slot_minutes    double precision NOT NULL,
    spot            text NOT NULL,
    arrived_at      timestamptz,
    admitted_at     timestamptz
);
CREATE INDEX IF NOT EXISTS waiting_room_queue ON waiting_room (queue_key, spot);

CREATE TABLE IF NOT EXISTS waiting_room_pace (
    doctor_id        uuid PRIMARY KEY,
    free_since       timestamptz,
    last_admitted_at timestamptz
);

CREATE TABLE IF NOT EXISTS waiting_room_history (
    doctor_id uuid NOT NULL,
    measure   text NOT NULL,
    type_code text NOT NULL,
    samples   text NOT NULL,
    PRIMARY KEY (doctor_id, measure, type_code)
);
