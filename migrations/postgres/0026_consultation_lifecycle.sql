-- The consultation view shows the consultation's life after booking (projections/
-- consultation_view.py): when the patient checked in, was admitted, when it ended; whether a
-- doctor took it (urgent offers, questions), whether it escalated, the answer deadline of a
-- question, whether it was rated. Never the question or the comment.
ALTER TABLE consultation_view ADD COLUMN checked_in_at timestamptz;
ALTER TABLE consultation_view ADD COLUMN admitted_at timestamptz;
ALTER TABLE consultation_view ADD COLUMN ended_at timestamptz;
ALTER TABLE consultation_view ADD COLUMN taken boolean NOT NULL DEFAULT true;
ALTER TABLE consultation_view ADD COLUMN escalated boolean NOT NULL DEFAULT false;
ALTER TABLE consultation_view ADD COLUMN answer_by timestamptz;
ALTER TABLE consultation_view ADD COLUMN asynchronous boolean NOT NULL DEFAULT false;
ALTER TABLE consultation_view ADD COLUMN rated boolean NOT NULL DEFAULT false;

-- rebuilt from the log, so the rows written before these columns get them right
DELETE FROM consultation_view;
UPDATE projection_tracking SET position = 0 WHERE name = 'consultation_view';

-- Teleconferences (projections/teleconference_view.py): the call, and each participant's
-- invitation state (staff by account id, patients by record id; no names).
CREATE TABLE IF NOT EXISTS teleconference_view (
    teleconference_id uuid PRIMARY KEY,
    version           bigint NOT NULL,
    organiser_id      uuid NOT NULL,
    organisation_id   uuid NOT NULL,
    start_at          timestamptz NOT NULL,
    end_at            timestamptz NOT NULL,
    status            text NOT NULL,
    started_at        timestamptz,
    ended_at          timestamptz
);

CREATE TABLE IF NOT EXISTS teleconference_participants (
    teleconference_id uuid NOT NULL,
    participant_id    uuid NOT NULL,
    kind              text NOT NULL,
    state             text NOT NULL,
    PRIMARY KEY (teleconference_id, participant_id)
);
