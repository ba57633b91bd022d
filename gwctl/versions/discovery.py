"""Discovery: the versions actually installed on a fleet's hosts.

Sources, in the order gwctl trusts them:

- **gateway version** — the ``read_versions`` remote operation over the host's transport
  (docs/remote-operations.md): the DisplayVersion of the installed-products registry entry
  ``Milestone XProtect API Gateway`` (``HKLM:\\SOFTWARE\\Microsoft\\Windows\\
  CurrentVersion\\Uninstall\\*``, then the WOW6432Node view). No entry = no gateway
  installed on that host. The gateway's binaries' file version is *not* read: the
  registry entry is what the installer writes and what an upgrade replaces.
- **management server version** —
  1. ``ServerConfig.xml`` ``/server/version`` on the management server host, read by the
     same ``read_versions`` operation (parameter ``server_config``) on every gateway host.
     Only the management server host has that file, so finding it also proves that the
     gateway on that host is co-located (the manual: a gateway on the management server
     host is upgraded with it);
  2. ``GET {gateway url}/.well-known/uris`` → ``ProductVersion``: no credentials needed,
     answered through any gateway of the site (co-located ones tried first).
  ServerConfig.xml wins when both answer; a disagreement is kept for the rules to report.

Hosts are contacted concurrently with a bounded pool (``workers``); every remote call has
bounded timeouts (the transport's own, and `HttpSettings` for HTTP). A host that cannot be
reached, or has no inventory entry, is recorded with its error and never stops the others.
Nothing here writes to a host.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gwctl.errors import GwctlError, InputError
from gwctl.fleet.model import Fleet, Gateway, Site
from gwctl.hosts.fanout import fan_out
from gwctl.hosts.targets import Target, TransportFactory, open_transport, pair
from gwctl.output import redact
from gwctl.versions.release import Version

if TYPE_CHECKING:
    import httpx

    from gwctl.hosts.inventory import InventoryHost

log = logging.getLogger("gwctl.versions.discovery")

WELL_KNOWN = "/.well-known/uris"
DEFAULT_WORKERS = 32
#: the registry's DisplayName of the gateway (what ``read_versions`` looks for)
GATEWAY_PRODUCT = "Milestone XProtect API Gateway"

SOURCE_REGISTRY = "registry"
SOURCE_SERVER_CONFIG = "ServerConfig.xml"
SOURCE_WELL_KNOWN = ".well-known/uris"


@dataclass(frozen=True)
class HttpSettings:
    """Bounded HTTP for ``/.well-known/uris`` (no credentials are ever sent)."""

    connect_timeout_s: float = 3.0
    timeout_s: float = 5.0
    verify_tls: bool | str = True

    def client(self) -> httpx.Client:
        import httpx

        from gwctl.tlscontext import tls_context

        timeout = httpx.Timeout(self.timeout_s, connect=self.connect_timeout_s)
        return httpx.Client(timeout=timeout, verify=tls_context(self.verify_tls),
                            follow_redirects=False)


@dataclass(frozen=True)
class Reading:
    """What one source said about one version."""

    source: str
    #: the inventory host (registry, ServerConfig.xml) or the URL (.well-known/uris)
    where: str
    version: Version | None = None
    #: the version as the source wrote it (``25.2.5700.1``)
    raw: str | None = None
    error: str | None = None
    #: ServerConfig.xml: its path on the host
    path: str | None = None

    @property
    def ok(self) -> bool:
        return self.version is not None

    def describe(self) -> str:
        """``ServerConfig.xml on hq-ms``, ``.well-known/uris at http://...``."""
        return f"{self.source} {'at' if self.source == SOURCE_WELL_KNOWN else 'on'} {self.where}"

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "where": self.where, "path": self.path,
                "version": self.version.name if self.version else None,
                "raw": self.raw, "error": self.error}


