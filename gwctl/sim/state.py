"""The simulator's state directory: what an emulated site is, on disk.

The simulator emulates documented behaviour of XProtect hosts on loopback; it is not
Windows, not IIS and not the real API Gateway. Everything it knows lives in one directory
(``--state DIR``), so a site survives ``gwctl sim down`` / ``up`` and can be inspected,
edited and handed to other tools::

    DIR/
      state.json              the site: see below (0600: it holds generated passwords)
      inventory.yml           Ansible inventory (YAML), one host per gateway (0600); with
                              ``health_user``, the gateways' gwctl_health_user/_password
      fleet.yaml              a gwctl fleet file describing the site, to start from
      sim.log                 output of the background process (``gwctl sim up``)
      sim.pid, sim.lock       pid of the running simulator; the lock it holds while it runs
      kerberos/               with ``sim up --kerberos``: the realm (gwctl.sim.kerberos)
      hosts/<host>/           the host's drives, Windows paths mapped as in
                              docs/remote-operations.md (``C:\\X\\y`` -> ``C/X/y``):
        C/Program Files/Milestone/XProtect API Gateway/
          appsettings.json              bundled reference base for the gateway's version
          appsettings.Production.json   optional; absent after "installation"
          nlog.config                   the vendor's default (manual, "Logging")
          internal-nlog.txt             NLog's internal log (e.g. a failed reload)
        C/ProgramData/Milestone/ApiGateway/Logs/     (the nlog.config logDirectory)
          gateway.log                   lifecycle messages of the emulated gateway
          gateway-access.log            W3C-style line per request the gateway saw
        C/ProgramData/Milestone/XProtect Management Server/ServerConfig.xml
                                        management server host only: /server/version
        .host/installed-products.json   {"Milestone XProtect API Gateway": "25.2.5700.1"}
        .host/apppools.json             app pools as gwctl's local transport keeps them
        .host/hostname                  the host's name (the ``ping`` operation)

``state.json`` (format ``gwctl-sim/1``)::

    {"format": "gwctl-sim/1", "site": "demo", "seed": 1234, "encryption": false,
     "management_server": {"host": "demo-ms", "version": "25.2.5700.1"},
     "xprotect_users": {"admin": "..."},        # basic users of the emulated IDP
     "health_user": "admin",                    # optional: the one in the inventory
     "windows_admin": {"user": "gwctl-admin", "password": "..."},   # WinRM account
     "site_id": "<uuid>", "token_key": "<hex>", "admin_token": "<hex>",
     "hosts": {"demo-ms": {
         "roles": ["management_server", "gateway"],
         "gateway_version": "25.2.5700.1", "port": 41234,
         "faults": ["latency:50"],
         "app_pool": {"name": "VideoOS ApiGateway AppPool", "state": "Started",
                      "last_recycle": null, "worker_pid": 4242},
         "users": {"gwctl-admin": "..."},     # Windows accounts of the host (WinRM)
         "cameras": [{"id": "<uuid>", "name": "Camera 1", ...}]},   # MS host only
       ...},
     "process": {"pid": 777, "admin_port": 41240, "wsman_port": 41241,
                 "started": "2025-01-01T00:00:00Z"} | null,
     "kerberos": {"realm": "DEMO.GWCTL.SIM", "kdc_port": 41250,
                  "user": "gwctl-admin@DEMO.GWCTL.SIM", "password": "..."} | null}

Host names: the gateway on the management server host is ``<site>-ms`` (it is
``colocated`` in ``fleet.yaml``), the others ``<site>-gw1``, ``<site>-gw2``, ...; each
gateway's inventory name is its host name. Cameras and the site id come from a seed
(default: derived from the site name), so the same site always gets the same ids.
"""

from __future__ import annotations

