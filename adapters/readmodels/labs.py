"""The labs' view in SQL (SQLite and PostgreSQL). An order's tests and note, its cancellation
reason and each result are sealed with the patient's own key (nothing clinical in clear) and
opened at query time, so a destroyed key answers null; a result row keeps in clear only the
test's position in the order and whether it is abnormal."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from adapters.crypto.sealing import field_context, open_sealed, seal
from adapters.crypto.subject_keys import SubjectKeys
from adapters.db import Database, as_datetime, as_uuid
from adapters.readmodels.runner import SqlView
from domain.partner_labs import PartnerLabs
from domain.personal import Erased
from projections.labs import AbnormalOrder, OrderRow, PartnerLab

_ORDER = (
    "order_id, version, patient_id, consultation_id, doctor_id, organisation_id, lab_id, "
    "status, ordered_at, updated_at, sealed_order, sealed_reason"
)


class SqlLabs(SqlView):
    """One statement per step: no step reads the rows it changes."""

    tables = ("lab_partners", "lab_orders", "lab_results")

    def __init__(self, db: Database, keys: SubjectKeys) -> None:
        super().__init__(db)
        self.keys = keys

    # -- projection steps ----------------------------------------------------------------------
    def lab_added(self, list_id: UUID, lab: PartnerLab) -> None:
        self.cur.execute(
            "INSERT INTO lab_partners (list_id, lab_id, name, client_id) VALUES (%s, %s, %s, %s)",
            (list_id, lab.lab_id, lab.name, lab.client_id),
        )

    def lab_removed(self, list_id: UUID, lab_id: UUID) -> None:
        self.cur.execute(
            "DELETE FROM lab_partners WHERE list_id = %s AND lab_id = %s", (list_id, lab_id)
        )

    def ordered(self, order: OrderRow) -> None:
        clinical = {"tests": order.tests, "note": order.note}
        self.cur.execute(
            f"INSERT INTO lab_orders ({_ORDER}) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                order.order_id,
                order.version,
                order.patient_id,
                order.consultation_id,
                order.doctor_id,
                order.organisation_id,
                order.lab_id,
                order.status,
                order.ordered_at,
                order.updated_at,
                self._seal(order.patient_id, order.order_id, "order", clinical),
                None,
            ),
        )

    def reported(
        self,
        order_id: UUID,
        patient_id: UUID,
        version: int,
        status: str,
        at: datetime,
        results: list[tuple[int, bool, dict[str, Any]]],
    ) -> None:
        for position, abnormal, result in results:
            sealed = self._seal(patient_id, order_id, f"result.{position}", result)
            self.cur.execute(
                "DELETE FROM lab_results WHERE order_id = %s AND position = %s",
                (order_id, position),
            )
            self.cur.execute(
                "INSERT INTO lab_results (order_id, position, abnormal, reported_at, sealed) "
                "VALUES (%s, %s, %s, %s, %s)",
                (order_id, position, abnormal, at, sealed),
            )
        self.cur.execute(
            "UPDATE lab_orders SET status = %s, updated_at = %s, version = %s WHERE order_id = %s",
            (status, at, version, order_id),
        )

    def cancelled(
        self, order_id: UUID, patient_id: UUID, version: int, at: datetime, reason: str
    ) -> None:
        sealed = self._seal(patient_id, order_id, "reason", {"reason": reason})
        self.cur.execute(
            "UPDATE lab_orders SET status = %s, updated_at = %s, version = %s, "
            "sealed_reason = %s WHERE order_id = %s",
            ("cancelled", at, version, sealed, order_id),
        )

    def _seal(self, patient_id: UUID, order_id: UUID, part: str, data: Any) -> bytes | None:
        values = data.values() if isinstance(data, dict) else [data]
        if any(isinstance(v, Erased) for v in values):
            return None  # the patient was erased: nothing to keep
        key = self.keys.get(patient_id)
        if key is None:
            return None
        return seal(key, orjson.dumps(data), _context(patient_id, order_id, part))

    # -- queries -------------------------------------------------------------------------------
    def partners(self, organisation_id: UUID) -> list[PartnerLab]:
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT lab_id, name, client_id FROM lab_partners WHERE list_id = %s "
                "ORDER BY name, lab_id",
                (PartnerLabs.create_id(organisation_id),),
            )
            rows = cur.fetchall()
        return [PartnerLab(as_uuid(r[0]), str(r[1]), as_uuid(r[2])) for r in rows]

    def of_patient(self, patient_id: UUID) -> list[OrderRow]:
        with self.db.transaction(write=False) as cur:
            cur.execute(
                f"SELECT {_ORDER} FROM lab_orders WHERE patient_id = %s "
                "ORDER BY ordered_at DESC, order_id",
                (patient_id,),
            )
            orders = cur.fetchall()
            cur.execute(
                "SELECT r.order_id, r.position, r.sealed FROM lab_results r "
                "JOIN lab_orders o ON o.order_id = r.order_id WHERE o.patient_id = %s "
                "ORDER BY r.order_id, r.position",
                (patient_id,),
            )
            results = cur.fetchall()
        key = self.keys.get(patient_id) if orders else None
        by_order: dict[UUID, list[dict[str, Any]]] = {}
        for order_id, position, sealed in results:
            ident = as_uuid(order_id)
            opened = _open(key, patient_id, ident, f"result.{position}", sealed)
            if isinstance(opened, dict):
                by_order.setdefault(ident, []).append(opened)
        return [self._order(row, key, by_order) for row in orders]

    def abnormal_for(self, doctor_id: UUID) -> list[AbnormalOrder]:
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT o.order_id, o.patient_id, o.consultation_id, o.lab_id, o.status, "
                "COUNT(*), o.updated_at FROM lab_orders o "
                "JOIN lab_results r ON r.order_id = o.order_id "
                "WHERE o.doctor_id = %s AND r.abnormal = %s "
                "GROUP BY o.order_id, o.patient_id, o.consultation_id, o.lab_id, o.status, "
                "o.updated_at ORDER BY o.updated_at DESC, o.order_id",
                (doctor_id, True),
            )
            rows = cur.fetchall()
        return [
            AbnormalOrder(
                as_uuid(r[0]),
                as_uuid(r[1]),
                as_uuid(r[2]),
                as_uuid(r[3]),
                str(r[4]),
                int(r[5]),
                as_datetime(r[6]),
            )
            for r in rows
        ]

    def rows(self) -> list[tuple[Any, ...]]:
        """Every row as stored (sealed), in a stable order (tests look for clear text)."""
        with self.db.transaction(write=False) as cur:
            cur.execute(f"SELECT {_ORDER} FROM lab_orders ORDER BY order_id")
            found = list(cur.fetchall())
            cur.execute("SELECT * FROM lab_results ORDER BY order_id, position")
            found += list(cur.fetchall())
            cur.execute("SELECT * FROM lab_partners ORDER BY list_id, lab_id")
            return found + list(cur.fetchall())

    def _order(
        self, row: Any, key: bytes | None, results: dict[UUID, list[dict[str, Any]]]
    ) -> OrderRow:
        order_id, patient_id = as_uuid(row[0]), as_uuid(row[2])
        clinical = _open(key, patient_id, order_id, "order", row[10])
        reason = _open(key, patient_id, order_id, "reason", row[11])
        return OrderRow(
            order_id=order_id,
            version=int(row[1]),
            patient_id=patient_id,
            consultation_id=as_uuid(row[3]),
            doctor_id=as_uuid(row[4]),
            organisation_id=as_uuid(row[5]),
            lab_id=as_uuid(row[6]),
            status=str(row[7]),
            ordered_at=as_datetime(row[8]),
            updated_at=as_datetime(row[9]),
            tests=clinical.get("tests") if isinstance(clinical, dict) else None,
            note=clinical.get("note") if isinstance(clinical, dict) else None,
            cancel_reason=reason.get("reason") if isinstance(reason, dict) else None,
            results=tuple(results.get(order_id, ())),
        )


def _context(patient_id: UUID, order_id: UUID, part: str) -> bytes:
    return field_context(patient_id, f"lab.{order_id}.{part}")


def _open(key: bytes | None, patient_id: UUID, order_id: UUID, part: str, sealed: Any) -> Any:
    """The sealed value, or None once the key is destroyed (erasure)."""
    if key is None or not sealed:
        return None
    return orjson.loads(open_sealed(key, bytes(sealed), _context(patient_id, order_id, part)))
