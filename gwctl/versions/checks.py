"""Site- and fleet-level version rules, the configuration's feature needs, and the apply gate.

The rules (one module each under ``gwctl/rules/version_*.py``, documented there with PASS
and FAIL examples) all run on a `SiteState`: a site of the fleet with, optionally, what
discovery found on its hosts (`gwctl.versions.discovery`). Without discovery every version is the
declared one (``gwctl validate``, ``gwctl check-versions`` without ``-i``); with it, an
installed version beats a declared one, and two more rules compare them.

Sources (PRODUCT.md › Versions restates the manual; "manual" = the vendor's API Gateway
administrator manual 2025 R2 in shared/reference):

=====================================  =========  ==========================================
rule                                   since      source
=====================================  =========  ==========================================
``version-site-without-gateway``       2023 R3    manual › What's new › 2023 R3; Upgrade ›
                                                  Upgrading the API Gateway
``version-no-colocated-gateway``       2024 R2    manual › Installation › Installing the API
                                                  Gateway; Upgrade › Upgrading the API Gateway
``version-gateway-behind``             2023 R3    manual › Upgrade › Upgrading the API Gateway
``version-gateway-ahead``              always     manual › Upgrade (management server first,
                                                  gateways right after) and Installation
                                                  (gateways come from the management
                                                  server's download page)
``version-prerelease-gateway``         2021 R2    manual › Limitations
``version-below-minimum``              2022 R1    manual › Requirements
``version-declared-vs-discovered``     —          PRODUCT.md › Versions (declared versions
                                                  decide rendering and rules)
``version-colocation``                 —          manual › Upgrade (a co-located gateway is
                                                  upgraded with the management server)
``version-discovery-failed``           —          gwctl (an unread version cannot be checked)
=====================================  =========  ==========================================

**Co-location.** A gateway is co-located with its management server when discovery found
the management server's ServerConfig.xml on its host; else when its host name equals the
management server's ignoring case and a trailing dot (the same machine, whatever
``colocated: false`` says); else when the fleet says so
(``colocated:``); else when one host is a short name equal to the first label of the
other's FQDN (``hq-ms`` and ``hq-ms.example.com``). The fleet model compares host names
exactly, so a co-located gateway spelled differently is counted as remote there:
`version-colocation` reports every such contradiction, and these rules use the
co-location derived here.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from gwctl.fleet.model import Fleet, Gateway, ManagementServer, Site
from gwctl.netjson.config import fold
from gwctl.problems import Level, Problem, pointer
from gwctl.rules.target import FleetScope
from gwctl.versions.boundaries import (
    COLOCATED_MANDATORY_SINCE,
    GATEWAY_MIN,
    MANDATORY_GATEWAY_SINCE,
    VERSION_MATCH_SINCE,
)
from gwctl.versions.features import feature, gateway_stage, supports
from gwctl.versions.release import Version

if TYPE_CHECKING:
    from gwctl.deploy.gateway_plan import GatewayPlan
    from gwctl.hosts.targets import Target, TransportFactory
    from gwctl.versions.discovery import (
        Discovery,
        GatewayDiscovery,
        HttpSettings,
        Reading,
        SiteDiscovery,
    )

log = logging.getLogger("gwctl.versions.release")

# -- rule ids ------------------------------------------------------------------------------

SITE_WITHOUT_GATEWAY = "version-site-without-gateway"
NO_COLOCATED_GATEWAY = "version-no-colocated-gateway"
GATEWAY_BEHIND = "version-gateway-behind"
GATEWAY_AHEAD = "version-gateway-ahead"
PRERELEASE_GATEWAY = "version-prerelease-gateway"
BELOW_MINIMUM = "version-below-minimum"
DECLARED_VS_DISCOVERED = "version-declared-vs-discovered"
COLOCATION = "version-colocation"
DISCOVERY_FAILED = "version-discovery-failed"



def _release(v: Version) -> str:
    """``2025 R2`` or ``2025 R2 (25.2.1234.5)`` when a build is known."""
    return f"{v.name} ({v.full})" if v.build is not None else v.name


# -- hosts ---------------------------------------------------------------------------------


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


# -- states --------------------------------------------------------------------------------


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
    def discovered_mode(self) -> bool:
        return self.found is not None

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


# -- findings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    message: str
    pointer: str
    subject: str
    extra: dict[str, Any] = field(default_factory=dict)


Check = Callable[[SiteState], Iterator[Finding]]


def _site_pointer(state: SiteState) -> str:
    return state.site.pointer + "/gateways"


def check_site_without_gateway(state: SiteState) -> Iterator[Finding]:
    since = MANDATORY_GATEWAY_SINCE
    ms_v = state.ms_version
    if ms_v.release_key < since.release_key or state.present:
        return
    absent = [g.gateway.name for g in state.gateways if g.installed is False]
    detail = (f" (declared but not installed: {', '.join(absent)})" if absent else "")
    where = (" on the management server host" if ms_v.release_key >=
             COLOCATED_MANDATORY_SINCE.release_key else "")
    yield Finding(
        f"site {state.name} has no API Gateway{detail}; its management server runs "
        f"{state.ms_describe()}, and since {since} every site needs at least one: install "
        f"one{where} and declare it in the fleet",
        _site_pointer(state), state.name,
        {"management_server_version": ms_v.name, "since": since.name})


def check_no_colocated_gateway(state: SiteState) -> Iterator[Finding]:
    since = COLOCATED_MANDATORY_SINCE
    ms_v = state.ms_version
    present = state.present
    if ms_v.release_key < since.release_key or not present:
        return
    if any(g.colocated for g in present):
        return
    remote = ", ".join(f"{g.gateway.name} on {g.gateway.host}" for g in present)
    yield Finding(
        f"site {state.name} has no API Gateway on the management server host "
        f"{state.ms.host} (only remote gateways: {remote}); since {since} a co-located "
        f"gateway is mandatory: select the API Gateway when installing or upgrading the "
        f"management server and declare it (same host as the management server, or "
        f"colocated: true)",
        _site_pointer(state), state.name,
        {"management_server_version": ms_v.name, "since": since.name,
         "remote_gateways": [g.gateway.name for g in present]})


def _versions_extra(state: SiteState, g: GatewayState, move: str) -> dict[str, Any]:
    return {"gateway_version": g.version.name, "gateway_source": g.version_source,
            "management_server_version": state.ms_version.name,
            "management_server_source": state.ms_source, "move": move,
            "colocated": g.colocated}


def check_gateway_behind(state: SiteState) -> Iterator[Finding]:
    since = VERSION_MATCH_SINCE
    ms_v = state.ms_version
    if ms_v.release_key < since.release_key:
        return
    for g in state.present:
        if g.version.release_key >= ms_v.release_key:
            continue
        if g.colocated:
            how = (f"it is on the management server host and is upgraded with it: run the "
                   f"XProtect VMS Products installer of {ms_v.name} on {state.ms.host} again "
                   f"and keep the API Gateway selected")
        else:
            how = (f"run the API Gateway installer from the management server's download "
                   f"page on {g.gateway.host}, right after the management server upgrade")
        yield Finding(
            f"gateway {g.gateway.name} is on {g.describe()} but its management server is on "
            f"{state.ms_describe()}; since {since} they must match: upgrade the gateway to "
            f"{ms_v.name} ({how})",
            g.version_pointer, g.id, _versions_extra(state, g, "gateway"))


def check_gateway_ahead(state: SiteState) -> Iterator[Finding]:
    ms_v = state.ms_version
    for g in state.present:
        if g.version.release_key <= ms_v.release_key:
            continue
        yield Finding(
            f"gateway {g.gateway.name} is on {g.describe()}, ahead of its management server "
            f"({state.ms_describe()}): the management server must be upgraded to "
            f"{g.version.name} first — a gateway is installed from its management server's "
            f"download page, so this one was upgraded ahead of it (or its version is "
            f"declared wrongly)",
            g.version_pointer, g.id, _versions_extra(state, g, "management_server"))


def check_prerelease_gateway(state: SiteState) -> Iterator[Finding]:
    for g in state.present:
        if gateway_stage(g.version) != "prerelease":
            continue
        yield Finding(
            f"gateway {g.gateway.name} is on {g.describe()}, the pre-release of the API "
            f"Gateway: uninstall it before installing a later release (upgrading over the "
            f"2021 R2 pre-release is not supported)",
            g.version_pointer, g.id, {"gateway_version": g.version.name})


def check_below_minimum(state: SiteState) -> Iterator[Finding]:
    minimum = GATEWAY_MIN
    ms_v = state.ms_version
    present = state.present
    if present and ms_v.release_key < minimum.release_key:
        yield Finding(
            f"the management server of site {state.name} is on {state.ms_describe()}: the "
            f"API Gateway requires XProtect VMS {minimum} or later; upgrade the management "
            f"server",
            state.ms.pointer + "/version", state.name,
            {"management_server_version": ms_v.name, "minimum": minimum.name})
    for g in present:
        if not (g.explicit or g.discovered is not None):
            continue  # the management server's version: reported above
        if gateway_stage(g.version) == "none":
            yield Finding(
                f"gateway {g.gateway.name} is on {g.describe()}: no API Gateway release "
                f"exists before 2021 R2 (pre-release) and {minimum} (first release); the "
                f"API Gateway requires XProtect VMS {minimum} or later",
                g.version_pointer, g.id,
                {"gateway_version": g.version.name, "minimum": minimum.name})


def versions_match(declared: Version, found: Version) -> bool:
    """Same release, and the same build/revision where the declaration gives them."""
    if not declared.same_release(found):
        return False
    if declared.build is not None and declared.build != found.build:
        return False
    return declared.revision is None or declared.revision == found.revision


def check_declared_vs_discovered(state: SiteState) -> Iterator[Finding]:
    if state.found is None:
        return
    reading = state.ms_reading
    if reading is not None and reading.version is not None and not versions_match(
            state.ms.version, reading.version):
        yield Finding(
            f"the fleet declares management server {state.ms.host} on {state.ms.version} but "
            f"it runs {_release(reading.version)} (from {reading.describe()}): update "
            f"sites.{state.name}.management_server.version",
            state.ms.pointer + "/version", state.name,
            {"declared": state.ms.version.name, "discovered": reading.version.name,
             "source": reading.source})
    for other in state.found.disagreements():
        assert other.version is not None and reading is not None
        yield Finding(
            f"the management server's version sources disagree: {reading.describe()} says "
            f"{_release(reading.version) if reading.version else '?'}, "
            f"{other.describe()} says {_release(other.version)}",
            state.ms.pointer + "/version", state.name,
            {"sources": [r.to_json() for r in state.found.readings]})
    for g in state.gateways:
        found = g.found
        if found is None:
            continue
        if found.installed is False:
            yield Finding(
                f"the fleet declares gateway {g.gateway.name} on host {found.host}, but no "
                f"API Gateway is installed there (no 'Milestone XProtect API Gateway' among "
                f"the installed products)",
                g.gateway.pointer, g.id, {"declared": g.declared.name, "discovered": None})
            continue
        if g.discovered is None or not g.explicit:
            continue
        if not versions_match(g.declared, g.discovered):
            yield Finding(
                f"the fleet declares gateway {g.gateway.name} on {g.declared} but "
                f"{found.host} has {_release(g.discovered)} installed: update the fleet "
                f"(rendering and rules follow the declared version)",
                g.version_pointer, g.id,
                {"declared": g.declared.name, "discovered": g.discovered.name,
                 "source": "registry"})


def check_colocation(state: SiteState) -> Iterator[Finding]:
    ms = state.ms
    for g in state.gateways:
        c = g.colocation
        gw = g.gateway
        if c.evidence and c.declared is False:
            msg = (f"gateway {gw.name} is declared colocated: false, but the management "
                   f"server's ServerConfig.xml is on its host {gw.host}: it is co-located "
                   f"(upgraded with the management server); remove colocated: false")
        elif c.evidence and c.declared is None and c.host_match is None:
            msg = (f"gateway {gw.name} runs on the management server host (its "
                   f"ServerConfig.xml is there), but its host '{gw.host}' is spelled unlike "
                   f"the management server's '{ms.host}': write the same host name or set "
                   f"colocated: true")
        elif c.declared is False and c.host_match is not None:
            msg = (f"gateway {gw.name} is on the management server's host ('{gw.host}') but "
                   f"declared colocated: false: a gateway on the management server host is "
                   f"co-located (upgraded with the management server)")
        elif c.declared is None and c.host_match == "short" and not c.evidence:
            msg = (f"gateway {gw.name}'s host '{gw.host}' and the management server's "
                   f"'{ms.host}' name the same host: gwctl counts the gateway as co-located; "
                   f"spell both the same or set colocated: true")
        elif c.colocated and c.evidence is False:
            msg = (f"gateway {gw.name} is counted as co-located ({c.why}), but its host has "
                   f"no {ms.server_config}: check the host names, or the management "
                   f"server's server_config path")
        else:
            continue
        yield Finding(msg, gw.pointer + ("/colocated" if c.declared is not None else "/host"),
                      g.id, {"colocated": c.colocated, "declared": c.declared,
                             "host_match": c.host_match, "server_config_found": c.evidence})


def check_discovery_failed(state: SiteState) -> Iterator[Finding]:
    if state.found is None:
        return
    for g in state.gateways:
        found = g.found
        if found is None:
            yield Finding(f"gateway {g.gateway.name} was not discovered; its declared "
                          f"version is used", g.gateway.pointer, g.id)
        elif found.error and g.discovered is None and found.installed is not False:
            yield Finding(
                f"could not read the installed version of gateway {g.gateway.name}"
                f"{f' on {found.host}' if found.host else ''}: {found.error}; its declared "
                f"version {g.declared} is used",
                g.gateway.pointer, g.id, {"error": found.error})
    if state.ms_reading is None:
        tried = "; ".join(f"{r.describe()}: {r.error}" for r in state.found.readings) or (
            "no co-located gateway host and no gateway URL answered")
        yield Finding(
            f"could not discover the version of management server {state.ms.host} ({tried});"
            f" its declared version {state.ms.version} is used",
            state.ms.pointer + "/version", state.name)


@dataclass(frozen=True)
class RuleSpec:
    id: str
    level: Level
    check: Check
    #: only meaningful with discovery (``-i INVENTORY``)
    discovery_only: bool = False


RULES: Mapping[str, RuleSpec] = {r.id: r for r in (
    RuleSpec(SITE_WITHOUT_GATEWAY, Level.ERROR, check_site_without_gateway),
    RuleSpec(NO_COLOCATED_GATEWAY, Level.ERROR, check_no_colocated_gateway),
    RuleSpec(GATEWAY_BEHIND, Level.ERROR, check_gateway_behind),
    RuleSpec(GATEWAY_AHEAD, Level.ERROR, check_gateway_ahead),
    RuleSpec(PRERELEASE_GATEWAY, Level.ERROR, check_prerelease_gateway),
    RuleSpec(BELOW_MINIMUM, Level.ERROR, check_below_minimum),
    RuleSpec(DECLARED_VS_DISCOVERED, Level.ERROR, check_declared_vs_discovered, True),
    RuleSpec(COLOCATION, Level.WARNING, check_colocation),
    RuleSpec(DISCOVERY_FAILED, Level.ERROR, check_discovery_failed, True),
)}


def run_rule(rule_id: str, fleet: Fleet, states: Sequence[SiteState],
             level: Level | None = None) -> list[Problem]:
    """Problems of one rule over the given sites, located in the fleet file."""
    spec = RULES[rule_id]
    out = []
    for state in states:
        for f in spec.check(state):
            out.append(Problem(rule_id, level or spec.level, f.message, path=f.pointer,
                               subject=f.subject, extra=f.extra)
                       .at(fleet.source.locate(f.pointer)))
    return out


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


def scope_states(scope: FleetScope) -> list[SiteState]:
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


def scope_problems(rule_id: str, scope: FleetScope) -> Iterator[Problem]:
    """What the rule modules' ``check`` yields (at the rule's default level)."""
    yield from run_rule(rule_id, scope.fleet, scope_states(scope))


def version_rule_problems(scope: VersionScope) -> list[Problem]:
    """Every version rule over `scope` through the rule runner (`gwctl.rules.runner`), so the
    fleet's ``rules:`` settings and inline ``# gwctl: disable=ID -- reason`` directives
    apply as in ``gwctl validate`` (disabled and suppressed problems are kept, marked)."""
    from gwctl.rules.runner import validate_fleet

    return validate_fleet(scope.fleet, only=set(RULES), scope=scope)


def check_versions(fleet: Fleet, discovery: Discovery | None = None, *,
                   sites: Iterable[str] | None = None,
                   levels: Mapping[str, Level] | None = None,
                   disabled: Iterable[str] = ()) -> list[Problem]:
    """Every version rule over the fleet (declared only when `discovery` is None)."""
    states = site_states(fleet, discovery, sites)
    off = set(disabled)
    problems: list[Problem] = []
    for rule_id in RULES:
        if rule_id in off:
            continue
        problems.extend(run_rule(rule_id, fleet, states, (levels or {}).get(rule_id)))
    return problems


# -- what a configuration needs ------------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    """Something a gateway's configuration uses, and the features that provide it."""

    what: str
    any_of: tuple[str, ...]
    #: pointer into the gateway's merged settings
    pointer: str
    #: written through the raw ``appsettings`` escape hatch: gwctl cannot re-render it
    raw: bool = False

    def met_by(self, version: Version) -> bool:
        return any(supports(f, version) for f in self.any_of)

    @property
    def since(self) -> Version:
        return min(feature(f).since for f in self.any_of)

    def available(self) -> str:
        """``since 2022 R3`` / ``2023 R1 to 2023 R2`` — for messages."""
        spans = []
        for f in (feature(i) for i in self.any_of):
            if f.until is None:
                spans.append(f"since {f.since}")
            else:
                spans.append(f"{f.since} to {f.until.previous_release()}")
        return " or ".join(spans)