import json
import random
import re
import secrets
import threading
import uuid
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from gwctl.errors import InputError, UsageError
from gwctl.fleet.model import APP_POOL, DEFAULT_INSTALL_DIR, DEFAULT_SERVER_CONFIG
from gwctl.netjson import runtime as dotnet
from gwctl.render.bases import reference_base_text
from gwctl.sim.faults import Faults
from gwctl.sim.kerberos import SimRealm
from gwctl.textio import write_atomic
from gwctl.versions.release import Version

FORMAT = "gwctl-sim/1"
STATE_FILE = "state.json"
INVENTORY_FILE = "inventory.yml"
FLEET_FILE = "fleet.yaml"
LOG_FILE = "sim.log"
PID_FILE = "sim.pid"
LOCK_FILE = "sim.lock"
HOSTS_DIR = "hosts"

ROLE_MS = "management_server"
ROLE_GATEWAY = "gateway"

#: = gwctl.render.nlog.DEFAULT_LOG_DIRECTORY (not imported: that module loads jinja2, and
#: the simulator's start-up time matters; a test keeps the two equal)
DEFAULT_LOG_DIRECTORY = r"C:\ProgramData\Milestone\ApiGateway\Logs"

GATEWAY_PRODUCT = "Milestone XProtect API Gateway"
MS_PRODUCT = "Milestone XProtect Management Server"
WINDOWS_ADMIN = "gwctl-admin"
XPROTECT_USER = "admin"

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")

#: the vendor's default nlog.config (admin manual 2025 R2, "Log layout, log targets,
#: etc"), as the installer writes it -- including its ``[{threadid...}]`` typo
DEFAULT_NLOG_CONFIG = """<?xml version="1.0" encoding="utf-8"?>
<nlog xmlns="http://www.nlog-project.org/schemas/NLog.xsd"
      xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
      autoReload="true"
      internalLogLevel="Warn"
      internalLogFile="internal-nlog.txt">
  <variable name="logDirectory" value="__LOG_DIRECTORY__" />
  <variable name="archiveDirectory" value="${var:logDirectory}\\Archive" />
  <variable name="defaultLayout" value="${date:format=yyyy-MM-dd HH\\:mm\\:ss.fffzzz} \
[{threadid:padding=6}] ${level:uppercase=true:padding=-10} - ${message} \
${exception:format=tostring}" />
  <targets>
    <target name="logfile"
            xsi:type="File"
            fileName="${var:logDirectory}\\gateway.log"
            archiveFileName="${var:archiveDirectory}\\gateway-####.log"
            archiveNumbering="Rolling"
            maxArchiveFiles="20"
            archiveEvery="Day"
            archiveAboveSize="1000000"
            archiveOldFileOnStartup="true"
            createDirs="true"
            layout="${var:defaultLayout}" />
  </targets>
  <rules>
    <logger name="*" minlevel="Debug" writeTo="logfile" />
  </rules>
</nlog>
""".replace("__LOG_DIRECTORY__", DEFAULT_LOG_DIRECTORY)


def utc_now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def product_version(version: Version | str) -> str:
    """Full product version of an installation: ``2025 R2`` -> ``25.2.5700.1``.

    A version given with its build keeps it; otherwise the build is synthesised (it only
    has to be stable and to grow with the release).
    """
    v = Version.parse(version)
    if v.build is not None:
        return v.full if v.revision is not None else f"{v.full}.1"
    build = 4000 + (v.year - 2020) * 300 + v.release * 100
    return f"{v.product}.{build}.1"


def windows_to_local(root: Path, path: str) -> Path:
    """``C:\\X\\y`` under `root` (``root/C/X/y``), as docs/remote-operations.md maps it."""
    drive, _, rest = path.partition(":")
    parts = [p for p in re.split(r"[\\/]+", rest) if p]
    return root.joinpath(drive.upper(), *parts)


@dataclass
class AppPool:
    name: str = APP_POOL
    state: str = "Started"
    last_recycle: str | None = None
    worker_pid: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state, "last_recycle": self.last_recycle,
                "worker_pid": self.worker_pid}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AppPool:
        return cls(str(data.get("name", APP_POOL)), str(data.get("state", "Started")),
                   data.get("last_recycle"), int(data.get("worker_pid", 0)))


