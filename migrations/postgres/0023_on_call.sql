-- The on-call read model (projections/on_call.py): who is on duty in which pool, the requests to
-- the pools (no reason or question: those stay encrypted in the events), and the consultations
-- whose deadline (an urgent offer, an answer) escalates them to a pool.
CREATE TABLE IF NOT EXISTS on_call_duty (
    pool_id   uuid NOT NULL,
    doctor_id uuid NOT NULL,
    PRIMARY KEY (doctor_id, pool_id)
);

CREATE TABLE IF NOT EXISTS on_call_requests (
    request_id      uuid PRIMARY KEY,
    version         bigint NOT NULL,
    pool_id         uuid NOT NULL,
    organisation_id uuid NOT NULL,
    specialty       text NOT NULL,
    patient_id      uuid NOT NULL,
    urgent          boolean NOT NULL,
    escalated       boolean NOT NULL,
    consultation_id uuid,
    state           text NOT NULL,
    made_at         timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    taken_by_role   text
);
CREATE INDEX IF NOT EXISTS on_call_requests_open ON on_call_requests (state, pool_id, made_at);
CREATE INDEX IF NOT EXISTS on_call_requests_expiry ON on_call_requests (state, expires_at);

CREATE TABLE IF NOT EXISTS on_call_deadlines (
    consultation_id uuid NOT NULL,
    kind            text NOT NULL,
    due_at          timestamptz NOT NULL,
    PRIMARY KEY (consultation_id, kind)
);
CREATE INDEX IF NOT EXISTS on_call_deadlines_due ON on_call_deadlines (due_at);
