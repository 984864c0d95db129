-- Partner labs, lab orders and results (projections/labs.py). An order's tests and note, its
-- cancellation reason and each result are sealed with the patient's own key; in clear only ids,
-- states, times, a result's position in its order and whether it is abnormal.
CREATE TABLE IF NOT EXISTS lab_partners (
    list_id   text NOT NULL,
    lab_id    text NOT NULL,
    name      text NOT NULL,
    client_id text NOT NULL,
    PRIMARY KEY (list_id, lab_id)
);

CREATE TABLE IF NOT EXISTS lab_orders (
    order_id        text PRIMARY KEY,
    version         bigint NOT NULL,
    patient_id      text NOT NULL,
    consultation_id text NOT NULL,
    doctor_id       text NOT NULL,
    organisation_id text NOT NULL,
    lab_id          text NOT NULL,
    status          text NOT NULL,
    ordered_at      text NOT NULL,
    updated_at      text NOT NULL,
    sealed_order    blob,
    sealed_reason   blob
);
CREATE INDEX IF NOT EXISTS lab_orders_patient ON lab_orders (patient_id, ordered_at);
CREATE INDEX IF NOT EXISTS lab_orders_doctor ON lab_orders (doctor_id);

CREATE TABLE IF NOT EXISTS lab_results (
    order_id    text NOT NULL,
    position    integer NOT NULL,
    abnormal    integer NOT NULL,
    reported_at text NOT NULL,
    sealed      blob,
    PRIMARY KEY (order_id, position)
);
