"""The account view in SQL (SQLite and PostgreSQL): one row per account, the doctors an
assistant acts for as a JSON object (doctor -> organisation, in assignment order)."""

from __future__ import annotations

from uuid import UUID

import orjson

from adapters.db import as_uuid
from adapters.readmodels.runner import SqlView
from domain.actor import Role
from projections.account_view import AccountRow


class SqlAccountView(SqlView):
    tables = ("account_view",)

    def opened(self, row: AccountRow) -> None:
        self.cur.execute(
            "INSERT INTO account_view (account_id, version, role, second_factor, assists) "
            "VALUES (%s, %s, %s, %s, %s)",
            (
                row.account_id,
                row.version,
                row.role.value,
                row.second_factor,
                _dump(row.assists),
            ),
        )

    def second_factor(self, account_id: UUID, version: int, confirmed: bool) -> None:
        self.cur.execute(
            "UPDATE account_view SET second_factor = %s, version = %s WHERE account_id = %s",
            (confirmed, version, account_id),
        )

    def assigned(
        self, account_id: UUID, version: int, doctor_id: UUID, organisation_id: UUID
    ) -> None:
        assists = self._assists(account_id)
        assists[doctor_id] = organisation_id  # a re-assignment keeps its place, as on the aggregate
        self._set_assists(account_id, version, assists)

    def unassigned(self, account_id: UUID, version: int, doctor_id: UUID) -> None:
        assists = self._assists(account_id)
        assists.pop(doctor_id, None)
        self._set_assists(account_id, version, assists)

    def erased(self, account_id: UUID, version: int) -> None:
        self.cur.execute(
            "UPDATE account_view SET second_factor = %s, assists = %s, version = %s "
            "WHERE account_id = %s",
            (False, _dump({}), version, account_id),
        )

    def _assists(self, account_id: UUID) -> dict[UUID, UUID]:
        self.cur.execute("SELECT assists FROM account_view WHERE account_id = %s", (account_id,))
        r = self.cur.fetchone()
        return _load(r[0]) if r else {}

    def _set_assists(self, account_id: UUID, version: int, assists: dict[UUID, UUID]) -> None:
        self.cur.execute(
            "UPDATE account_view SET assists = %s, version = %s WHERE account_id = %s",
            (_dump(assists), version, account_id),
        )

    def get(self, account_id: UUID) -> AccountRow | None:
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT account_id, version, role, second_factor, assists FROM account_view "
                "WHERE account_id = %s",
                (account_id,),
            )
            r = cur.fetchone()
        if r is None:
            return None
        return AccountRow(
            account_id=as_uuid(r[0]),
            version=int(r[1]),
            role=Role(r[2]),
            second_factor=bool(r[3]),
            assists=_load(r[4]),
        )


def _dump(assists: dict[UUID, UUID]) -> str:
    return orjson.dumps({str(d): str(o) for d, o in assists.items()}).decode()


def _load(text: str) -> dict[UUID, UUID]:
    return {UUID(d): UUID(o) for d, o in orjson.loads(text).items()}
