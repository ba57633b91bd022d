"""A route has no ``Match`` with a ``Path`` or ``Hosts``: YARP refuses the configuration.

YARP validates every route when it loads the configuration: "Route 'x' requires Hosts
or Path specified. Set the Path to '/{**catchall}' to match all requests." The gateway
then does not start. A Match with only ``Methods``, ``Headers`` or ``QueryParameters`` is
not enough. Each host must be a name (not empty) in its unicode spelling: a punycode
``xn--`` name is refused too (microsoft/reverse-proxy src/ReverseProxy/Configuration/
ConfigValidator.cs for Hosts or Path; RouteValidators/HostValidator.cs for the names).

PASS::

    routes:
      vendor: {ClusterId: vendor, Match: {Path: "/vendor/{**remainder}"}}

FAIL::

    routes:
      vendor: {ClusterId: vendor, Match: {Methods: [GET]}}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules import _yarp_routes
from gwctl.rules.base import Options
from gwctl.rules.target import Target
from gwctl.yarp import settings

ID: Final = "route-match-required"
LEVEL: Final = Level.ERROR
EFFECT: Final = "start"
OPTIONS: Final[dict[str, Any]] = {}


def check(target: Target, options: Options) -> Iterator[Problem]:
    if target.view is None:
        return
    for route in _yarp_routes.routes(target):
        f = route.facts
        if f.has_match and (f.path or any(f.hosts)):
            for i, host in enumerate(f.hosts):
                why = settings.host_problem(host)
                if why is not None:
                    yield from target.report(ID, LEVEL, f"route {route.id!r} {why}",
                                             (*route.key, "Match", "Hosts", str(i)))
            continue
        key = (*route.key, "Match") if target.in_override((*route.key, "Match")) else route.key
        message = (f"route {route.id!r} needs Match.Path or Match.Hosts (YARP refuses the "
                   "configuration; use Path '/{**catchall}' to match everything)")
        yield from target.report(ID, LEVEL, message, key)