def _spelled(section: Any, name: str) -> str | None:
    if not isinstance(section, dict):
        return None
    return next((k for k in section if fold(k) == fold(name)), None)


def settings_requirements(gw: Gateway) -> list[Requirement]:
    """What the gateway's declared settings need, whatever shape they are rendered in."""
    s = gw.settings
    out: list[Requirement] = []
    if "cors" in s:
        out.append(Requirement("the CORS section", ("cors",), "/cors"))
    ice = (s.get("webrtc") or {}).get("ice_servers")
    if ice:
        out.append(Requirement("ICE servers in appsettings (WebRTC)",
                               ("webrtc-stun-single", "webrtc-ice-servers"),
                               "/webrtc/ice_servers"))
        if len(ice) > 1:
            out.append(Requirement(f"{len(ice)} ICE servers", ("webrtc-ice-servers",),
                                   "/webrtc/ice_servers/1"))
        for i, server in enumerate(ice):
            url = str(server.get("url", "")).lower()
            if url.startswith(("turn:", "turns:")):
                out.append(Requirement("a TURN server", ("turn-servers",),
                                       pointer("webrtc", "ice_servers", i, "url")))
                break
    raw = s.get("appsettings") or {}
    cors = _spelled(raw, "CORS")
    if cors is not None:
        out.append(Requirement("the CORS section (raw appsettings)", ("cors",),
                               pointer("appsettings", cors), raw=True))
    webrtc = _spelled(raw, "WebRTC")
    if webrtc is not None:
        section = raw[webrtc]
        stun = _spelled(section, "STUN")
        if stun is not None:
            out.append(Requirement("WebRTC:STUN, the single-STUN shape (raw appsettings)",
                                   ("webrtc-stun-single",),
                                   pointer("appsettings", webrtc, stun), raw=True))
        servers = _spelled(section, "iceServers")
        if servers is not None:
            out.append(Requirement("WebRTC:iceServers (raw appsettings)",
                                   ("webrtc-ice-servers",),
                                   pointer("appsettings", webrtc, servers), raw=True))
    return out


