"""A management server older than 2022 R1 has gateways, or a gateway predates any release.

"Installation of the XProtect API Gateway requires XProtect VMS 2022 R1 or later." A
gateway version before 2021 R2 (the pre-release) names no API Gateway at all.

Source: vendor manual 2025 R2, Requirements and considerations › Requirements; feature
table rows ``gateway-requires-vms`` and ``gateway-prerelease``.

PASS::

    management_server: {host: ms, version: "2022 R1"}
    gateways:
      gw1: {host: ms}

FAIL::

    management_server: {host: ms, version: "2021 R1"}
    gateways:
      gw1: {host: ms}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules import _versions
from gwctl.rules.base import FLEET_ONLY, Options
from gwctl.rules.target import FleetScope
from gwctl.versions.boundaries import GATEWAY_MIN
from gwctl.versions.features import gateway_stage

ID: Final = "version-below-minimum"
LEVEL: Final = Level.ERROR
OPTIONS: Final[dict[str, Any]] = {}
MODES: Final = FLEET_ONLY


def check(scope: FleetScope, options: Options) -> Iterator[Problem]:
    minimum = GATEWAY_MIN
    for state in _versions.states(scope):
        ms_v = state.ms_version
        present = state.present
        if present and ms_v.release_key < minimum.release_key:
            yield from scope.report(
                ID, LEVEL,
                f"the management server of site {state.name} is on {state.ms_describe()}: "
                f"the API Gateway requires XProtect VMS {minimum} or later; upgrade the "
                f"management server",
                state.ms.pointer + "/version", subject=state.name,
                extra={"management_server_version": ms_v.name, "minimum": minimum.name})
        for g in present:
            if not (g.explicit or g.discovered is not None):
                continue  # the management server's version: reported above
            if gateway_stage(g.version) == "none":
                yield from scope.report(
                    ID, LEVEL,
                    f"gateway {g.gateway.name} is on {g.describe()}: no API Gateway release "
                    f"exists before 2021 R2 (pre-release) and {minimum} (first release); "
                    f"the API Gateway requires XProtect VMS {minimum} or later",
                    g.version_pointer, subject=g.id,
                    extra={"gateway_version": g.version.name, "minimum": minimum.name})
