-- The on-call read model (projections/on_call.py): who is on duty in which pool, the requests to
-- the pools (no reason or question: those stay encrypted in the events), and the consultations
-- whose deadline (an urgent offer, an answer) escalates them to a pool.
CREATE TABLE IF NOT EXISTS on_call_duty (
    pool_id   text NOT NULL,
    doctor_id text NOT NULL,
    PRIMARY KEY (doctor_id, pool_id)
);

CREATE TABLE IF NOT EXISTS on_call_requests (
    request_id      text PRIMARY KEY,
    version         bigint NOT NULL,
    pool_id         text NOT NULL,
    organisation_id text NOT NULL,
    specialty       text NOT NULL,
    patient_id      text NOT NULL,
    urgent          integer NOT NULL,
    escalated       integer NOT NULL,
    consultation_id text,
    state           text NOT NULL,
    made_at         text NOT NULL,
    expires_at      text NOT NULL,
    taken_by_role   text
);
CREATE INDEX IF NOT EXISTS on_call_requests_open ON on_call_requests (state, pool_id, made_at);
CREATE INDEX IF NOT EXISTS on_call_requests_expiry ON on_call_requests (state, expires_at);

CREATE TABLE IF NOT EXISTS on_call_deadlines (
    consultation_id text NOT NULL,
    kind            text NOT NULL,
    due_at          text NOT NULL,
    PRIMARY KEY (consultation_id, kind)
);
CREATE INDEX IF NOT EXISTS on_call_deadlines_due ON on_call_deadlines (due_at);