@dataclass
class GatewayDiscovery:
    """What discovery learned about one gateway's host."""

    gateway: str
    #: inventory host name (None: the inventory has no host for this gateway)
    host: str | None
    reachable: bool = False
    #: is an API Gateway installed on the host? None: unknown
    installed: bool | None = None
    reading: Reading | None = None
    #: ServerConfig.xml found on this host (the management server's version; co-location)
    server_config: Reading | None = None
    #: True: the host has the management server's ServerConfig.xml; False: reached, absent
    server_config_found: bool | None = None
    install_dir_exists: bool | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    elapsed_s: float = 0.0

    @property
    def version(self) -> Version | None:
        return self.reading.version if self.reading else None

    def to_json(self) -> dict[str, Any]:
        return {
            "gateway": self.gateway, "host": self.host, "reachable": self.reachable,
            "installed": self.installed,
            "version": self.version.name if self.version else None,
            "product_version": self.reading.raw if self.reading else None,
            "source": self.reading.source if self.reading else None,
            "server_config": self.server_config.to_json() if self.server_config else None,
            "install_dir_exists": self.install_dir_exists,
            "warnings": list(self.warnings), "error": self.error,
            "elapsed_ms": round(self.elapsed_s * 1000, 1),
        }


@dataclass
class SiteDiscovery:
    site: str
    #: every reading of the management server's version (ServerConfig.xml, .well-known/uris)
    readings: list[Reading] = field(default_factory=list)
    gateways: dict[str, GatewayDiscovery] = field(default_factory=dict)

    @property
    def management_server(self) -> Reading | None:
        """The reading gwctl trusts: ServerConfig.xml first, then .well-known/uris."""
        good = [r for r in self.readings if r.ok]
        for source in (SOURCE_SERVER_CONFIG, SOURCE_WELL_KNOWN):
            for r in good:
                if r.source == source:
                    return r
        return None

    @property
    def management_server_version(self) -> Version | None:
        r = self.management_server
        return r.version if r else None

    def disagreements(self) -> list[Reading]:
        """Readings whose release differs from the trusted one."""
        trusted = self.management_server
        if trusted is None or trusted.version is None:
            return []
        return [r for r in self.readings if r.version is not None
                and not r.version.same_release(trusted.version)]

    def to_json(self) -> dict[str, Any]:
        ms = self.management_server_version
        return {"site": self.site, "management_server": ms.name if ms else None,
                "readings": [r.to_json() for r in self.readings],
                "gateways": [g.to_json() for g in self.gateways.values()]}


@dataclass
class Discovery:
    sites: dict[str, SiteDiscovery]
    elapsed_s: float = 0.0
    workers: int = DEFAULT_WORKERS

    def gateway(self, gateway_id: str) -> GatewayDiscovery | None:
        site = gateway_id.split("/", 1)[0]
        found = self.sites.get(site)
        return found.gateways.get(gateway_id) if found else None

    def to_json(self) -> dict[str, Any]:
        return {"elapsed_ms": round(self.elapsed_s * 1000, 1), "workers": self.workers,
                "sites": [s.to_json() for s in self.sites.values()]}


# -- single readings ---------------------------------------------------------------------


def _parse(raw: object, source: str, where: str, path: str | None = None) -> Reading:
    if not isinstance(raw, str) or not raw.strip():
        return Reading(source, where, None, None, f"no version in the answer ({raw!r})", path)
    try:
        return Reading(source, where, Version.parse(raw), raw.strip(), None, path)
    except InputError as exc:
        return Reading(source, where, None, raw.strip(), exc.message, path)


def versions_params(gw: Gateway, server_config: str | None) -> dict[str, Any]:
    """``read_versions``' parameters for the gateway's host."""
    return {"install_dir": gw.install_dir, "server_config": server_config}


