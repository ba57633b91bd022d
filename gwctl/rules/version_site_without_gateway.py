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
from gwctl.rules import _versions
from gwctl.rules.base import FLEET_ONLY, Options
from gwctl.rules.target import FleetScope
from gwctl.versions.boundaries import COLOCATED_MANDATORY_SINCE, MANDATORY_GATEWAY_SINCE

ID: Final = "version-site-without-gateway"
LEVEL: Final = Level.ERROR
OPTIONS: Final[dict[str, Any]] = {}
MODES: Final = FLEET_ONLY


def check(scope: FleetScope, options: Options) -> Iterator[Problem]:
    since = MANDATORY_GATEWAY_SINCE
    for state in _versions.states(scope):
        ms_v = state.ms_version
        if ms_v.release_key < since.release_key or state.present:
            continue
        absent = [g.gateway.name for g in state.gateways if g.installed is False]
        detail = (f" (declared but not installed: {', '.join(absent)})" if absent else "")
        where = (" on the management server host" if ms_v.release_key >=
                 COLOCATED_MANDATORY_SINCE.release_key else "")
        yield from scope.report(
            ID, LEVEL,
            f"site {state.name} has no API Gateway{detail}; its management server runs "
            f"{state.ms_describe()}, and since {since} every site needs at least one: "
            f"install one{where} and declare it in the fleet",
            _versions.site_pointer(state), subject=state.name,
            extra={"management_server_version": ms_v.name, "since": since.name})
