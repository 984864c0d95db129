"""The organisation view in SQL (SQLite and PostgreSQL): one row per organisation, its
settings and booking templates as JSON."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson

from adapters.db import as_uuid
from adapters.readmodels.runner import SqlView
from projections.organisation_view import OrganisationRow


class SqlOrganisationView(SqlView):
    tables = ("organisation_view",)

    def founded(self, row: OrganisationRow) -> None:
        self.cur.execute(
            "INSERT INTO organisation_view "
            "(organisation_id, version, name, parent_id, settings, templates) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (
                row.organisation_id,
                row.version,
                row.name,
                row.parent_id,
                orjson.dumps(row.settings).decode(),
                orjson.dumps(row.templates).decode(),
            ),
        )

    def settings_changed(
        self, organisation_id: UUID, version: int, settings: dict[str, str]
    ) -> None:
        self.cur.execute(
            "UPDATE organisation_view SET settings = %s, version = %s WHERE organisation_id = %s",
            (orjson.dumps(settings).decode(), version, organisation_id),
        )

    def template_set(
        self, organisation_id: UUID, version: int, type_code: str, options: dict[str, Any]
    ) -> None:
        templates = self._templates(organisation_id)
        templates[type_code] = options
        self._set_templates(organisation_id, version, templates)

    def template_removed(self, organisation_id: UUID, version: int, type_code: str) -> None:
        templates = self._templates(organisation_id)
        templates.pop(type_code, None)
        self._set_templates(organisation_id, version, templates)

    def _templates(self, organisation_id: UUID) -> dict[str, dict[str, Any]]:
        self.cur.execute(
            "SELECT templates FROM organisation_view WHERE organisation_id = %s",
            (organisation_id,),
        )
        r = self.cur.fetchone()
        return dict(orjson.loads(r[0])) if r else {}

    def _set_templates(
        self, organisation_id: UUID, version: int, templates: dict[str, dict[str, Any]]
    ) -> None:
        self.cur.execute(
            "UPDATE organisation_view SET templates = %s, version = %s WHERE organisation_id = %s",
            (orjson.dumps(templates).decode(), version, organisation_id),
        )

    def get(self, organisation_id: UUID) -> OrganisationRow | None:
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT organisation_id, version, name, parent_id, settings, templates "
                "FROM organisation_view WHERE organisation_id = %s",
                (organisation_id,),
            )
            r = cur.fetchone()
        if r is None:
            return None
        return OrganisationRow(
            organisation_id=as_uuid(r[0]),
            version=int(r[1]),
            name=str(r[2]),
            parent_id=as_uuid(r[3]) if r[3] else None,
            settings=orjson.loads(r[4]),
            templates=orjson.loads(r[5]),
        )
