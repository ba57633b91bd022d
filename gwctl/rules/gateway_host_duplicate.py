"""Two gateways of the fleet are declared on the same host.

A host runs one API Gateway ("more than one can be installed, each on their own host",
manual): two entries for one host write the same files, with different settings, on
every apply -- the last one wins and the other is drift forever. Host names compare
ignoring case.

PASS::

    gateways: {gw1: {host: gw1.example.com}, gw2: {host: gw2.example.com}}

FAIL::

    gateways: {gw1: {host: gw1.example.com}, gw2: {host: GW1.example.com}}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules.base import Options
from gwctl.rules.target import FleetScope

ID: Final = "gateway-host-duplicate"
LEVEL: Final = Level.ERROR
OPTIONS: Final[dict[str, Any]] = {}


def check(scope: FleetScope, options: Options) -> Iterator[Problem]:
    first: dict[str, str] = {}
    for gw in scope.fleet.gateways():
        key = gw.host.strip().lower().rstrip(".")
        if key in first:
            message = (f"gateway {gw.id} is on host {gw.host!r}, like {first[key]}: one host "
                       "runs one API Gateway")
            yield from scope.report(ID, LEVEL, message, gw.pointer + "/host", subject=gw.id)
        else:
            first[key] = gw.id
