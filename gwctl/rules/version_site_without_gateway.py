"""A site whose management server is on 2023 R3 or later has no API Gateway.

Since XProtect VMS 2023 R3 the API Gateway is no longer optional: "at least one API
Gateway must be present in an XProtect VMS site". From 2024 R2 that gateway must also be on
the management server host (see ``version-no-colocated-gateway``). With discovery
(``-i INVENTORY``), a declared gateway that is not installed on its host does not count.
Uses the installed management server version when discovered, else the declared one.

Source: vendor manual 2025 R2, What's new › 2023 R3 ("The API Gateway is no longer
optional"); Installation › Installing the API Gateway; Upgrade › Upgrading the API
Gateway; PRODUCT.md › Versions.

PASS::

    sites:
      hq:
        management_server: {host: hq-ms, version: "2023 R3"}
        gateways:
          hq-gw1: {host: hq-ms}

FAIL (2023 R3 and no gateway)::

    sites:
      hq:
        management_server: {host: hq-ms, version: "2023 R3"}
        gateways: {}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules.base import FLEET_ONLY, Options
from gwctl.rules.target import FleetScope
from gwctl.versions import checks as versioncheck

ID: Final = versioncheck.SITE_WITHOUT_GATEWAY
LEVEL: Final = Level.ERROR
OPTIONS: Final[dict[str, Any]] = {}
MODES: Final = FLEET_ONLY


def check(scope: FleetScope, options: Options) -> Iterator[Problem]:
    yield from versioncheck.scope_problems(ID, scope)