def rendered_requirements(gw: Gateway, rendered: Mapping[str, Any]) -> list[Requirement]:
    """The shapes a rendered ``appsettings.Production.json`` is written in."""
    out: list[Requirement] = []
    webrtc_key = _spelled(dict(rendered), "WebRTC")
    if webrtc_key is None:
        return out
    section = rendered[webrtc_key]
    modelled = bool((gw.settings.get("webrtc") or {}).get("ice_servers") is not None)
    ptr = "/webrtc/ice_servers" if modelled else pointer("appsettings", webrtc_key)
    if _spelled(section, "STUN") is not None:
        out.append(Requirement("WebRTC:STUN:Hostname:Address, the single-STUN shape",
                               ("webrtc-stun-single",), ptr, raw=not modelled))
    if _spelled(section, "iceServers") is not None:
        out.append(Requirement("WebRTC:iceServers", ("webrtc-ice-servers",), ptr,
                               raw=not modelled))
    return out


def requirements(gw: Gateway, rendered: Mapping[str, Any] | None = None
                 ) -> list[Requirement]:
    """Settings needs plus the shapes of `rendered` (default: rendered for ``gw.version``)."""
    if rendered is None:
        from gwctl.render.appsettings import render_appsettings

        rendered = render_appsettings(gw)
    out = settings_requirements(gw)
    seen = {r.any_of for r in out}
    for r in rendered_requirements(gw, rendered):
        if r.any_of not in seen:
            seen.add(r.any_of)
            out.append(r)
    return out


