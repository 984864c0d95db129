-- Which organisation sits above which (adapters/organisation_parents.py): written by the founding
-- command in the same transaction as the organisation's first event, so a route walks up an
-- organisation's parents without loading Organisation aggregates.
CREATE TABLE IF NOT EXISTS organisation_parents (
    organisation_id uuid PRIMARY KEY,
    parent_id       uuid
);

-- Organisations founded before this table existed, as the organisation view has seen them.
INSERT INTO organisation_parents (organisation_id, parent_id)
SELECT organisation_id, parent_id FROM organisation_view;

-- Which records exist and the organisation each was registered with
-- (adapters/patient_registrations.py): written by the registering command in the same transaction
-- as the record's first event, so a route authorizes an action on a record without loading it.
CREATE TABLE IF NOT EXISTS patient_registrations (
    patient_id      uuid PRIMARY KEY,
    organisation_id uuid
);

-- Records registered before this table existed, as the patient directory has seen them.
INSERT INTO patient_registrations (patient_id, organisation_id)
SELECT patient_id, organisation_id FROM patient_directory;
