"""Whether a gateway is on the management server host is stated inconsistently.

A co-located gateway is upgraded together with the management server, and from 2024 R2
one is mandatory, so counting a co-located gateway as remote (or the reverse) gives wrong
upgrade plans and wrong ``version-no-colocated-gateway`` findings. gwctl counts a gateway
as co-located when its host equals the management server's (ignoring case and a trailing
dot), else as ``colocated:`` says, else when one host is the short name of the other
(``hq-ms`` / ``hq-ms.example.com``); discovery's evidence (the management server's
ServerConfig.xml on the gateway's host) beats all of that. Reported when: the fleet says
``colocated: false`` for a gateway on the management server's host; discovery found
ServerConfig.xml on the host of a gateway declared ``colocated: false``, or whose host is
spelled unlike the management server's; or a gateway counted as co-located has no
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
from gwctl.rules import _versions
from gwctl.rules.base import FLEET_ONLY, Options
from gwctl.rules.target import FleetScope
from gwctl.versions.state import GatewayState

ID: Final = "version-colocation"
LEVEL: Final = Level.WARNING
OPTIONS: Final[dict[str, Any]] = {}
MODES: Final = FLEET_ONLY


def check(scope: FleetScope, options: Options) -> Iterator[Problem]:
    for state in _versions.states(scope):
        for g in state.gateways:
            message = _contradiction(g, state.ms.host, state.ms.server_config)
            if message is None:
                continue
            c = g.colocation
            yield from scope.report(
                ID, LEVEL, message,
                g.gateway.pointer + ("/colocated" if c.declared is not None else "/host"),
                subject=g.id,
                extra={"colocated": c.colocated, "declared": c.declared,
                       "host_match": c.host_match, "server_config_found": c.evidence})


def _contradiction(g: GatewayState, ms_host: str, server_config: str) -> str | None:
    c = g.colocation
    gw = g.gateway
    if c.evidence and c.declared is False:
        return (f"gateway {gw.name} is declared colocated: false, but the management "
                f"server's ServerConfig.xml is on its host {gw.host}: it is co-located "
                f"(upgraded with the management server); remove colocated: false")
    if c.evidence and c.declared is None and c.host_match is None:
        return (f"gateway {gw.name} runs on the management server host (its "
                f"ServerConfig.xml is there), but its host '{gw.host}' is spelled unlike "
                f"the management server's '{ms_host}': write the same host name or set "
                f"colocated: true")
    if c.declared is False and c.host_match is not None:
        return (f"gateway {gw.name} is on the management server's host ('{gw.host}') but "
                f"declared colocated: false: a gateway on the management server host is "
                f"co-located (upgraded with the management server)")
    if c.colocated and c.evidence is False:
        return (f"gateway {gw.name} is counted as co-located ({c.why}), but its host has "
                f"no {server_config}: check the host names, or the management "
                f"server's server_config path")
    return None
