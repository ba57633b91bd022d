"""A gateway is on a newer release than its management server.

The manual's upgrade order is the management server first, then the gateways right
after; gateways are installed from the management server's download page, so a gateway
ahead of its management server was upgraded before it (a half-finished or out-of-order
upgrade) or its version is declared wrongly. The management server must be upgraded
first. Reported at every release (the ``version-gateway-behind`` rule covers the other
direction from 2023 R3).

Source: vendor manual 2025 R2, Upgrade › Upgrading the API Gateway (management server
first, gateways right after); Installation › Install the API Gateway using the API
Gateway installer; PRODUCT.md › Versions.

PASS::

    management_server: {host: hq-ms, version: "2025 R2"}
    gateways:
      hq-gw2: {host: hq-gw2, version: "2025 R2"}

FAIL (one release ahead after a half-finished upgrade)::

    management_server: {host: hq-ms, version: "2025 R1"}
    gateways:
      hq-gw2: {host: hq-gw2, version: "2025 R2"}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules.base import FLEET_ONLY, Options
from gwctl.rules.target import FleetScope
from gwctl.versions import checks as versioncheck

ID: Final = versioncheck.GATEWAY_AHEAD
LEVEL: Final = Level.ERROR
OPTIONS: Final[dict[str, Any]] = {}
MODES: Final = FLEET_ONLY


def check(scope: FleetScope, options: Options) -> Iterator[Problem]:
    yield from versioncheck.scope_problems(ID, scope)
