"""Two sites have a gateway of the same name.

Allowed -- gateways are identified as ``site/name`` -- but every command that takes
``--gateway NAME`` then needs the ``site/name`` form, and reports, dashboards and
inventories keyed by name mix the two up. Prefer names unique across the fleet.

PASS::

    sites:
      hq: {management_server: {host: ms1, version: "2025 R2"}, gateways: {hq-gw1: {host: a}}}
      branch: {management_server: {host: ms2, version: "2025 R2"}, gateways: {br-gw1: {host: b}}}

FAIL::

    sites:
      hq: {management_server: {host: ms1, version: "2025 R2"}, gateways: {gw1: {host: a}}}
      branch: {management_server: {host: ms2, version: "2025 R2"}, gateways: {gw1: {host: b}}}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules.base import Options
from gwctl.rules.target import FleetScope

ID: Final = "gateway-name-duplicate"
LEVEL: Final = Level.WARNING
OPTIONS: Final[dict[str, Any]] = {}


def check(scope: FleetScope, options: Options) -> Iterator[Problem]:
    first: dict[str, str] = {}
    for gw in scope.fleet.gateways():
        key = gw.name.lower()
        if key in first:
            message = (f"gateway name {gw.name!r} is also used in site {first[key]!r}: "
                       f"refer to them as {first[key]}/{gw.name} and {gw.id}")
            yield from scope.report(ID, LEVEL, message, gw.pointer, subject=gw.id)
        else:
            first[key] = gw.site_name
