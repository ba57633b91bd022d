"""The versions of a site: its management server and gateways, declared or discovered.

A `SiteState` is a site of the fleet with, optionally, what discovery found on its hosts
(`gwctl.versions.discovery`). Without discovery every version is the declared one (a
gateway without ``version`` has its management server's); with it, an installed version
beats a declared one. The version rules (``gwctl rules version-...``), ``gwctl versions``
and upgrade plans all read sites through it.

**Co-location.** A gateway is co-located with its management server when discovery found
the management server's ServerConfig.xml on its host; else when its host name equals the
management server's ignoring case and a trailing dot (the same machine, whatever
``colocated: false`` says); else when the fleet says so
(``colocated:``); else when one host is a short name equal to the first label of the
other's FQDN (``hq-ms`` and ``hq-ms.example.com``). The fleet model compares host names
exactly, so a co-located gateway spelled differently is counted as remote there:
`version-colocation` reports every such contradiction, and the version rules use the
co-location derived here.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from gwctl.fleet.model import Fleet, Gateway, ManagementServer, Site
from gwctl.versions.release import Version

if TYPE_CHECKING:
    from gwctl.versions.discovery import Discovery, GatewayDiscovery, Reading, SiteDiscovery


def release_label(v: Version) -> str:
    """``2025 R2`` or ``2025 R2 (25.2.1234.5)`` when a build is known."""
    return f"{v.name} ({v.full})" if v.build is not None else v.name


# -- co-location -----------------------------------------------------------------------------


def _norm_host(host: str) -> str:
    return host.strip().rstrip(".").lower()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def same_host(a: str, b: str) -> Literal["exact", "short"] | None:
    """Do two host names name the same machine, without asking DNS?

    ``exact``: equal ignoring case and a trailing dot. ``short``: one is a single label
    equal to the other's first label (``hq-ms`` vs ``hq-ms.example.com``). IP addresses
    only match exactly.
    """
    x, y = _norm_host(a), _norm_host(b)
    if not x or not y:
        return None
    if x == y:
        return "exact"
    if _is_ip(x) or _is_ip(y):
        return None
    if ("." in x) != ("." in y):
        short, long_ = (x, y) if "." not in x else (y, x)
        if long_.split(".", 1)[0] == short:
            return "short"
    return None


def declared_colocated(gw: Gateway) -> bool | None:
    """The gateway's ``colocated:`` as written in the fleet (None when not written)."""
    try:
        raw = gw.source.data["sites"][gw.site_name]["gateways"][gw.name]
    except (KeyError, TypeError):
        return None
    value = raw.get("colocated") if isinstance(raw, dict) else None
    return value if isinstance(value, bool) else None


@dataclass(frozen=True)
class Colocation:
    colocated: bool
    why: str
    #: how the fleet alone decides (the model's ``Gateway.colocated``)
    model: bool
    declared: bool | None
    host_match: Literal["exact", "short"] | None
    #: discovery: True ServerConfig.xml found on the host, False reached but absent
    evidence: bool | None


def colocation(gw: Gateway, ms: ManagementServer,
               found: GatewayDiscovery | None = None) -> Colocation:
    """Is `gw` on the management server's host? Evidence first, then names, then the fleet.

    1. discovery found the management server's ServerConfig.xml on the gateway's host;
    2. the host names are equal (ignoring case and a trailing dot): the same machine,
       whatever ``colocated: false`` says;
    3. the fleet's ``colocated:``;
    4. a short name equal to the first label of the other's FQDN.
    """
    declared = declared_colocated(gw)
    match = same_host(gw.host, ms.host)
    evidence = found.server_config_found if found is not None else None

    def result(value: bool, why: str) -> Colocation:
        return Colocation(value, why, gw.colocated, declared, match, evidence)

    if evidence:
        return result(True, "the management server's ServerConfig.xml is on its host")
    if match == "exact":
        return result(True, "same host as the management server")
    if declared is not None:
        return result(declared, f"declared colocated: {str(declared).lower()}")
    if match == "short":
        return result(True, f"'{gw.host}' and '{ms.host}' name the same host")
    return result(False, "not on the management server's host")


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
    ms = site.management_server
    gateways = []
    for gw in site.gateways:
        g_found = found.gateways.get(gw.id) if found is not None else None
        gateways.append(GatewayState(gw, colocation(gw, ms, g_found), g_found))
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
