"""A gateway is on an older release than its management server (2023 R3 or later).

"Beginning with Milestone XProtect VMS 2023 R3, ... the versions of each API Gateway
instance must match the management server version." The gateway is the side that must
move: a co-located gateway is upgraded with the management server (run the XProtect VMS
Products installer again with the API Gateway selected); a gateway on another host is
upgraded with the API Gateway installer from the management server's download page,
right after the management server. Releases are compared, not builds. Installed versions
are used when discovered, else the declared ones (a gateway without ``version`` has its
management server's).

Source: vendor manual 2025 R2, Upgrade › Upgrading the API Gateway; Installation ›
Installing the API Gateway; PRODUCT.md › Versions.

PASS::

    management_server: {host: hq-ms, version: "2025 R2"}
    gateways:
      hq-gw2: {host: hq-gw2, version: "2025 R2"}

FAIL (the gateway must be upgraded to 2025 R2)::

    management_server: {host: hq-ms, version: "2025 R2"}
    gateways:
      hq-gw2: {host: hq-gw2, version: "2025 R1"}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules.base import FLEET_ONLY, Options
from gwctl.rules.target import FleetScope
from gwctl.versions import checks as versioncheck

ID: Final = versioncheck.GATEWAY_BEHIND
LEVEL: Final = Level.ERROR
OPTIONS: Final[dict[str, Any]] = {}
MODES: Final = FLEET_ONLY


def check(scope: FleetScope, options: Options) -> Iterator[Problem]:
    yield from versioncheck.scope_problems(ID, scope)
