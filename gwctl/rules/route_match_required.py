"""A route has no ``Match`` with a ``Path`` or ``Hosts``: YARP refuses the configuration.

YARP validates every route when it loads the configuration: "Route 'x' requires Hosts
or Path specified. Set the Path to '/{**catchall}' to match all requests." The gateway
then does not start. A Match with only ``Methods``, ``Headers`` or ``QueryParameters`` is
not enough, and neither is an empty host name.

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
                if not host:
                    yield from target.report(ID, LEVEL, f"route {route.id!r} has an empty host "
                                             "name", (*route.key, "Match", "Hosts", str(i)))
            continue
        key = (*route.key, "Match") if target.in_override((*route.key, "Match")) else route.key
        message = (f"route {route.id!r} needs Match.Path or Match.Hosts (YARP refuses the "
                   "configuration; use Path '/{**catchall}' to match everything)")
        yield from target.report(ID, LEVEL, message, key)