@dataclass
class HostState:
    name: str
    roles: list[str]
    gateway_version: str | None = None
    #: the gateway's .NET major version when not its release's (`gwctl.versions.dotnet`)
    dotnet_version: int | None = None
    port: int | None = None
    faults: Faults = field(default_factory=Faults)
    app_pool: AppPool | None = None
    users: dict[str, str] = field(default_factory=dict)
    cameras: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_gateway(self) -> bool:
        return ROLE_GATEWAY in self.roles

    @property
    def is_management_server(self) -> bool:
        return ROLE_MS in self.roles

    def to_json(self) -> dict[str, Any]:
        return {
            "roles": list(self.roles),
            "gateway_version": self.gateway_version,
            "dotnet_version": self.dotnet_version,
            "port": self.port,
            "faults": self.faults.to_json(),
            "app_pool": self.app_pool.to_json() if self.app_pool else None,
            "users": dict(self.users),
            "cameras": self.cameras,
        }

    @classmethod
    def from_json(cls, name: str, data: Mapping[str, Any]) -> HostState:
        pool = data.get("app_pool")
        return cls(
            name=name,
            roles=[str(r) for r in data.get("roles", [])],
            gateway_version=data.get("gateway_version"),
            dotnet_version=data.get("dotnet_version"),
            port=data.get("port"),
            faults=Faults.from_json(data.get("faults")),
            app_pool=AppPool.from_json(pool) if isinstance(pool, Mapping) else None,
            users={str(k): str(v) for k, v in (data.get("users") or {}).items()},
            cameras=list(data.get("cameras") or []),
        )


@dataclass
class ProcessInfo:
    pid: int
    admin_port: int
    wsman_port: int | None
    started: str

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "admin_port": self.admin_port, "wsman_port": self.wsman_port,
                "started": self.started}


@dataclass
class SiteSpec:
    """What `create_state` builds (the options of ``gwctl sim up``)."""

    site: str = "demo"
    version: str = "2025 R2"
    gateways: int = 2
    #: gateway name -> release, for gateways not on the management server's version
    gateway_versions: dict[str, str] = field(default_factory=dict)
    #: gateway name -> .NET major version, for gateways not on their release's runtime
    gateway_dotnet: dict[str, int] = field(default_factory=dict)
    #: host name -> fault profiles (``latency:50``, ...)
    faults: dict[str, list[str]] = field(default_factory=dict)
    #: whether the first gateway runs on the management server host (mandatory 2024 R2+)
    colocated: bool = True
    encryption: bool = False
    cameras: int = 4
    seed: int | None = None
    #: host name -> text of an appsettings.Production.json to install
    production_files: dict[str, str] = field(default_factory=dict)
    #: write the IDP's basic user into the inventory as every gateway host's
    #: gwctl_health_user/gwctl_health_password, so that verify and probe log in with no
    #: option (``gwctl sim up`` does); off by default because the inventory's credentials
    #: win over --health-user, and the tests of the no-user and option paths need neither
    health_user_in_inventory: bool = False


def gateway_names(site: str, count: int, colocated: bool) -> list[str]:
    if count < 0:
        raise UsageError("--gateways must be 0 or more")
    names = [f"{site}-ms"] if colocated and count else []
    names += [f"{site}-gw{i}" for i in range(1, count - len(names) + 1)]
    return names


