"""405 with the true ``Allow``: the methods of every route of the path, not of the first one
the router tried; and a literal path (``/v1/patients/_search``) is not taken for a parameter
(``/v1/patients/{patient_id}``) by a method it does not take."""

from __future__ import annotations

import re
from collections.abc import Sequence

from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute, compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from api import problems

#: a path's pattern, its number of parameters, its methods
_Table = list[tuple[re.Pattern[str], int, frozenset[str]]]


def route_table(routes: Sequence[BaseRoute]) -> _Table:
    table: _Table = []
    for route in iter_route_contexts(routes):
        if route.path and route.methods:
            pattern, _, convertors = compile_path(route.path)
            table.append((pattern, len(convertors), frozenset(route.methods)))
    return table


def allowed_methods(table: _Table, path: str) -> set[str] | None:
    """The methods of the most specific routes of ``path`` (fewest parameters), or None when
    no route has that path."""
    matching = [(params, methods) for pattern, params, methods in table if pattern.match(path)]
    if not matching:
        return None
    fewest = min(params for params, _ in matching)
    return {m for params, methods in matching if params == fewest for m in methods}


class MethodCheck:
    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app, self.routes = app, routes
        self._table: _Table | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if self._table is None:  # the routes are all there by the first request
                self._table = route_table(self.routes)
            path = scope["path"].removeprefix(scope.get("root_path", ""))
            allowed = allowed_methods(self._table, path)
            if allowed is not None and scope["method"] not in allowed:
                response = problems.problem_response(
                    405,
                    "method-not-allowed",
                    "This resource does not take that method",
                    headers={"Allow": ", ".join(sorted(allowed))},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
