"""One organisation as its staff read it (``GET /v1/organisations/{id}``): name, parent,
settings and booking templates, computed from the organisation's events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.organisation import Organisation
from projections.base import Projection


@dataclass(frozen=True)
class OrganisationRow:
    organisation_id: UUID
    version: int
    name: str
    parent_id: UUID | None
    settings: dict[str, str] = field(default_factory=dict)
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)


class OrganisationViewWriter(Protocol):
    def founded(self, row: OrganisationRow) -> None: ...

    def settings_changed(
        self, organisation_id: UUID, version: int, settings: dict[str, str]
    ) -> None: ...

    def template_set(
        self, organisation_id: UUID, version: int, type_code: str, options: dict[str, Any]
    ) -> None: ...

    def template_removed(self, organisation_id: UUID, version: int, type_code: str) -> None: ...


class Organisations(Protocol):
    """What routes ask of the view."""

    def get(self, organisation_id: UUID) -> OrganisationRow | None: ...


class OrganisationViewProjection(Projection[OrganisationViewWriter]):
    name = "organisation_view"
    topics = tuple(
        get_topic(cls)
        for cls in (
            Organisation.Founded,
            Organisation.SettingsChanged,
            Organisation.TemplateSet,
            Organisation.TemplateRemoved,
        )
    )

    @singledispatchmethod
    def process_event(self, event: object, tracking: Tracking) -> None:
        """Other events do not change an organisation."""

    @process_event.register
    def _(self, event: Organisation.Founded, tracking: Tracking) -> None:
        self.view.founded(
            OrganisationRow(
                organisation_id=event.originator_id,
                version=event.originator_version,
                name=event.name,
                parent_id=event.parent_id,
            )
        )

    @process_event.register
    def _(self, event: Organisation.SettingsChanged, tracking: Tracking) -> None:
        self.view.settings_changed(
            event.originator_id, event.originator_version, dict(event.settings)
        )

    @process_event.register
    def _(self, event: Organisation.TemplateSet, tracking: Tracking) -> None:
        self.view.template_set(
            event.originator_id, event.originator_version, event.type_code, dict(event.options)
        )

    @process_event.register
    def _(self, event: Organisation.TemplateRemoved, tracking: Tracking) -> None:
        self.view.template_removed(event.originator_id, event.originator_version, event.type_code)
