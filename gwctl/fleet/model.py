"""The fleet model: sites -> management server -> gateways, with layered settings.

Settings are declared at three levels and merged for each gateway in this order:
``defaults.settings`` -> ``sites.<site>.settings`` -> ``sites.<site>.gateways.<gw>.settings``.
Mappings merge key by key; lists (origins, ICE servers, a route's Transforms) and scalars
are *replaced* by the more specific level, so a gateway that declares ``ice_servers``
gets exactly that list. Routes and clusters are mappings keyed by id, so a site can add
one route to the fleet's routes or override one field of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from gwctl.errors import InputError, UsageError
from gwctl.fleet.colocation import Colocation, fleet_colocation

# re-exported: the model is where callers have always found them
from gwctl.fleet.defaults import DEFAULT_BACKUP_DIR as DEFAULT_BACKUP_DIR
from gwctl.fleet.defaults import DEFAULT_INSTALL_DIR as DEFAULT_INSTALL_DIR
from gwctl.fleet.defaults import DEFAULT_SERVER_CONFIG as DEFAULT_SERVER_CONFIG
from gwctl.fleet.maintenance import RULE as WINDOW_RULE
from gwctl.fleet.maintenance import ChangePolicy, MaintenanceWindow
from gwctl.fleet.source import FleetSource, merge
from gwctl.problems import Level, Location, Problem, pointer
from gwctl.versions.dotnet import runtime_for
from gwctl.versions.release import Version

APP_POOL = "VideoOS ApiGateway AppPool"
ENVIRONMENTS = ("production", "test", "development")


@dataclass
class ManagementServer:
    host: str
    version: Version
    encryption: bool
    server_config: str
    pointer: str

    @property
    def url(self) -> str:
        """Base URL of the management server (https when it uses encryption)."""
        return f"{'https' if self.encryption else 'http'}://{self.host}"


@dataclass
class Gateway:
    name: str
    site_name: str
    host: str
    #: on the management server's host, as the fleet tells it (`gwctl.fleet.colocation`)
    colocation: Colocation
    version: Version
    #: whether `version` was written in the fleet (else it is the management server's)
    version_declared: bool
    install_dir: str
    backup_dir: str
    url: str
    settings: dict[str, Any]
    pointer: str
    #: settings pointers of the layers, most specific first (for locating values)
    layers: tuple[str, ...]
    source: FleetSource = field(repr=False)

    @property
    def id(self) -> str:
        return f"{self.site_name}/{self.name}"

    @property
    def colocated(self) -> bool:
        return self.colocation.colocated

    @property
    def environment(self) -> str:
        env = self.settings.get("environment", "production")
        return str(env)

    @property
    def dotnet_version(self) -> int:
        """The gateway's .NET major version: the ``dotnet_version`` setting, else the one
        its release runs (`gwctl.versions.dotnet`)."""
        declared = self.settings.get("dotnet_version")
        return int(declared) if declared is not None else runtime_for(self.version)

    @property
    def root_url(self) -> str:
        """The gateway's site URL: its API URL without the ``/api`` suffix."""
        return re.sub(r"/api/?$", "", self.url, flags=re.IGNORECASE)

    def install_path(self, filename: str) -> str:
        return self.install_dir.rstrip("\\") + "\\" + filename

    def locate_setting(self, settings_pointer: str) -> Location:
        """Where the value at `settings_pointer` (inside the merged settings) was written."""
        position = self.source.position
        for layer in self.layers:
            loc = position(layer + settings_pointer)
            if loc is not None:
                return loc
        # not written anywhere (a default): point at the nearest written ancestor
        head = settings_pointer
        while head:
            head = head.rsplit("/", 1)[0]
            for layer in self.layers:
                loc = position(layer + head)
                if loc is not None:
                    return loc
        return self.source.locate(self.pointer)

    def setting_pointer_in_file(self, settings_pointer: str) -> str:
        """The fleet-document pointer of the layer that supplied `settings_pointer`."""
        for layer in self.layers:
            if self.source.position(layer + settings_pointer) is not None:
                return layer + settings_pointer
        return self.layers[0] + settings_pointer


@dataclass
class Site:
    name: str
    management_server: ManagementServer
    gateways: list[Gateway]
    settings: dict[str, Any]
    pointer: str
    #: maintenance windows and whether apply needs --change-ref (gwctl.fleet.maintenance)
    policy: ChangePolicy = field(default_factory=ChangePolicy)


