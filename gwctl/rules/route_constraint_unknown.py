"""An inline route constraint that ASP.NET Core cannot resolve: every request answers 500.

``{id:nosuch}``, ``{n:min(a)}`` or ``{x:regex([)}`` parse as a route template -- the
parser only splits name, constraints and default (dotnet/aspnetcore
src/Http/Routing/src/Patterns/RoutePatternParser.cs) -- so the gateway starts. The
constraint is resolved when the endpoint matcher is built
(src/Http/Routing/src/DefaultParameterPolicyFactory.cs,
src/Http/Routing/src/ParameterPolicyActivator.cs), which happens on the first request;
the build throws, and then *every* route of the gateway, stock routes and the WebRTC
signalling included, answers 500 (``gwctl sim`` does the same). Known constraints: int,
bool, datetime, decimal, double, float, guid, long, alpha, required, file, nonfile,
minlength(n), maxlength(n), length(n[,m]), min(n), max(n), range(n,m), regex(expr).

PASS::

    Match: {Path: "/rest/v1/vendor/{id:int}/{name:maxlength(20)}"}

FAIL::

    Match: {Path: "/rest/v1/vendor/{id:integer}"}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules import _yarp_routes
from gwctl.rules.base import Options
from gwctl.rules.target import Target
from gwctl.yarp import constraints

ID: Final = "route-constraint-unknown"
LEVEL: Final = Level.ERROR
EFFECT: Final = f"request:{constraints.UNRESOLVED_STATUS}"
OPTIONS: Final[dict[str, Any]] = {}


def check(target: Target, options: Options) -> Iterator[Problem]:
    if target.view is None:
        return
    for route in _yarp_routes.routes(target):
        for why in route.facts.constraint_errors:
            message = (f"route {route.id!r}: {why}; the gateway starts, but the endpoint "
                       f"matcher fails on the first request and every route answers "
                       f"{constraints.UNRESOLVED_STATUS}")
            yield from target.report(ID, LEVEL, message, (*route.key, "Match", "Path"))
