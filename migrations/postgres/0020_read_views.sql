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

-- Pending record invitations (projections/record_invitations.py): the records with an
-- invitation issued and not yet accepted, declined, withdrawn or erased.
CREATE TABLE IF NOT EXISTS pending_record_invitations (
    patient_id uuid PRIMARY KEY
);

-- The account view (projections/account_view.py): an account as its owner reads it: role,
-- second factor confirmed, and the doctors an assistant acts for (JSON, in assignment order).
CREATE TABLE IF NOT EXISTS account_view (
    account_id    uuid PRIMARY KEY,
    version       bigint NOT NULL,
    role          text NOT NULL,
    second_factor boolean NOT NULL,
    assists       text NOT NULL
);