class SimState:
    """The state directory, loaded. Thread-safe `save`."""

    def __init__(self, directory: Path, data: Mapping[str, Any]) -> None:
        if data.get("format") != FORMAT:
            raise InputError(f"{directory / STATE_FILE}: not a gwctl simulator state "
                             f"(format {data.get('format')!r}, expected {FORMAT!r})")
        self.dir = directory
        self.site = str(data["site"])
        self.seed = int(data["seed"])
        self.encryption = bool(data.get("encryption", False))
        ms = data["management_server"]
        self.management_host = str(ms["host"])
        self.management_version = str(ms["version"])
        self.xprotect_users = {str(k): str(v) for k, v in data["xprotect_users"].items()}
        health = data.get("health_user")
        self.health_user = str(health) if health in self.xprotect_users else None
        admin = data["windows_admin"]
        self.windows_admin = (str(admin["user"]), str(admin["password"]))
        self.site_id = str(data["site_id"])
        self.token_key = str(data["token_key"])
        self.admin_token = str(data["admin_token"])
        self.created = str(data.get("created", ""))
        self.hosts: dict[str, HostState] = {
            name: HostState.from_json(name, h) for name, h in data["hosts"].items()}
        proc = data.get("process")
        self.process = (ProcessInfo(int(proc["pid"]), int(proc["admin_port"]),
                                    proc.get("wsman_port"), str(proc.get("started", "")))
                        if isinstance(proc, Mapping) else None)
        krb = data.get("kerberos")
        #: the realm of ``gwctl sim up --kerberos`` (gwctl.sim.kerberos), or None
        self.kerberos = SimRealm.from_json(krb) if isinstance(krb, Mapping) else None
        self._lock = threading.Lock()

    # -- loading and saving ----------------------------------------------------------------

    @classmethod
    def load(cls, directory: Path | str) -> SimState:
        d = Path(directory)
        path = d / STATE_FILE
        try:
            data = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            raise UsageError(f"{path} does not exist: start a site with 'gwctl sim up "
                             f"--state {d}'") from None
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: cannot read simulator state: {exc}") from None
        return cls(d, data)

    @staticmethod
    def exists(directory: Path | str) -> bool:
        return (Path(directory) / STATE_FILE).is_file()

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "site": self.site,
            "seed": self.seed,
            "encryption": self.encryption,
            "created": self.created,
            "management_server": {"host": self.management_host,
                                  "version": self.management_version},
            "xprotect_users": self.xprotect_users,
            "health_user": self.health_user,
            "windows_admin": {"user": self.windows_admin[0],
                              "password": self.windows_admin[1]},
            "site_id": self.site_id,
            "token_key": self.token_key,
            "admin_token": self.admin_token,
            "hosts": {name: h.to_json() for name, h in self.hosts.items()},
            "process": self.process.to_json() if self.process else None,
            "kerberos": self.kerberos.to_json() if self.kerberos else None,
        }

    def save(self) -> None:
        with self._lock:
            _write_private(self.dir / STATE_FILE,
                           json.dumps(self.to_json(), indent=2) + "\n")

    # -- queries ---------------------------------------------------------------------------

    def gateways(self) -> list[HostState]:
        return [h for h in self.hosts.values() if h.is_gateway]

    def host(self, name: str) -> HostState:
        found = self.hosts.get(name)
        if found is not None:
            return found
        for h in self.hosts.values():
            if h.name.lower() == name.lower():
                return h
        raise UsageError(f"no host {name!r} in the simulated site (hosts: "
                         f"{', '.join(self.hosts)})")

    def host_root(self, name: str) -> Path:
        return self.dir / HOSTS_DIR / self.host(name).name

    def install_dir(self, name: str) -> Path:
        return windows_to_local(self.host_root(name), DEFAULT_INSTALL_DIR)

    @property
    def management_url(self) -> str:
        scheme = "https" if self.encryption else "http"
        return f"{scheme}://{self.management_host}/"

    def gateway_root_url(self, name: str) -> str:
        """The gateway's URL as the installer wrote it into ``appsettings.json``."""
        scheme = "https" if self.encryption else "http"
        return f"{scheme}://{self.host(name).name}"

    def cameras(self) -> list[dict[str, Any]]:
        return self.host(self.management_host).cameras


def _write_private(path: Path, text: str) -> None:
    """Atomic write, readable by the owner only (the file holds generated passwords)."""
    write_atomic(path, text.encode("utf-8"), 0o600)