def missing(reqs: Iterable[Requirement], version: Version) -> list[Requirement]:
    return [r for r in reqs if not r.met_by(version)]


# -- the apply gate ------------------------------------------------------------------------


@dataclass
class GateDecision:
    """Whether ``gwctl apply`` may push to one gateway, and why not."""

    gateway: str
    gateway_version: str
    gateway_source: str
    management_server_version: str
    management_server_source: str
    reasons: list[str] = field(default_factory=list)
    overridden: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        return bool(self.reasons)

    @property
    def blocks(self) -> bool:
        return self.refused and not self.overridden

    def summary(self) -> str:
        return "; ".join(self.reasons)

    def to_json(self) -> dict[str, Any]:
        return {"gateway": self.gateway, "allowed": not self.blocks,
                "refused": self.refused, "overridden": self.overridden,
                "reasons": list(self.reasons), "notes": list(self.notes),
                "gateway_version": self.gateway_version, "gateway_source": self.gateway_source,
                "management_server_version": self.management_server_version,
                "management_server_source": self.management_server_source}


def gate_reasons(gw: Gateway, gateway_version: Version, ms_version: Version,
                 rendered: Mapping[str, Any] | None = None) -> list[str]:
    """Why the configuration rendered for `gw` must not be pushed to a gateway that runs
    `gateway_version` under a management server on `ms_version` (empty: it may)."""
    reasons = []
    since = VERSION_MATCH_SINCE
    newer = max(gateway_version, ms_version)
    if (not gateway_version.same_release(ms_version)
            and newer.release_key >= since.release_key):
        side = ("upgrade the gateway first" if gateway_version < ms_version
                else "upgrade the management server first")
        reasons.append(
            f"the gateway runs {gateway_version.name} but its management server runs "
            f"{ms_version.name}; since {since} they must match ({side})")
    for r in missing(requirements(gw, rendered), gateway_version):
        reasons.append(f"the configuration uses {r.what} ({r.available()}), which "
                       f"{gateway_version.name} lacks")
    return reasons


