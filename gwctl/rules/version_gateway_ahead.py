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
from gwctl.rules import _versions
from gwctl.rules.base import FLEET_ONLY, Options
from gwctl.rules.target import FleetScope

ID: Final = "version-gateway-ahead"
LEVEL: Final = Level.ERROR
OPTIONS: Final[dict[str, Any]] = {}
MODES: Final = FLEET_ONLY


def check(scope: FleetScope, options: Options) -> Iterator[Problem]:
    for state in _versions.states(scope):
        ms_v = state.ms_version
        for g in state.present:
            if g.version.release_key <= ms_v.release_key:
                continue
            yield from scope.report(
                ID, LEVEL,
                f"gateway {g.gateway.name} is on {g.describe()}, ahead of its management "
                f"server ({state.ms_describe()}): the management server must be upgraded to "
                f"{g.version.name} first — a gateway is installed from its management "
                f"server's download page, so this one was upgraded ahead of it (or its "
                f"version is declared wrongly)",
                g.version_pointer, subject=g.id,
                extra=_versions.versions_extra(state, g, "management_server"))