def _password() -> str:
    # letters, digits and a symbol from each class, as Windows' complexity policy wants
    return "Sim-" + secrets.token_urlsafe(12) + "7a"


def _seeded_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _cameras(rng: random.Random, count: int, site: str) -> list[dict[str, Any]]:
    cams = []
    hardware = _seeded_uuid(rng)
    for i in range(1, count + 1):
        cid = _seeded_uuid(rng)
        cams.append({
            "displayName": f"Camera {i}",
            "enabled": True,
            "id": cid,
            "name": f"Camera {i}",
            "channel": i - 1,
            "description": f"Emulated camera {i} of site {site}",
            "createdDate": "2025-01-01T00:00:00.0000000Z",
            "lastModified": "2025-01-01T00:00:00.0000000Z",
            "gisPoint": "POINT EMPTY",
            "shortName": f"cam{i}",
            "icon": 0,
            "coverageDirection": 0.0,
            "coverageDepth": 0.0,
            "coverageFieldOfView": 0.0,
            "recordingFramerate": 5.0,
            "recordKeyframesOnly": False,
            "recordOnRelatedDevices": True,
            "recordingEnabled": True,
            "relations": {"self": {"type": "cameras", "id": cid},
                          "parent": {"type": "hardware", "id": hardware}},
        })
    return cams


def create_state(directory: Path | str, spec: SiteSpec) -> SimState:
    """Create a new site in `directory` (which must not hold one yet)."""
    d = Path(directory)
    if SimState.exists(d):
        raise UsageError(f"{d} already holds a simulated site; use it, or remove it first")
    if not _NAME_RE.match(spec.site):
        raise UsageError(f"site name {spec.site!r}: use letters, digits, '.', '_' and '-'")
    ms_version = Version.parse(spec.version)
    names = gateway_names(spec.site, spec.gateways, spec.colocated)
    unknown = sorted(set(spec.gateway_versions) - set(names))
    if unknown:
        raise UsageError(f"--gateway-version names unknown gateways {', '.join(unknown)} "
                         f"(gateways: {', '.join(names) or 'none'})")
    unknown = sorted(set(spec.gateway_dotnet) - set(names))
    if unknown:
        raise UsageError(f"--gateway-dotnet names unknown gateways {', '.join(unknown)} "
                         f"(gateways: {', '.join(names) or 'none'})")
    for name, major in spec.gateway_dotnet.items():
        if major not in dotnet.SUPPORTED:
            raise UsageError(f"--gateway-dotnet {name}={major}: .NET version must be one of "
                             f"{', '.join(map(str, dotnet.SUPPORTED))}")
    ms_host = f"{spec.site}-ms"
    all_hosts = [ms_host] + [n for n in names if n != ms_host]
    bad_faults = sorted(set(spec.faults) - set(all_hosts))
    if bad_faults:
        raise UsageError(f"--fault names unknown hosts {', '.join(bad_faults)} "
                         f"(hosts: {', '.join(all_hosts)})")
    seed = spec.seed if spec.seed is not None else zlib.crc32(spec.site.encode("utf-8"))
    rng = random.Random(seed)
    admin_password = _password()
    hosts: dict[str, Any] = {}
    pid_rng = random.Random(seed ^ 0x5EED)
    for name in all_hosts:
        roles = []
        if name == ms_host:
            roles.append(ROLE_MS)
        if name in names:
            roles.append(ROLE_GATEWAY)
        gw_version = None
        if name in names:
            gw_version = product_version(spec.gateway_versions.get(name, spec.version))
        faults = Faults()
        for profile in spec.faults.get(name, []):
            faults.set(profile)
        host = HostState(
            name=name, roles=roles, gateway_version=gw_version, faults=faults,
            dotnet_version=spec.gateway_dotnet.get(name) if name in names else None,
            app_pool=(AppPool(worker_pid=pid_rng.randrange(1000, 60000))
                      if name in names else None),
            users={WINDOWS_ADMIN: admin_password},
        )
        hosts[name] = host.to_json()
    site_id = _seeded_uuid(rng)
    hosts[ms_host]["cameras"] = _cameras(rng, spec.cameras, spec.site)
    data = {
        "format": FORMAT,
        "site": spec.site,
        "seed": seed,
        "encryption": spec.encryption,
        "created": utc_now_text(),
        "management_server": {"host": ms_host, "version": product_version(ms_version)},
        "xprotect_users": {XPROTECT_USER: _password()},
        "health_user": XPROTECT_USER if spec.health_user_in_inventory else None,
        "windows_admin": {"user": WINDOWS_ADMIN, "password": admin_password},
        "site_id": site_id,
        "token_key": secrets.token_hex(32),
        "admin_token": secrets.token_hex(16),
        "hosts": hosts,
        "process": None,
    }
    d.mkdir(parents=True, exist_ok=True)
    state = SimState(d, data)
    for host in state.hosts.values():
        _install_host(state, host, spec.production_files.get(host.name))
    state.save()
    write_inventory(state)
    write_fleet(state)
    return state