def read_host(target: Target, server_config: str | None,
              transports: TransportFactory = open_transport) -> GatewayDiscovery:
    """``read_versions`` on one gateway's host: the gateway's and (if there) the MS's."""
    start = time.monotonic()
    transport = None
    try:
        transport = transports(target.host)
        answer: dict[str, Any] | GwctlError = transport.run(
            "read_versions", versions_params(target.gateway, server_config))
    except GwctlError as exc:
        answer = exc
    finally:
        if transport is not None:
            try:
                transport.close()
            except GwctlError as exc:  # the answer is in; a shell left open expires
                log.debug("%s: closing the transport: %s", target.name, exc)
    return host_discovery(target, server_config, answer, time.monotonic() - start)


def host_discovery(target: Target, server_config: str | None,
                   answer: dict[str, Any] | GwctlError, elapsed_s: float) -> GatewayDiscovery:
    """What ``read_versions``' `answer` (or the error it failed with) says about the host;
    the answer may come from a batch another step sent (the plan's read)."""
    gw = target.gateway
    found = GatewayDiscovery(gw.id, target.name, elapsed_s=elapsed_s)
    if isinstance(answer, GwctlError):
        found.error = redact.scrub(str(answer))
        log.debug("%s: read_versions: %s", target.name, found.error)
        return found
    found.reachable = True
    found.warnings = [redact.scrub(str(w)) for w in answer.get("warnings") or []]
    found.install_dir_exists = bool(answer.get("install_dir_exists"))
    gateway = answer.get("gateway")
    if isinstance(gateway, dict):
        found.installed = True
        found.reading = _parse(gateway.get("version"), SOURCE_REGISTRY, target.name)
        if found.reading.error:
            found.error = f"installed gateway version unreadable: {found.reading.error}"
    elif gateway is None and not any("registry" in w or "installed products" in w
                                      for w in found.warnings):
        found.installed = False
    else:
        found.error = "the installed products could not be read: " + "; ".join(found.warnings)
    ms = answer.get("management_server")
    if isinstance(ms, dict):
        found.server_config_found = True
        found.server_config = _parse(ms.get("version"), SOURCE_SERVER_CONFIG, target.name,
                                     str(ms.get("source") or server_config))
    elif server_config is not None:
        unreadable = any(server_config.lower() in w.lower() for w in found.warnings)
        found.server_config_found = unreadable
        if unreadable:
            found.server_config = Reading(SOURCE_SERVER_CONFIG, target.name, None, None,
                                          "; ".join(found.warnings), server_config)
    return found


def read_well_known(client: httpx.Client, gateway_url: str) -> Reading:
    """``GET {gateway_url}/.well-known/uris`` → ProductVersion (no credentials)."""
    import httpx

    url = gateway_url.rstrip("/") + WELL_KNOWN
    try:
        r = client.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        return Reading(SOURCE_WELL_KNOWN, url, error=f"{type(exc).__name__}: {exc}"
                       if str(exc) else type(exc).__name__)
    if r.status_code != 200:
        return Reading(SOURCE_WELL_KNOWN, url, error=f"HTTP {r.status_code}")
    try:
        doc = r.json()
    except ValueError:
        return Reading(SOURCE_WELL_KNOWN, url, error="the answer is not JSON")
    if not isinstance(doc, dict):
        return Reading(SOURCE_WELL_KNOWN, url, error="the answer is not a JSON object")
    value = next((v for k, v in doc.items() if k.lower() == "productversion"), None)
    return _parse(value, SOURCE_WELL_KNOWN, url)


# -- a whole fleet ---------------------------------------------------------------------


def _well_known_urls(site: Site, targets: dict[str, Target]) -> list[str]:
    """Gateway API URLs of the site, co-located gateways first, without duplicates."""
    ordered = sorted(site.gateways, key=lambda g: not g.colocated)
    urls: list[str] = []
    for gw in ordered:
        t = targets.get(gw.id)
        url = t.url if t is not None else gw.url
        if url not in urls:
            urls.append(url)
    return urls


def _site_well_known(client: httpx.Client, urls: Sequence[str]) -> list[Reading]:
    """Try the site's gateways until one answers with a ProductVersion."""
    tried = []
    for url in urls:
        reading = read_well_known(client, url)
        tried.append(reading)
        if reading.ok:
            break
    return tried


