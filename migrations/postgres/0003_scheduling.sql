-- Availability read model: free slots per doctor, practice, consultation type and time.
CREATE TABLE IF NOT EXISTS availability_slots (
    doctor_id       uuid   NOT NULL,
    practice_id     uuid   NOT NULL,
    type_code       text NOT NULL,
    start_at        timestamptz  NOT NULL,
    end_at          timestamptz  NOT NULL,
    day             text NOT NULL,
    organisation_id uuid   NOT NULL,
    specialty       text NOT NULL,
    languages       text NOT NULL,
    kinds           text NOT NULL,
    time_zone       text NOT NULL,
    PRIMARY KEY (doctor_id, start_at, practice_id, type_code)
);
CREATE INDEX IF NOT EXISTS availability_earliest
    ON availability_slots (specialty, type_code, start_at);
CREATE INDEX IF NOT EXISTS availability_day ON availability_slots (doctor_id, day);

-- Which doctors' days the availability model has computed (its horizon).
CREATE TABLE IF NOT EXISTS availability_horizon (
    doctor_id uuid   PRIMARY KEY,
    last_day  text NOT NULL
);

-- The doctors' agendas: consultations with their state (no personal data beyond ids).
CREATE TABLE IF NOT EXISTS agenda (
    consultation_id uuid   PRIMARY KEY,
    doctor_id       uuid   NOT NULL,
    patient_id      uuid   NOT NULL,
    practice_id     uuid,
    organisation_id uuid,
    type_code       text NOT NULL,
    kind            text NOT NULL,
    start_at        timestamptz  NOT NULL,
    end_at          timestamptz  NOT NULL,
    status          text NOT NULL,
    urgent          boolean   NOT NULL,
    flagged         text,
    booked_by_role  text NOT NULL,
    booked_at       timestamptz  NOT NULL,
    version         bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS agenda_doctor ON agenda (doctor_id, start_at);
CREATE INDEX IF NOT EXISTS agenda_patient ON agenda (patient_id, start_at);
