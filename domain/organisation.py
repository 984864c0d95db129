"""Organisations: a tree (sub-organisations), their settings and their booking templates.

A booking template presets what gets booked for a consultation type: the kind of video room,
a waiting room, whether recording may be offered, and a duration the organisation prefers.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor
from domain.errors import InvalidValue
from domain.personal import RecordedCreation, RecordedEvent

ROOMS = ("p2p", "sfu")
RECORDING = ("off", "with-consent")


_FORM_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")


def template(
    room: str,
    waiting_room: bool,
    recording: str,
    duration_minutes: int | None,
    intake_forms: list[str] | tuple[str, ...] = (),
    room_lead_in_minutes: int | None = None,
    room_grace_minutes: int | None = None,
) -> dict[str, Any]:
    """``intake_forms``: the codes of the organisation's intake forms a patient booked for the
    type is asked to fill (their latest version when filling); kept only when some are named.
    ``room_lead_in_minutes`` / ``room_grace_minutes``: the video room opens that long before
    the start and closes that long after the end (domain.room's defaults when not given)."""
    if room not in ROOMS or recording not in RECORDING:
        raise InvalidValue(f"room is one of {ROOMS}, recording one of {RECORDING}")
    if duration_minutes is not None and not 5 <= duration_minutes <= 480:
        raise InvalidValue("a template's duration is 5 to 480 minutes")
    forms = sorted(set(intake_forms))
    if len(forms) > 10 or not all(_FORM_CODE.match(f) for f in forms):
        raise InvalidValue("a template names at most 10 intake forms by code")
    options: dict[str, Any] = {
        "room": room,
        "waiting_room": waiting_room,
        "recording": recording,
        "duration_minutes": duration_minutes,
    }
    if forms:
        options["intake_forms"] = forms
    for name, minutes in (
        ("room_lead_in_minutes", room_lead_in_minutes),
        ("room_grace_minutes", room_grace_minutes),
    ):
        if minutes is not None:
            if not 0 <= minutes <= 240:
                raise InvalidValue(f"{name} is 0 to 240 minutes")
            options[name] = minutes
    return options


class Organisation(Aggregate):
    class Founded(RecordedCreation):
        name: str
        parent_id: UUID | None

    class SettingsChanged(RecordedEvent):
        settings: dict[str, str]

    class TemplateSet(RecordedEvent):
        type_code: str
        options: dict[str, Any]

    class TemplateRemoved(RecordedEvent):
        type_code: str

    @event(Founded)
    def __init__(  # the id is the caller's (an organisation's id comes with it)
        self,
        *,
        id: UUID,
        name: str,
        parent_id: UUID | None,
        by: Actor,
    ) -> None:
        self.name, self.parent_id = name, parent_id
        self.settings: dict[str, str] = {}
        self.templates: dict[str, dict[str, Any]] = {}

    @classmethod
    def found(
        cls, organisation_id: UUID, name: str, parent_id: UUID | None, *, by: Actor
    ) -> Organisation:
        if not name.strip() or len(name) > 200:
            raise InvalidValue("an organisation's name has 1 to 200 characters")
        return cls(id=organisation_id, name=name.strip(), parent_id=parent_id, by=by)

    @event(SettingsChanged)
    def change_settings(self, *, settings: dict[str, str], by: Actor) -> None:
        self.settings = dict(settings)

    def set_template(self, type_code: str, options: dict[str, Any], *, by: Actor) -> None:
        checked = template(
            options["room"],
            bool(options["waiting_room"]),
            options["recording"],
            options.get("duration_minutes"),
            options.get("intake_forms") or (),
            options.get("room_lead_in_minutes"),
            options.get("room_grace_minutes"),
        )
        self._template_set(type_code=type_code.strip().lower(), options=checked, by=by)

    @event(TemplateSet)
    def _template_set(self, *, type_code: str, options: dict[str, Any], by: Actor) -> None:
        self.templates[type_code] = options

    def remove_template(self, type_code: str, *, by: Actor) -> None:
        if type_code in self.templates:
            self._template_removed(type_code=type_code, by=by)

    @event(TemplateRemoved)
    def _template_removed(self, *, type_code: str, by: Actor) -> None:
        self.templates.pop(type_code, None)
