"""The versions of a site: its management server and gateways, declared or discovered.

A `SiteState` is a site of the fleet with, optionally, what discovery found on its hosts
(`gwctl.versions.discovery`). Without discovery every version is the declared one (a
gateway without ``version`` has its management server's); with it, an installed version
beats a declared one. The version rules (``gwctl rules version-...``), ``gwctl versions``
and upgrade plans all read sites through it.

A gateway is co-located as the fleet says (`gwctl.fleet.colocation`, the model's
``Gateway.colocated``) unless discovery found the management server's ServerConfig.xml on
its host, which makes it co-located whatever the fleet says.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gwctl.fleet.colocation import Colocation
from gwctl.fleet.model import Fleet, Gateway, ManagementServer, Site
from gwctl.versions.release import Version

if TYPE_CHECKING:
    from gwctl.versions.discovery import Discovery, GatewayDiscovery, Reading, SiteDiscovery


def release_label(v: Version) -> str:
    """``2025 R2`` or ``2025 R2 (25.2.1234.5)`` when a build is known."""
    return f"{v.name} ({v.full})" if v.build is not None else v.name


# -- states ----------------------------------------------------------------------------------


@dataclass
class GatewayState:
    gateway: Gateway
    colocation: Colocation
    found: GatewayDiscovery | None = None

    @property
    def id(self) -> str:
        return self.gateway.id

    @property
    def colocated(self) -> bool:
        return self.colocation.colocated

    @property
    def declared(self) -> Version:
        return self.gateway.version

    @property
    def explicit(self) -> bool:
        """The fleet writes this gateway's version (else it is the management server's)."""
        return self.gateway.version_declared

    @property
    def discovered(self) -> Version | None:
        return self.found.version if self.found is not None else None

    @property
    def installed(self) -> bool | None:
        return self.found.installed if self.found is not None else None

    @property
    def version(self) -> Version:
        """Installed version when discovered, else the declared one."""
        return self.discovered or self.declared

    @property
    def version_source(self) -> str:
        if self.discovered is not None:
            return "installed"
        return "declared" if self.explicit else "the management server's (not declared)"

    @property
    def version_pointer(self) -> str:
        return self.gateway.pointer + ("/version" if self.explicit else "")

    def describe(self) -> str:
        """``2025 R1 (25.1.1.1, installed)``."""
        v = self.version
        detail = [v.full] if v.build is not None else []
        detail.append(self.version_source)
        return f"{v.name} ({', '.join(detail)})"


@dataclass
class SiteState:
    site: Site
    gateways: list[GatewayState]
    found: SiteDiscovery | None = None

    @property
    def name(self) -> str:
        return self.site.name

    @property
    def ms(self) -> ManagementServer:
        return self.site.management_server

    @property
    def ms_reading(self) -> Reading | None:
        return self.found.management_server if self.found is not None else None

    @property
    def ms_discovered(self) -> Version | None:
        r = self.ms_reading
        return r.version if r is not None else None

    @property
    def ms_version(self) -> Version:
        return self.ms_discovered or self.ms.version

    @property
    def ms_source(self) -> str:
        r = self.ms_reading
        return f"installed, {r.source}" if r is not None else "declared"

    def ms_describe(self) -> str:
        v = self.ms_version
        detail = [v.full] if v.build is not None else []
        detail.append(self.ms_source)
        return f"{v.name} ({', '.join(detail)})"

    @property
    def present(self) -> list[GatewayState]:
        """Gateways not known to be absent (discovery found no installation)."""
        return [g for g in self.gateways if g.installed is not False]


def site_state(site: Site, found: SiteDiscovery | None = None) -> SiteState:
    gateways = []
    for gw in site.gateways:
        g_found = found.gateways.get(gw.id) if found is not None else None
        evidence = g_found.server_config_found if g_found is not None else None
        gateways.append(GatewayState(gw, gw.colocation.with_evidence(evidence), g_found))
    return SiteState(site, gateways, found)


def site_states(fleet: Fleet, discovery: Discovery | None = None,
                sites: Iterable[str] | None = None) -> list[SiteState]:
    """Every site (or the named ones), with discovery when given."""
    wanted = set(sites) if sites is not None else None
    out = []
    for site in fleet.sites:
        if wanted is not None and site.name not in wanted:
            continue
        found = discovery.sites.get(site.name) if discovery is not None else None
        if discovery is not None and found is None:
            continue
        out.append(site_state(site, found))
    return out
