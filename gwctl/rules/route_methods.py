"""A route's ``Match.Methods`` lists an HTTP method twice or one YARP does not accept.

YARP accepts HEAD, OPTIONS, GET, PUT, POST, PATCH, DELETE and TRACE (ignoring case) and
refuses the whole configuration for anything else, or for a method listed twice
(microsoft/reverse-proxy src/ReverseProxy/Configuration/RouteValidators/
MethodsValidator.cs).

PASS::

    Match: {Path: "/vendor/{**remainder}", Methods: [GET, POST]}

FAIL::

    Match: {Path: "/vendor/{**remainder}", Methods: [GET, FETCH, get]}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules import _yarp_routes
from gwctl.rules.base import Options
from gwctl.rules.target import Target

ID: Final = "route-methods"
LEVEL: Final = Level.ERROR
EFFECT: Final = "start"
OPTIONS: Final[dict[str, Any]] = {}
VALID = ("HEAD", "OPTIONS", "GET", "PUT", "POST", "PATCH", "DELETE", "TRACE")


def check(target: Target, options: Options) -> Iterator[Problem]:
    if target.view is None:
        return
    for route in _yarp_routes.routes(target):
        seen: set[str] = set()
        for i, method in enumerate(route.facts.methods):
            key = (*route.key, "Match", "Methods", str(i))
            if method.upper() in seen:
                message = f"route {route.id!r} lists method {method!r} twice"
            elif method.upper() not in VALID:
                message = (f"route {route.id!r}: {method!r} is not an HTTP method YARP "
                           f"accepts ({', '.join(VALID)})")
            else:
                seen.add(method.upper())
                continue
            yield from target.report(ID, LEVEL, message, key)
