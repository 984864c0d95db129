"""Who is tied to whom, for authorization: a record's own account, the holder of a beneficiary,
the organisations with a consultation relationship, a member of staff's organisations and the
doctors an assistant acts for.

Each tie is written by a row writer attached to the command that makes or ends it, so it changes
in the same transaction as the events (a former holder loses access at the commit), and is read
on every request that needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from adapters.db import Cursor, Database, as_uuid
from domain.patient import Link

RowWriter = Callable[[Cursor], None]


@dataclass(frozen=True)
class RecordTies:
    """What ties one party to one patient record right now."""

    own: bool
    holder: bool
    care_organisations: frozenset[UUID]
    grant_scopes: frozenset[str]


class RelationIndex:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- writers (attached to a unit of work) -------------------------------------------------

    def link(self, patient_id: UUID, party_id: UUID, relation: Link) -> RowWriter:
        def write(cur: Cursor) -> None:
            cur.execute(
                "INSERT INTO patient_links (patient_id, party_id, relation, since) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (patient_id, relation, party_id) "
                "DO UPDATE SET ended_at = NULL",
                (patient_id, party_id, relation.value, datetime.now(UTC)),
            )

        return write

    def unlink(self, patient_id: UUID, party_id: UUID, relation: Link) -> RowWriter:
        def write(cur: Cursor) -> None:
            cur.execute(
                "UPDATE patient_links SET ended_at = %s WHERE patient_id = %s "
                "AND party_id = %s AND relation = %s AND ended_at IS NULL",
                (datetime.now(UTC), patient_id, party_id, relation.value),
            )

        return write

    def join(self, account_id: UUID, organisation_id: UUID) -> RowWriter:
        def write(cur: Cursor) -> None:
            cur.execute(
                "INSERT INTO memberships (account_id, organisation_id, since) "
                "VALUES (%s, %s, %s) ON CONFLICT (account_id, organisation_id) "
                "DO UPDATE SET ended_at = NULL",
                (account_id, organisation_id, datetime.now(UTC)),
            )

        return write

    def leave(self, account_id: UUID, organisation_id: UUID) -> RowWriter:
        def write(cur: Cursor) -> None:
            cur.execute(
                "UPDATE memberships SET ended_at = %s WHERE account_id = %s "
                "AND organisation_id = %s AND ended_at IS NULL",
                (datetime.now(UTC), account_id, organisation_id),
            )

        return write

    def assign(self, assistant_id: UUID, doctor_id: UUID, organisation_id: UUID) -> RowWriter:
        def write(cur: Cursor) -> None:
            cur.execute(
                "INSERT INTO assistant_assignments (assistant_id, doctor_id, organisation_id, "
                "since) VALUES (%s, %s, %s, %s) ON CONFLICT (assistant_id, doctor_id) "
                "DO UPDATE SET ended_at = NULL, organisation_id = %s",
                (assistant_id, doctor_id, organisation_id, datetime.now(UTC), organisation_id),
            )

        return write

    def unassign(self, assistant_id: UUID, doctor_id: UUID) -> RowWriter:
        def write(cur: Cursor) -> None:
            cur.execute(
                "UPDATE assistant_assignments SET ended_at = %s WHERE assistant_id = %s "
                "AND doctor_id = %s AND ended_at IS NULL",
                (datetime.now(UTC), assistant_id, doctor_id),
            )

        return write

    def end_all(self, party_ids: list[UUID]) -> RowWriter:
        """Row writer for an erasure: every tie of these records and accounts ends (as a record,
        as a party to a record, as a member of staff, as an assistant or assisted doctor)."""

        def write(cur: Cursor) -> None:
            now = datetime.now(UTC)
            for party_id in party_ids:
                cur.execute(
                    "UPDATE patient_links SET ended_at = %s WHERE ended_at IS NULL "
                    "AND (patient_id = %s OR party_id = %s)",
                    (now, party_id, party_id),
                )
                cur.execute(
                    "UPDATE memberships SET ended_at = %s WHERE ended_at IS NULL "
                    "AND account_id = %s",
                    (now, party_id),
                )
                cur.execute(
                    "UPDATE assistant_assignments SET ended_at = %s WHERE ended_at IS NULL "
                    "AND (assistant_id = %s OR doctor_id = %s)",
                    (now, party_id, party_id),
                )

        return write

    # -- reads ----------------------------------------------------------------------------------

    def ties(self, party_id: UUID, organisation_id: UUID | None, patient_id: UUID) -> RecordTies:
        """The party's own ties to the record (and the record's care organisations, of which
        only the party's organisation matters), with the delegation scopes in force now."""
        now = datetime.now(UTC)
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT relation, party_id FROM patient_links WHERE patient_id = %s "
                "AND ended_at IS NULL AND (party_id = %s OR party_id = %s)",
                (patient_id, party_id, organisation_id or party_id),
            )
            links = [(str(r[0]), as_uuid(r[1])) for r in cur.fetchall()]
            cur.execute(
                "SELECT scopes FROM delegation_grants WHERE grantee_id = %s AND patient_id = %s "
                "AND revoked_at IS NULL AND starts_at <= %s AND (ends_at IS NULL OR ends_at > %s)",
                (party_id, patient_id, now, now),
            )
            scopes = {s for row in cur.fetchall() for s in str(row[0]).split(",") if s}
        return RecordTies(
            own=(Link.SELF.value, party_id) in links,
            holder=(Link.HOLDER.value, party_id) in links,
            care_organisations=frozenset(p for r, p in links if r == Link.CARE.value),
            grant_scopes=frozenset(scopes),
        )

    def own_record(self, account_id: UUID) -> UUID | None:
        """The record an account was given (by invitation or transfer), if any."""
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT patient_id FROM patient_links WHERE party_id = %s AND relation = %s "
                "AND ended_at IS NULL ORDER BY since LIMIT 1",
                (account_id, Link.SELF.value),
            )
            row = cur.fetchone()
        return as_uuid(row[0]) if row else None

    def held_by(self, holder_id: UUID) -> list[UUID]:
        """The beneficiaries an account holds now."""
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT patient_id FROM patient_links WHERE party_id = %s AND relation = %s "
                "AND ended_at IS NULL ORDER BY since",
                (holder_id, Link.HOLDER.value),
            )
            return [as_uuid(r[0]) for r in cur.fetchall()]

    def memberships(self, account_id: UUID) -> list[UUID]:
        """The organisations the account works for now, the earliest first."""
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT organisation_id FROM memberships WHERE account_id = %s "
                "AND ended_at IS NULL ORDER BY since, organisation_id",
                (account_id,),
            )
            return [as_uuid(r[0]) for r in cur.fetchall()]

    def assisted_doctors(self, assistant_id: UUID, organisation_id: UUID | None) -> frozenset[UUID]:
        """The doctors an assistant acts for in one organisation."""
        if organisation_id is None:
            return frozenset()
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT doctor_id FROM assistant_assignments WHERE assistant_id = %s "
                "AND organisation_id = %s AND ended_at IS NULL",
                (assistant_id, organisation_id),
            )
            return frozenset(as_uuid(r[0]) for r in cur.fetchall())

    def assistants_of(self, doctor_id: UUID) -> list[tuple[UUID, UUID]]:
        """(assistant, organisation) pairs acting for a doctor now."""
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT assistant_id, organisation_id FROM assistant_assignments "
                "WHERE doctor_id = %s AND ended_at IS NULL ORDER BY since",
                (doctor_id,),
            )
            return [(as_uuid(r[0]), as_uuid(r[1])) for r in cur.fetchall()]
