-- Leases: one holder at a time for singleton workers (the Kafka relay), renewed while alive.
CREATE TABLE IF NOT EXISTS leases (
    name       text PRIMARY KEY,
    owner      text NOT NULL,
    expires_at text NOT NULL
);

-- Analytics read models: counts only, keyed by organisation and day; no personal data.
CREATE TABLE IF NOT EXISTS analytics_subjects (
    subject         text PRIMARY KEY,
    organisation_id text
);
CREATE TABLE IF NOT EXISTS analytics_daily (
    metric          text    NOT NULL,
    organisation_id text    NOT NULL,
    day             text    NOT NULL,
    dimension       text    NOT NULL,
    count           integer  NOT NULL,
    PRIMARY KEY (metric, organisation_id, day, dimension)
);
