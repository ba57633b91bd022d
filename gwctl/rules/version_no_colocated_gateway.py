"""A site on 2024 R2 or later has no API Gateway on the management server host.

"Install an API Gateway on the same host as the management server. This is the default
in both Single computer and Custom installations and is mandatory in Milestone XProtect
VMS 2024 R2 and later." Sites with only remote gateways were valid up to 2024 R1.

A gateway counts as co-located when discovery found the management server's
ServerConfig.xml on its host, when its host equals the management server's (ignoring
case and a trailing dot — even if the fleet says ``colocated: false``), when the fleet
says ``colocated: true``, or when one host is the short name of the other
(``hq-ms`` / ``hq-ms.example.com``). See ``version-colocation`` for contradictions.

Source: vendor manual 2025 R2, Installation › Installing the API Gateway; Upgrade ›
Upgrading the API Gateway and › Upgrade a Custom installation; PRODUCT.md › Versions.

PASS::

    management_server: {host: hq-ms.example.com, version: "2024 R2"}
    gateways:
      hq-gw1: {host: HQ-MS.example.com}     # same host, any case
      hq-gw2: {host: hq-gw2.example.com}

FAIL (only remote gateways on 2024 R2)::

    management_server: {host: hq-ms.example.com, version: "2024 R2"}
    gateways:
      hq-gw2: {host: hq-gw2.example.com}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules import _versions
from gwctl.rules.base import FLEET_ONLY, Options
from gwctl.rules.target import FleetScope
from gwctl.versions.boundaries import COLOCATED_MANDATORY_SINCE

ID: Final = "version-no-colocated-gateway"
LEVEL: Final = Level.ERROR
OPTIONS: Final[dict[str, Any]] = {}
MODES: Final = FLEET_ONLY


def check(scope: FleetScope, options: Options) -> Iterator[Problem]:
    since = COLOCATED_MANDATORY_SINCE
    for state in _versions.states(scope):
        ms_v = state.ms_version
        present = state.present
        if ms_v.release_key < since.release_key or not present:
            continue
        if any(g.colocated for g in present):
            continue
        remote = ", ".join(f"{g.gateway.name} on {g.gateway.host}" for g in present)
        yield from scope.report(
            ID, LEVEL,
            f"site {state.name} has no API Gateway on the management server host "
            f"{state.ms.host} (only remote gateways: {remote}); since {since} a co-located "
            f"gateway is mandatory: select the API Gateway when installing or upgrading the "
            f"management server and declare it (same host as the management server, or "
            f"colocated: true)",
            _versions.site_pointer(state), subject=state.name,
            extra={"management_server_version": ms_v.name, "since": since.name,
                   "remote_gateways": [g.gateway.name for g in present]})