def _install_host(state: SimState, host: HostState, production: str | None) -> None:
    root = state.dir / HOSTS_DIR / host.name
    dot = root / ".host"
    dot.mkdir(parents=True, exist_ok=True)
    (dot / "hostname").write_text(host.name + "\n", "utf-8")
    if host.is_gateway and host.gateway_version:
        install = windows_to_local(root, DEFAULT_INSTALL_DIR)
        install.mkdir(parents=True, exist_ok=True)
        base = reference_base_text(Version.parse(host.gateway_version), state.management_url,
                                   state.gateway_root_url(host.name))
        (install / "appsettings.json").write_text(base, "utf-8")
        (install / "nlog.config").write_text(DEFAULT_NLOG_CONFIG, "utf-8")
        if production is not None:
            (install / "appsettings.Production.json").write_text(production, "utf-8")
        pools = {APP_POOL: {"state": "Started", "last_recycle": None}}
        (dot / "apppools.json").write_text(json.dumps(pools, indent=2) + "\n", "utf-8")
        from gwctl.sim.hostenv import install_application_host

        install_application_host(root)
    if host.is_management_server:
        write_server_config(state, host.name)
    write_installed_products(state, host)


def write_server_config(state: SimState, host_name: str) -> None:
    path = windows_to_local(state.dir / HOSTS_DIR / host_name, DEFAULT_SERVER_CONFIG)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<server>\n'
        f"  <version>{state.management_version}</version>\n"
        f"  <name>{host_name}</name>\n"
        f"  <siteId>{state.site_id}</siteId>\n"
        "</server>\n", "utf-8")


def write_installed_products(state: SimState, host: HostState) -> None:
    """``.host/installed-products.json``: what the Uninstall registry keys would say."""
    products: dict[str, str] = {}
    if host.is_gateway and host.gateway_version:
        products[GATEWAY_PRODUCT] = host.gateway_version
    if host.is_management_server:
        products[MS_PRODUCT] = state.management_version
    path = state.dir / HOSTS_DIR / host.name / ".host" / "installed-products.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(products, indent=2) + "\n", "utf-8")


# -- inventory and fleet ----------------------------------------------------------------


def _group_name(site: str) -> str:
    # Ansible group names should be valid Python identifiers
    name = re.sub(r"[^A-Za-z0-9_]", "_", site)
    return name if not name[:1].isdigit() else f"site_{name}"


def _yaml(data: Any) -> str:
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when present
    text: str = yaml.dump(data, Dumper=dumper, sort_keys=False, default_flow_style=False,
                          allow_unicode=True)
    return text


