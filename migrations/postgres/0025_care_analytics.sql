-- Care analytics (G2), from consultation events alone: per consultation its kind, the doctor
-- who has it (a keyed pseudonym), whether it is asynchronous or urgent, since when the patient
-- waits (check-in; urgent: from its start, i.e. its booking) and how long until admitted, whether
-- it was completed (or answered), how long the first answer took, and the rating's score (never
-- the comment). Times in microseconds. Older rows lack them, so the analytics read model is
-- emptied and rebuilt from the first event.
ALTER TABLE analytics_consultation_facts ADD COLUMN doctor text;
ALTER TABLE analytics_consultation_facts ADD COLUMN kind text;
ALTER TABLE analytics_consultation_facts ADD COLUMN asynchronous integer NOT NULL DEFAULT 0;
ALTER TABLE analytics_consultation_facts ADD COLUMN waiting_since bigint;
ALTER TABLE analytics_consultation_facts ADD COLUMN wait_micros bigint;
ALTER TABLE analytics_consultation_facts ADD COLUMN completed integer NOT NULL DEFAULT 0;
ALTER TABLE analytics_consultation_facts ADD COLUMN answer_micros bigint;
ALTER TABLE analytics_consultation_facts ADD COLUMN score integer;
ALTER TABLE analytics_consultation_facts ADD COLUMN rated_day text;
CREATE INDEX IF NOT EXISTS analytics_consultation_facts_rated
    ON analytics_consultation_facts (rated_day);
DELETE FROM analytics_daily;
DELETE FROM analytics_subjects;
DELETE FROM analytics_doctors;
DELETE FROM analytics_consultation_facts;
DELETE FROM analytics_consultations;
UPDATE projection_tracking SET position = 0 WHERE name = 'analytics';
