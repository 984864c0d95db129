-- The organisation view (projections/organisation_view.py): one organisation as its staff read
-- it, with its settings and booking templates (JSON); computed from the organisation's events.
CREATE TABLE IF NOT EXISTS organisation_view (
    organisation_id uuid PRIMARY KEY,
    version         bigint NOT NULL,
    name            text NOT NULL,
    parent_id       uuid,
    settings        text NOT NULL,
    templates       text NOT NULL
);
