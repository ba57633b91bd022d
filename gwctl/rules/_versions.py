"""Shared plumbing of the version rules (``version_*.py``): their scope and site states.

The version rules run once on the fleet, like the other fleet rules, but read it through
`gwctl.versions.state`: each site with its management server's and gateways' versions,
declared or (in a `VersionScope`) discovered. The states are built once per scope and
shared by the nine rules.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from gwctl.fleet.model import Fleet
from gwctl.rules.target import FleetScope
from gwctl.versions.state import GatewayState, SiteState, site_states

if TYPE_CHECKING:
    from gwctl.versions.discovery import Discovery


class VersionScope(FleetScope):
    """The fleet, plus what discovery found and the sites to check (rules' scope)."""

    def __init__(self, fleet: Fleet, discovery: Discovery | None = None,
                 sites: Iterable[str] | None = None) -> None:
        super().__init__(fleet)
        self.discovery = discovery
        self.sites = list(sites) if sites is not None else None


_states_cache: weakref.WeakKeyDictionary[FleetScope, list[SiteState]] = (
    weakref.WeakKeyDictionary())
_states_lock = threading.Lock()


def states(scope: FleetScope) -> list[SiteState]:
    """The site states of a rules scope (declared only for a plain `FleetScope`)."""
    with _states_lock:
        cached = _states_cache.get(scope)
        if cached is None:
            if isinstance(scope, VersionScope):
                cached = site_states(scope.fleet, scope.discovery, scope.sites)
            else:
                cached = site_states(scope.fleet)
            _states_cache[scope] = cached
        return cached


def site_pointer(state: SiteState) -> str:
    """Where a finding about the site's gateways as a whole points."""
    return state.site.pointer + "/gateways"


def versions_extra(state: SiteState, g: GatewayState, move: str) -> dict[str, Any]:
    """``extra`` of a finding that compares a gateway's release with its management
    server's (`move`: the side that must be upgraded)."""
    return {"gateway_version": g.version.name, "gateway_source": g.version_source,
            "management_server_version": state.ms_version.name,
            "management_server_source": state.ms_source, "move": move,
            "colocated": g.colocated}