@dataclass
class Fleet:
    sites: list[Site]
    rule_config: dict[str, Any]
    source: FleetSource
    #: ``defaults.audit_log`` as written (relative to the fleet's directory), or None
    audit_log: str | None = None

    @property
    def base_dir(self) -> Path:
        return self.source.base_dir

    def gateways(self) -> Iterator[Gateway]:
        for site in self.sites:
            yield from site.gateways

    @cached_property
    def _by_name(self) -> dict[str, list[Gateway]]:
        out: dict[str, list[Gateway]] = {}
        for gw in self.gateways():
            out.setdefault(gw.name, []).append(gw)
            out.setdefault(gw.id, []).append(gw)
        return out

    def site(self, name: str) -> Site:
        for s in self.sites:
            if s.name == name:
                return s
        raise UsageError(f"no site named {name!r} in the fleet (sites: "
                         f"{', '.join(s.name for s in self.sites)})")

    def gateway(self, name: str) -> Gateway:
        found = self._by_name.get(name, [])
        if len(found) == 1:
            return found[0]
        if not found:
            names = ", ".join(g.id for g in self.gateways())
            raise UsageError(f"no gateway named {name!r} in the fleet (gateways: {names})")
        raise UsageError(f"gateway name {name!r} is ambiguous: use SITE/NAME "
                         f"({', '.join(g.id for g in found)})")

    def site_of(self, gw: Gateway) -> Site:
        return self.site(gw.site_name)


def build_fleet(source: FleetSource) -> tuple[Fleet | None, list[Problem]]:
    """Build the model from a schema-valid document; problems for values that don't parse."""
    data = source.data
    problems: list[Problem] = []
    defaults = data.get("defaults") or {}
    default_settings = defaults.get("settings") or {}
    sites: list[Site] = []
    for site_name, site_data in data.get("sites", {}).items():
        site_ptr = pointer("sites", site_name)
        ms_data = site_data["management_server"]
        ms_ptr = site_ptr + "/management_server"
        ms_version = _version(ms_data["version"], source, ms_ptr + "/version", problems)
        if ms_version is None:
            continue
        ms = ManagementServer(
            host=str(ms_data["host"]),
            version=ms_version,
            encryption=bool(ms_data.get("encryption", False)),
            server_config=str(ms_data.get("server_config", DEFAULT_SERVER_CONFIG)),
            pointer=ms_ptr,
        )
        site_settings = merge(default_settings, site_data.get("settings") or {})
        site = Site(site_name, ms, [], site_settings, site_ptr,
                    _policy(site_data, source, site_ptr, problems))
        for gw_name, gw_data in (site_data.get("gateways") or {}).items():
            gw = _gateway(site, gw_name, gw_data or {}, defaults, source, problems)
            if gw is not None:
                site.gateways.append(gw)
        sites.append(site)
    if any(p.level is Level.ERROR for p in problems):
        return None, problems
    audit = defaults.get("audit_log")
    return Fleet(sites, dict(data.get("rules") or {}), source,
                 str(audit) if audit is not None else None), problems


def _policy(site_data: dict[str, Any], source: FleetSource, site_ptr: str,
            problems: list[Problem]) -> ChangePolicy:
    windows = []
    for i, raw in enumerate(site_data.get("maintenance_windows") or []):
        ptr = f"{site_ptr}/maintenance_windows/{i}"
        try:
            windows.append(MaintenanceWindow.from_data(raw))
        except ValueError as exc:
            problems.append(Problem(WINDOW_RULE, Level.ERROR, str(exc), path=ptr)
                            .at(source.locate(ptr)))
    return ChangePolicy(tuple(windows), bool(site_data.get("change_ref_required", False)))


def _gateway(site: Site, name: str, gw_data: dict[str, Any], defaults: dict[str, Any],
             source: FleetSource, problems: list[Problem]) -> Gateway | None:
    ptr = site.pointer + pointer("gateways", name)
    ms = site.management_server
    declared = "version" in gw_data
    version = (_version(gw_data["version"], source, ptr + "/version", problems)
               if declared else ms.version)
    if version is None:
        return None
    host = str(gw_data["host"])
    settings = merge(site.settings, gw_data.get("settings") or {})
    return Gateway(
        name=name,
        site_name=site.name,
        host=host,
        colocation=fleet_colocation(host, ms.host, gw_data.get("colocated")),
        version=version,
        version_declared=declared,
        install_dir=str(gw_data.get("install_dir", defaults.get("install_dir",
                                                                DEFAULT_INSTALL_DIR))),
        backup_dir=str(gw_data.get("backup_dir", defaults.get("backup_dir",
                                                              DEFAULT_BACKUP_DIR))),
        url=str(gw_data.get("url", f"{'https' if ms.encryption else 'http'}://{host}/api")
                ).rstrip("/"),
        settings=settings,
        pointer=ptr,
        layers=(ptr + "/settings", site.pointer + "/settings", "/defaults/settings"),
        source=source,
    )


def _version(raw: Any, source: FleetSource, ptr: str, problems: list[Problem]) -> Version | None:
    try:
        return Version.parse(raw)
    except InputError as exc:
        problems.append(Problem("version-syntax", Level.ERROR, exc.message, path=ptr)
                        .at(source.locate(ptr)))
        return None
