"""A version could not be discovered; the declared one was checked instead (discovery only).

A gate that cannot read a version must not pass silently: an unreachable host, a gateway
without an inventory host, an unreadable installed-products registry, or a management
server whose version neither ServerConfig.xml nor ``/.well-known/uris`` gave. Lower it
with ``rules: {version-discovery-failed: {level: warning}}`` when some hosts are
knowingly out of reach.

Source: gwctl (PRODUCT.md › Contracts: exit 1 on a failed operation).

PASS: every gateway host answers ``read_versions`` and one source gives the management
server's version.

FAIL::

    # inventory: no host for gateway branch-gw1, or its WinRM port is closed
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules import _versions
from gwctl.rules.base import FLEET_ONLY, Options
from gwctl.rules.target import FleetScope
from gwctl.versions.state import SiteState

ID: Final = "version-discovery-failed"
LEVEL: Final = Level.ERROR
OPTIONS: Final[dict[str, Any]] = {}
MODES: Final = FLEET_ONLY


def check(scope: FleetScope, options: Options) -> Iterator[Problem]:
    for state in _versions.states(scope):
        yield from _site(scope, state)


def _site(scope: FleetScope, state: SiteState) -> Iterator[Problem]:
    if state.found is None:
        return
    for g in state.gateways:
        found = g.found
        if found is None:
            yield from scope.report(
                ID, LEVEL,
                f"gateway {g.gateway.name} was not discovered; its declared version is used",
                g.gateway.pointer, subject=g.id)
        elif found.error and g.discovered is None and found.installed is not False:
            yield from scope.report(
                ID, LEVEL,
                f"could not read the installed version of gateway {g.gateway.name}"
                f"{f' on {found.host}' if found.host else ''}: {found.error}; its declared "
                f"version {g.declared} is used",
                g.gateway.pointer, subject=g.id, extra={"error": found.error})
    if state.ms_reading is None:
        tried = "; ".join(f"{r.describe()}: {r.error}" for r in state.found.readings) or (
            "no co-located gateway host and no gateway URL answered")
        yield from scope.report(
            ID, LEVEL,
            f"could not discover the version of management server {state.ms.host} "
            f"({tried}); its declared version {state.ms.version} is used",
            state.ms.pointer + "/version", subject=state.name)