def discover(fleet: Fleet, hosts: list[InventoryHost] | None, *,
             sites: Iterable[str] | None = None,
             transports: TransportFactory = open_transport,
             workers: int = DEFAULT_WORKERS,
             http: HttpSettings | None = None,
             well_known: bool = True,
             only: Iterable[str] | None = None) -> Discovery:
    """Discover the installed versions of the chosen sites (default: all).

    `hosts` is the inventory (None or empty: transports are not used and only
    ``/.well-known/uris`` is read). `only` (gateway ids) limits the hosts contacted to
    those gateways (``--limit``). See the module docstring for the sources.
    """
    if workers < 1:
        raise InputError("workers must be at least 1")
    start = time.monotonic()
    chosen = [fleet.site(s) for s in sites] if sites is not None else list(fleet.sites)
    gateways = [gw for s in chosen for gw in s.gateways]
    if only is not None:
        wanted = set(only)
        gateways = [gw for gw in gateways if gw.id in wanted]
    targets, missing = pair(fleet, gateways, list(hosts or []))
    by_id = {t.gateway.id: t for t in targets}
    result = Discovery({s.name: SiteDiscovery(s.name) for s in chosen}, workers=workers)
    for gw, why in missing:
        result.sites[gw.site_name].gateways[gw.id] = GatewayDiscovery(
            gw.id, None, error=why)
    http = http or HttpSettings()
    jobs: list[tuple[str, Callable[[], Any]]] = []
    with http.client() as client:
        for t in targets:
            ms = fleet.site_of(t.gateway).management_server
            jobs.append(("host", _bind_read(t, ms.server_config, transports)))
        if well_known:
            for s in chosen:
                urls = _well_known_urls(s, by_id)
                if urls:
                    jobs.append((s.name, _bind_well_known(client, urls)))
        answers = fan_out(lambda i: jobs[i][1](), len(jobs), workers=workers)
    for (kind, _), answer in zip(jobs, answers, strict=True):
        if kind == "host":
            assert isinstance(answer, GatewayDiscovery)
            site_name = answer.gateway.split("/", 1)[0]
            site = result.sites[site_name]
            site.gateways[answer.gateway] = answer
            if answer.server_config is not None:
                site.readings.append(answer.server_config)
        else:
            result.sites[kind].readings.extend(answer)
    # keep the fleet's gateway order, and ServerConfig.xml readings before .well-known
    for s in chosen:
        sd = result.sites[s.name]
        sd.gateways = {g.id: sd.gateways[g.id] for g in s.gateways if g.id in sd.gateways}
        sd.readings.sort(key=lambda r: r.source != SOURCE_SERVER_CONFIG)
    result.elapsed_s = time.monotonic() - start
    return result


def _bind_read(t: Target, server_config: str, transports: TransportFactory
               ) -> Callable[[], GatewayDiscovery]:
    return lambda: read_host(t, server_config, transports)


def _bind_well_known(client: httpx.Client, urls: list[str]) -> Callable[[], list[Reading]]:
    return lambda: _site_well_known(client, urls)


def discover_target(fleet: Fleet, target: Target, *,
                    transports: TransportFactory = open_transport,
                    http: HttpSettings | None = None, read: GatewayDiscovery | None = None
                    ) -> tuple[GatewayDiscovery, list[Reading]]:
    """One gateway's host and the management server version as seen from it.

    The management server's version comes from ServerConfig.xml when the gateway is on its
    host, else from ``/.well-known/uris`` through this gateway. `read`: the host's
    ``read_versions`` answer already taken (by the plan's read), so it is not asked again.
    """
    ms = fleet.site_of(target.gateway).management_server
    found = read if read is not None else read_host(target, ms.server_config, transports)
    readings: list[Reading] = []
    if found.server_config is not None:
        readings.append(found.server_config)
    if not any(r.ok for r in readings):
        with (http or HttpSettings()).client() as client:
            readings.append(read_well_known(client, target.url))
    return found, readings
