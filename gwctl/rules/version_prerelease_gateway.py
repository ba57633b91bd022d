"""A gateway is the 2021 R2 pre-release of the API Gateway.

"To upgrade from the 2021 R2 pre-release of the API Gateway to later releases, you'll
have to uninstall the 2021 R2 pre-release before upgrading." The pre-release reports the
same product version as the VMS release (21.2), so any gateway on 2021 R2 is it.

Source: vendor manual 2025 R2, Limitations; feature table row ``gateway-prerelease``.

PASS::

    management_server: {host: ms, version: "2022 R1"}
    gateways:
      gw1: {host: ms}

FAIL::

    management_server: {host: ms, version: "2022 R1"}
    gateways:
      gw1: {host: ms, version: "2021 R2"}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules import _versions
from gwctl.rules.base import FLEET_ONLY, Options
from gwctl.rules.target import FleetScope
from gwctl.versions.features import gateway_stage

ID: Final = "version-prerelease-gateway"
LEVEL: Final = Level.ERROR
OPTIONS: Final[dict[str, Any]] = {}
MODES: Final = FLEET_ONLY


def check(scope: FleetScope, options: Options) -> Iterator[Problem]:
    for state in _versions.states(scope):
        for g in state.present:
            if gateway_stage(g.version) != "prerelease":
                continue
            yield from scope.report(
                ID, LEVEL,
                f"gateway {g.gateway.name} is on {g.describe()}, the pre-release of the API "
                f"Gateway: uninstall it before installing a later release (upgrading over "
                f"the 2021 R2 pre-release is not supported)",
                g.version_pointer, subject=g.id, extra={"gateway_version": g.version.name})