class ApplyGate:
    """The version gate of ``gwctl apply``: called before a gateway is touched.

    Reads the gateway's installed version over its transport and the management server's
    (ServerConfig.xml on a co-located host, else ``/.well-known/uris`` through the
    gateway); an unreadable version falls back to the declared one. Decisions are cached,
    so `prefetch` (concurrent, before the confirmation prompt) and the call from the
    rollout agree. With ``allow_mismatch`` a refusal is logged loudly and recorded, and
    the push goes ahead.
    """

    def __init__(self, fleet: Fleet, transports: TransportFactory | None = None, *,
                 allow_mismatch: bool = False, http: HttpSettings | None = None,
                 workers: int = 32) -> None:
        from gwctl.hosts.targets import open_transport

        self.fleet = fleet
        self.transports = transports or open_transport
        self.allow_mismatch = allow_mismatch
        self.http = http
        self.workers = workers
        self._cache: dict[str, GateDecision] = {}
        self._lock = threading.Lock()

    def __call__(self, target: Target, plan: GatewayPlan | None = None) -> GateDecision:
        return self.evaluate(target)

    def evaluate(self, target: Target) -> GateDecision:
        gw = target.gateway
        with self._lock:
            cached = self._cache.get(gw.id)
        if cached is not None:
            return cached
        decision = self._decide(target)
        if decision.refused and self.allow_mismatch:
            decision.overridden = True
            log.warning("VERSION GATE OVERRIDDEN (--allow-version-mismatch) for %s: %s",
                        gw.id, decision.summary())
        with self._lock:
            self._cache.setdefault(gw.id, decision)
            return self._cache[gw.id]

    def prefetch(self, targets: Sequence[Target]) -> list[GateDecision]:
        if not targets:
            return []
        with ThreadPoolExecutor(max_workers=min(self.workers, len(targets))) as pool:
            return list(pool.map(self.evaluate, targets))

    def _decide(self, target: Target) -> GateDecision:
        from gwctl.versions.discovery import discover_target

        gw = target.gateway
        ms = self.fleet.site_of(gw).management_server
        found, readings = discover_target(self.fleet, target, transports=self.transports,
                                          http=self.http)
        notes = []
        gv = gw.version
        g_src = "declared" if gw.version_declared else "the management server's"
        if found.reading is not None and found.reading.version is not None:
            gv, g_src = found.reading.version, f"installed ({found.reading.describe()})"
        elif found.installed is False:
            notes.append(f"no API Gateway is installed on {target.name}")
        elif found.error:
            notes.append(f"gateway version not read ({found.error}); the declared one is used")
        trusted = next((r for r in readings if r.ok), None)
        mv, m_src = ms.version, "declared"
        if trusted is not None and trusted.version is not None:
            mv, m_src = trusted.version, f"installed ({trusted.describe()})"
        else:
            errors = "; ".join(f"{r.describe()}: {r.error}" for r in readings)
            notes.append(f"management server version not read ({errors or 'no source'}); "
                         f"the declared one is used")
        reasons = gate_reasons(gw, gv, mv)
        return GateDecision(gw.id, _release(gv), g_src, _release(mv), m_src, reasons,
                            notes=notes)
