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
from gwctl.rules.base import FLEET_ONLY, Options
from gwctl.rules.target import FleetScope
from gwctl.versions import checks as versioncheck

ID: Final = versioncheck.BELOW_MINIMUM
LEVEL: Final = Level.ERROR
OPTIONS: Final[dict[str, Any]] = {}
MODES: Final = FLEET_ONLY


def check(scope: FleetScope, options: Options) -> Iterator[Problem]:
    yield from versioncheck.scope_problems(ID, scope)
