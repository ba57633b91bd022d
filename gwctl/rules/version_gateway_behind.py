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
from gwctl.rules import _versions
from gwctl.rules.base import FLEET_ONLY, Options
from gwctl.rules.target import FleetScope
from gwctl.versions.boundaries import VERSION_MATCH_SINCE

ID: Final = "version-gateway-behind"
LEVEL: Final = Level.ERROR
OPTIONS: Final[dict[str, Any]] = {}
MODES: Final = FLEET_ONLY


def check(scope: FleetScope, options: Options) -> Iterator[Problem]:
    since = VERSION_MATCH_SINCE
    for state in _versions.states(scope):
        ms_v = state.ms_version
        if ms_v.release_key < since.release_key:
            continue
        for g in state.present:
            if g.version.release_key >= ms_v.release_key:
                continue
            if g.colocated:
                how = (f"it is on the management server host and is upgraded with it: run "
                       f"the XProtect VMS Products installer of {ms_v.name} on "
                       f"{state.ms.host} again and keep the API Gateway selected")
            else:
                how = (f"run the API Gateway installer from the management server's download "
                       f"page on {g.gateway.host}, right after the management server upgrade")
            yield from scope.report(
                ID, LEVEL,
                f"gateway {g.gateway.name} is on {g.describe()} but its management server is "
                f"on {state.ms_describe()}; since {since} they must match: upgrade the "
                f"gateway to {ms_v.name} ({how})",
                g.version_pointer, subject=g.id,
                extra=_versions.versions_extra(state, g, "gateway"))
