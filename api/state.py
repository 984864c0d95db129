"""Where routes find the services built by the composition root."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from fastapi import Request

if TYPE_CHECKING:
    from adapters.alarms import Alarms
    from adapters.composition import Services


def services_of(request: Request) -> Services:
    return cast("Services", request.app.state.services)


def alarms_of(request: Request) -> Alarms:
    return cast("Alarms", request.app.state.alarms)
