-- Video rooms (BRIEF D1, F6). Write side (adapters/rooms.py), written by the commands that open a
-- room or rotate its PINs, in the same transaction as the room's events: which room an address
-- opens, and every combination of address, guest PIN and host PIN ever issued, as keyed digests
-- (never deleted), so that a combination is never issued twice: the unique index refuses it.
CREATE TABLE IF NOT EXISTS room_addresses (
    address         text PRIMARY KEY,
    room_id         uuid NOT NULL UNIQUE,
    consultation_id uuid NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS room_pins (
    address      text NOT NULL,
    guest_digest bytea NOT NULL,
    host_digest  bytea NOT NULL,
    issued_at    timestamptz NOT NULL,
    UNIQUE (address, guest_digest, host_digest)
);

-- The rooms as the parties see them (projections/rooms.py): the window and state in clear, the
-- PINs sealed with the patient's own key (opened at query time; erasure makes them unreadable).
CREATE TABLE IF NOT EXISTS room_view (
    room_id         uuid PRIMARY KEY,
    consultation_id uuid NOT NULL UNIQUE,
    patient_id      uuid NOT NULL,
    doctor_id       uuid NOT NULL,
    address         text NOT NULL,
    mode            text NOT NULL,
    status          text NOT NULL,
    opens           timestamptz NOT NULL,
    closes          timestamptz NOT NULL,
    version         bigint NOT NULL,
    pins_rotated    integer NOT NULL,
    sealed_pins     bytea
);
