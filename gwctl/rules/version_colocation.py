"""Whether a gateway is on the management server host is stated inconsistently.

A co-located gateway is upgraded together with the management server, and from 2024 R2
one is mandatory, so counting a co-located gateway as remote (or the reverse) gives wrong
upgrade plans and wrong ``version-no-colocated-gateway`` findings. Reported when:
discovery found the management server's ServerConfig.xml on a gateway's host that the
fleet counts as remote; the gateway's host equals the management server's but the fleet
says ``colocated: false``; the hosts differ only as short name and FQDN (gwctl's rules count
that as co-located, the fleet model does not); or a gateway counted as co-located has no
ServerConfig.xml on its host.

Source: vendor manual 2025 R2, Upgrade › Upgrading the API Gateway ("An API Gateway that
has been installed on the same host as the management server will be upgraded when the
management server is upgraded").

PASS::

    management_server: {host: hq-ms.example.com, version: "2025 R2"}
    gateways:
      hq-gw1: {host: hq-ms.example.com}

FAIL (the same host, counted as remote)::

    management_server: {host: hq-ms.example.com, version: "2025 R2"}
    gateways:
      hq-gw1: {host: HQ-MS.example.com, colocated: false}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules.base import FLEET_ONLY, Options
from gwctl.rules.target import FleetScope
from gwctl.versions import checks as versioncheck

ID: Final = versioncheck.COLOCATION
LEVEL: Final = Level.WARNING
OPTIONS: Final[dict[str, Any]] = {}
MODES: Final = FLEET_ONLY


def check(scope: FleetScope, options: Options) -> Iterator[Problem]:
    yield from versioncheck.scope_problems(ID, scope)
