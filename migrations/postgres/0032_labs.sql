-- Partner labs, lab orders and results (projections/labs.py). An order's tests and note, its
-- cancellation reason and each result are sealed with the patient's own key; in clear only ids,
-- states, times, a result's position in its order and whether it is abnormal.
CREATE TABLE IF NOT EXISTS lab_partners (
    list_id   uuid NOT NULL,
    lab_id    uuid NOT NULL,
    name      text NOT NULL,
    client_id uuid NOT NULL,
    PRIMARY KEY (list_id, lab_id)
);

CREATE TABLE IF NOT EXISTS lab_orders (
    order_id        uuid PRIMARY KEY,
    version         bigint NOT NULL,
    patient_id      uuid NOT NULL,
    consultation_id uuid NOT NULL,
    doctor_id       uuid NOT NULL,
    organisation_id uuid NOT NULL,
    lab_id          uuid NOT NULL,
    status          text NOT NULL,
    ordered_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    sealed_order    bytea,
    sealed_reason   bytea
);
CREATE INDEX IF NOT EXISTS lab_orders_patient ON lab_orders (patient_id, ordered_at);
CREATE INDEX IF NOT EXISTS lab_orders_doctor ON lab_orders (doctor_id);

CREATE TABLE IF NOT EXISTS lab_results (
    order_id    uuid NOT NULL,
    position    integer NOT NULL,
    abnormal    boolean NOT NULL,
    reported_at timestamptz NOT NULL,
    sealed      bytea,
    PRIMARY KEY (order_id, position)
);