def inventory_data(state: SimState) -> dict[str, Any]:
    process = state.process
    user, password = state.windows_admin
    hosts: dict[str, Any] = {}
    for host in state.hosts.values():
        entry: dict[str, Any] = {
            "ansible_host": "127.0.0.1",
            "ansible_port": process.wsman_port if process and process.wsman_port else None,
            "ansible_connection": "winrm",
            "ansible_winrm_scheme": "http",
            "ansible_winrm_path": f"/wsman/{host.name}",
            "ansible_winrm_transport": "ntlm",
            "ansible_user": user,
            "ansible_password": password,
        }
        if state.kerberos is not None:
            entry.update(_kerberos_logon(state.kerberos, host.name))
        if host.is_gateway:
            entry["gwctl_gateway_url"] = (f"http://127.0.0.1:{host.port}/api"
                                          if host.port else None)
            if state.health_user is not None:
                entry["gwctl_health_user"] = state.health_user
                entry["gwctl_health_password"] = state.xprotect_users[state.health_user]
        entry["gwctl_roles"] = list(host.roles)
        hosts[host.name] = entry
    # the Ansible role's fleet file: the playbooks then run with no extra variables
    fleet = str((state.dir / FLEET_FILE).resolve())
    return {"all": {"vars": {"xprotect_api_gateway_fleet": fleet},
                    "children": {_group_name(state.site): {"hosts": hosts}}}}


def _kerberos_logon(realm: SimRealm, host: str) -> dict[str, Any]:
    return {
        "ansible_winrm_transport": "kerberos",
        "ansible_user": realm.user,
        "ansible_password": realm.password,
        # reached at 127.0.0.1: the service principal is HTTP/<host>, as for a domain
        # host reached by address
        "ansible_winrm_kerberos_hostname_override": host,
        # Ansible's own kinit runs with an empty environment: the realm's krb5.conf
        # reaches it only by name
        "ansible_winrm_kinit_env_vars": ["KRB5_CONFIG"],
    }


def write_inventory(state: SimState) -> Path:
    path = state.dir / INVENTORY_FILE
    header = ("# Ansible inventory of the gwctl simulator site "
              f"{state.site!r} (generated; rewritten by 'gwctl sim up').\n"
              "# The hosts are emulated on loopback: not Windows, not IIS.\n")
    _write_private(path, header + _yaml(inventory_data(state)))
    return path


def fleet_data(state: SimState) -> dict[str, Any]:
    ms_version = Version.parse(state.management_version)
    gateways: dict[str, Any] = {}
    for host in state.gateways():
        assert host.gateway_version is not None
        entry: dict[str, Any] = {"host": host.name}
        if host.is_management_server:
            entry["colocated"] = True
        entry["version"] = Version.parse(host.gateway_version).name
        if host.dotnet_version is not None:
            entry["settings"] = {"dotnet_version": host.dotnet_version}
        if host.port:
            entry["url"] = f"http://127.0.0.1:{host.port}/api"
        gateways[host.name] = entry
    return {
        "apiVersion": "gwctl/v1",
        "sites": {
            state.site: {
                "description": f"gwctl simulator site (state directory {state.dir})",
                "management_server": {
                    "host": state.management_host,
                    "version": ms_version.name,
                    "encryption": state.encryption,
                },
                "gateways": gateways,
            }
        },
    }


def write_fleet(state: SimState) -> Path:
    path = state.dir / FLEET_FILE
    header = ("# A gwctl fleet describing the simulated site (generated by 'gwctl sim up';\n"
              "# copy it and add settings). Gateway URLs point at the loopback emulation.\n")
    write_atomic(path, (header + _yaml(fleet_data(state))).encode("utf-8"), 0o644)
    return path


def parse_assignments(values: Iterable[str], what: str) -> dict[str, list[str]]:
    """``["a=x", "a=y", "b=z"]`` -> ``{"a": ["x", "y"], "b": ["z"]}``."""
    out: dict[str, list[str]] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise UsageError(f"{what} {item!r}: expected NAME=VALUE")
        out.setdefault(name.strip(), []).append(value.strip())
    return out
