"""A route's ``Match.Path`` is not a valid ASP.NET Core route template.

YARP parses ``Match.Path`` with ASP.NET Core's route-pattern parser when it loads the
configuration (microsoft/reverse-proxy src/ReverseProxy/Configuration/RouteValidators/
PathValidator.cs; dotnet/aspnetcore src/Http/Routing/src/Patterns/RoutePatternParser.cs);
a failure stops the gateway. The syntax: ``/literal/{name}/{name:constraint(arg)}/{name?}``,
``{name=default}``, a catch-all ``{*rest}`` or ``{**rest}`` only as the last segment,
``{{`` and ``}}`` for literal braces, no ``//``, no ``?`` in literals (query strings are
matched with ``QueryParameters``). Constraint *names* are not checked here: they are
resolved on the first request (``route-constraint-unknown``).

PASS::

    Match: {Path: "/rest/v1/{resource:regex(^alarm.*)}/{**remainder}"}

FAIL::

    Match: {Path: "/rest/v1/{**remainder}/status"}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules import _yarp_routes
from gwctl.rules.base import Options
from gwctl.rules.target import Target

ID: Final = "route-template-syntax"
LEVEL: Final = Level.ERROR
EFFECT: Final = "start"
OPTIONS: Final[dict[str, Any]] = {}


def check(target: Target, options: Options) -> Iterator[Problem]:
    if target.view is None:
        return
    for route in _yarp_routes.routes(target):
        f = route.facts
        if f.template_error is not None:
            message = (f"route {route.id!r}: Path {f.path!r} is not a route template: "
                       f"{f.template_error}")
            yield from target.report(ID, LEVEL, message, (*route.key, "Match", "Path"))
