-- The cohort of appointments due in a period (for rates such as the no-show rate): each
-- consultation's latest start (UTC day and microseconds since the epoch), whether it was
-- cancelled before that start, and whether a no-show was recorded. Older rows lack the start,
-- so the analytics read model is emptied and rebuilt from the first event.
ALTER TABLE analytics_consultation_facts ADD COLUMN due_day text;
ALTER TABLE analytics_consultation_facts ADD COLUMN starts_at bigint;
ALTER TABLE analytics_consultation_facts ADD COLUMN cancelled_early integer NOT NULL DEFAULT 0;
ALTER TABLE analytics_consultation_facts ADD COLUMN no_show integer NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS analytics_consultation_facts_due
    ON analytics_consultation_facts (due_day);
DELETE FROM analytics_daily;
DELETE FROM analytics_subjects;
DELETE FROM analytics_doctors;
DELETE FROM analytics_consultation_facts;
DELETE FROM analytics_consultations;
UPDATE projection_tracking SET position = 0 WHERE name = 'analytics';
