-- Consultation analytics: counts (and summed lead times) per organisation, day, specialty and
-- consultation type. Doctors and consultations appear only as keyed pseudonyms.
CREATE TABLE IF NOT EXISTS analytics_doctors (
    schedule  text PRIMARY KEY,
    specialty text NOT NULL
);
CREATE TABLE IF NOT EXISTS analytics_consultation_facts (
    consultation    text PRIMARY KEY,
    organisation_id text NOT NULL,
    specialty       text NOT NULL,
    type_code       text NOT NULL
);
CREATE TABLE IF NOT EXISTS analytics_consultations (
    metric          text   NOT NULL,
    organisation_id text   NOT NULL,
    day             text   NOT NULL,
    specialty       text   NOT NULL,
    type_code       text   NOT NULL,
    count           bigint NOT NULL,
    amount          bigint NOT NULL,
    PRIMARY KEY (metric, organisation_id, day, specialty, type_code)
);
