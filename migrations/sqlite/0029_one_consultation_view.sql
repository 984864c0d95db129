-- One read model of consultations (projections/consultation_view.py): the doctor's agenda and a
-- patient's list are queries on the consultation view, which follows the whole life (checked
-- in, in progress, completed, taken over by an on-call doctor, ...). The agenda table, which
-- knew only booked, confirmed, cancelled, rescheduled, no-show and flagged, goes.
CREATE INDEX IF NOT EXISTS consultation_view_doctor ON consultation_view (doctor_id, start_at);
CREATE INDEX IF NOT EXISTS consultation_view_patient ON consultation_view (patient_id, start_at);
CREATE INDEX IF NOT EXISTS consultation_view_flagged ON consultation_view (doctor_id, start_at)
    WHERE flagged IS NOT NULL;

DROP TABLE IF EXISTS agenda;
DELETE FROM projection_tracking WHERE name = 'agenda';

-- rebuilt from the log, so every row the agenda queries now read is computed by today's steps
DELETE FROM consultation_view;
UPDATE projection_tracking SET position = 0 WHERE name = 'consultation_view';
