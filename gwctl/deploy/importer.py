"""Bringing a hand-edited gateway under management: live files -> fleet YAML.

The live ``appsettings.Production.json`` is mapped onto gwctl's settings (CORS, WebRTC,
Logging, ReverseProxy) and everything else goes to the raw ``appsettings`` escape
hatch; ``nlog.config`` is mapped onto the ``nlog`` settings when it has the shape of the
stock file. Secrets are never copied: every value `gwctl.output.redact` classifies as
secret -- a TURN credential, a ``ClientSecret``, a connection string with a password, an
address with one in its user information, an nlog target's password -- becomes an
``env:`` reference named after the gateway and the key (``GW1_AUTH_CLIENTSECRET``),
listed at the top for the user to provide. The result is then rendered (with those
references standing for the live values) and compared with the live configuration; any
difference is reported as a note, so an import that would change the gateway never goes
unnoticed.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from gwctl.errors import GwctlError
from gwctl.netjson.config import SEP, fold
from gwctl.netjson.parser import parse, to_python
from gwctl.output import redact

NLOG_NS = "{http://www.nlog-project.org/schemas/NLog.xsd}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"

_CORS_KEYS = {
    "enabled": "enabled",
    "access-control-allow-origin": "allow_origins",
    "access-control-allow-headers": "allow_headers",
    "access-control-allow-methods": "allow_methods",
}
_ARCHIVE_ATTRS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "archiveevery": ("every", str),
    "archiveabovesize": ("above_size", int),
    "maxarchivefiles": ("max_files", int),
    "archiveoldfileonstartup": ("on_startup", lambda v: v.lower() == "true"),
    "archivenumbering": ("numbering", str),
    "archivesuffixformat": ("suffix_format", str),
}
_STOCK_TARGET_ATTRS = {"name", "filename", "archivefilename", "createdirs", "layout",
                       *_ARCHIVE_ATTRS}


@dataclass
class Imported:
    gateway: str
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: environment variable -> where its value was found, for the references made
    secrets: dict[str, str] = field(default_factory=dict)
    #: environment variable -> the live value (to verify the import; never printed)
    values: dict[str, str] = field(default_factory=dict, repr=False)

    def reference(self, value: str, where: str, *name: str | int) -> str:
        """An ``env:`` reference standing for `value`, named after the gateway and `name`."""
        base = _env_name(self.gateway, *map(str, name))
        env, n = base, 1
        while env in self.values and self.values[env] != value:
            n += 1
            env = f"{base}_{n}"
        self.secrets[env] = where
        self.values[env] = value
        return f"env:{env}"

    def without_secrets(self, node: Any, path: tuple[str | int, ...]) -> Any:
        """`node` (a subtree of the live file at `path`) with each secret value replaced
        by a reference."""
        if isinstance(node, dict):
            return {k: self.without_secrets(v, (*path, k)) for k, v in node.items()}
        if isinstance(node, list):
            return [self.without_secrets(v, (*path, i)) for i, v in enumerate(node)]
        key = SEP.join(map(str, path))
        if isinstance(node, int | float) and not isinstance(node, bool) \
                and redact.is_secret_key(key):
            node = str(node)
        if isinstance(node, str) and redact.has_secret(key, node):
            return self.reference(node, key, *path)
        return node


def _env_name(*parts: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", "_".join(parts).upper()).strip("_")


def settings_from_appsettings(text: str, *, file: str, gateway: str) -> Imported:
    out = Imported(gateway)
    data = to_python(parse(text, file=file).root)
    if not isinstance(data, dict):
        out.notes.append("appsettings.Production.json is not an object; nothing imported")
        return out
    raw: dict[str, Any] = {}
    for key, value in data.items():
        k = fold(key)
        if k == "cors" and isinstance(value, dict):
            out.settings["cors"] = _cors(value, raw, key)
        elif k == "webrtc" and isinstance(value, dict):
            _webrtc(value, out, raw, key)
        elif k == "logging" and isinstance(value, dict) and set(map(fold, value)) == {"loglevel"}:
            levels = next(iter(value.values()))
            out.settings["logging"] = {"levels": {str(c): str(v) for c, v in levels.items()}}
        elif k == "reverseproxy" and isinstance(value, dict):
            rp = {fold(sk): sv for sk, sv in value.items()}
            spelled = {fold(sk): sk for sk in value}
            section = {}
            for name in ("routes", "clusters"):
                if name in rp:
                    section[name] = out.without_secrets(rp.pop(name), (key, spelled[name]))
            out.settings["reverse_proxy"] = section
            if rp:
                raw[key] = {sk: sv for sk, sv in value.items() if fold(sk) in rp}
        else:
            raw[key] = value
    if raw:
        out.settings["appsettings"] = out.without_secrets(raw, ())
        out.notes.append(f"kept as raw appsettings (not modelled): {', '.join(raw)}")
    return out


def _cors(value: dict[str, Any], raw: dict[str, Any], section: str) -> dict[str, Any]:
    cors: dict[str, Any] = {}
    for key, v in value.items():
        name = _CORS_KEYS.get(fold(key))
        if name is None:
            raw.setdefault(section, {})[key] = v
        elif name == "enabled":
            cors["enabled"] = v if isinstance(v, bool) else str(v).lower() == "true"
        else:
            cors[name] = [part.strip() for part in str(v).split(",") if part.strip()]
    return cors


def _webrtc(value: dict[str, Any], out: Imported, raw: dict[str, Any], section: str) -> None:
    servers: list[dict[str, Any]] = []
    for key, v in value.items():
        if fold(key) == "iceservers" and isinstance(v, list):
            for i, item in enumerate(v):
                if not isinstance(item, dict):
                    continue
                server: dict[str, Any] = {}
                for ik, iv in item.items():
                    name = fold(ik)
                    if name == "credential":
                        server["credential"] = out.reference(
                            str(iv), SEP.join((section, key, str(i), ik)), "ice", i,
                            "credential")
                    elif name in ("url", "username"):
                        server[name] = str(iv)
                servers.append(server)
        elif fold(key) == "stun" and isinstance(v, dict):
            address = _dig(v, "hostname", "address")
            if address:
                servers.append({"url": str(address)})
        else:
            raw.setdefault(section, {})[key] = v
    out.settings["webrtc"] = {"ice_servers": servers}


def _dig(value: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        found = next((v for k, v in value.items() if fold(k) == key), None)
        if not isinstance(found, dict) and key != keys[-1]:
            return None
        value = found  # type: ignore[assignment]
    return value


def settings_from_nlog(text: str, out: Imported) -> dict[str, Any] | None:
    """The ``nlog`` settings for a live nlog.config (None when it cannot be modelled;
    `out` gets the notes and the secret references)."""
    try:
        root = ET.fromstring(text.encode("utf-8"))
    except ET.ParseError as exc:
        out.notes.append(f"nlog.config is not well-formed XML ({exc}); not imported")
        return None
    ns = NLOG_NS if root.tag.startswith(NLOG_NS) else ""
    variables = {v.get("name", ""): v.get("value", "") for v in root.iter(f"{ns}variable")}
    targets = list(root.iter(f"{ns}target"))
    main = next((t for t in targets if t.get("name") == "logfile"), None)
    if main is None:
        out.notes.append("nlog.config has no 'logfile' target: keep managing it by hand, or "
                         "supply it as a template (nlog.template)")
        return None
    nlog: dict[str, Any] = {}
    if "logDirectory" in variables:
        nlog["log_directory"] = variables["logDirectory"]
    if "archiveDirectory" in variables:
        nlog["archive_directory"] = variables["archiveDirectory"]
    if "defaultLayout" in variables:
        nlog["layout"] = " ".join(variables["defaultLayout"].split())
    for attr, key in (("internalLogLevel", "internal_log_level"),
                      ("internalLogFile", "internal_log_file")):
        if root.get(attr) is not None:
            nlog[key] = root.get(attr)
    archive: dict[str, Any] = {}
    for attr, value in main.attrib.items():
        a = attr.lower()
        if a in _ARCHIVE_ATTRS:
            name, conv = _ARCHIVE_ATTRS[a]
            try:
                archive[name] = conv(value)
            except ValueError:
                pass
    if archive:
        nlog["archive"] = archive
    extras = []
    for t in targets:
        if t is main:
            continue
        attrs = {k: out.without_secrets(v, ("nlog", t.get("name", ""), k))
                 for k, v in t.attrib.items() if k not in ("name", XSI_TYPE)}
        extras.append({"name": t.get("name", ""), "type": t.get(XSI_TYPE, ""),
                       "attributes": attrs})
    if extras:
        nlog["extra_targets"] = extras
    rules = []
    for logger in root.iter(f"{ns}logger"):
        rule: dict[str, Any] = {"logger": logger.get("name", "*"),
                                "write_to": logger.get("writeTo", "")}
        for attr, key in (("minlevel", "min_level"), ("maxlevel", "max_level")):
            if logger.get(attr):
                rule[key] = logger.get(attr)
        if (logger.get("final") or "").lower() == "true":
            rule["final"] = True
        rules.append(rule)
    if rules:
        nlog["rules"] = rules
    unknown = [a for a in main.attrib if a.lower() not in _STOCK_TARGET_ATTRS
               and a != XSI_TYPE]
    if unknown:
        out.notes.append("nlog.config target 'logfile' attributes not imported: "
                         f"{', '.join(unknown)}")
    return nlog


def management_server(base_text: str | None, file: str) -> tuple[str, bool] | None:
    """(host, uses https) of the management server, from the base file's
    ``managementserver`` cluster (the installer writes it there)."""
    if not base_text:
        return None
    data = to_python(parse(base_text, file=file).root)
    rp = _dig(data, "reverseproxy", "clusters", "managementserver", "destinations") \
        if isinstance(data, dict) else None
    if isinstance(rp, dict):
        for dest in rp.values():
            address = _dig(dest, "address") if isinstance(dest, dict) else None
            if address:
                parts = urlsplit(str(address))
                if parts.hostname:
                    return parts.hostname, parts.scheme == "https"
    return None


class NotAGateway(GwctlError):
    """The host has no API Gateway to import (a management server alone, say)."""


@dataclass
class ImportedGateway:
    """One host's gateway as fleet data, with what the user must know about it."""

    inventory_host: str
    site: str
    name: str
    #: the site's ``management_server`` as far as this host could tell
    management_server: dict[str, Any]
    #: whether the management server's version was read (ServerConfig.xml on this host)
    ms_version_read: bool
    gateway: dict[str, Any]
    notes: list[str]
    #: environment variable -> the key whose live value it stands for
    secrets: dict[str, str]

    def comment_lines(self, ms_version_known: bool = False) -> list[str]:
        """The notes and the secrets to provide, as lines for YAML comments;
        `ms_version_known`: another host of the site read the management server's
        version."""
        lines = [f"Imported by gwctl from inventory host {self.inventory_host}."]
        notes = list(self.notes)
        if not (self.ms_version_read or ms_version_known):
            notes.append("the management server's version was not readable from this "
                         "host; the gateway's was used")
        lines += [f"NOTE: {redact.scrub(n)}" for n in notes]
        lines += [f"SECRET: set {env} to the value of {where} (or change the reference) "
                  "before rendering" for env, where in self.secrets.items()]
        return lines


def fleet_host_name(host: Any) -> str:
    """The gateway's ``host`` in the fleet: the name the host is known by, never the
    address the inventory connects to (``ansible_host`` is often an IP, a tunnel or
    127.0.0.1). ``gwctl_host`` declares it (an FQDN) where the inventory uses an alias;
    else the Kerberos host name override (the host's name in AD); else the inventory
    host's name."""
    for var in ("gwctl_host", "ansible_winrm_kerberos_hostname_override"):
        value = host.vars.get(var)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return str(host.name)


def import_gateway(transport: Any, host: Any, *, site: str | None = None,
                   install_dir: str | None = None) -> ImportedGateway:
    """Read a host's live files and versions over `transport`: its gateway as fleet data."""
    from gwctl.fleet.colocation import same_host
    from gwctl.fleet.model import DEFAULT_INSTALL_DIR, DEFAULT_SERVER_CONFIG
    from gwctl.hosts.facts import BASE_FILE, read_live_files
    from gwctl.render.files import APPSETTINGS, NLOG
    from gwctl.textio import decode

    directory = (install_dir or host.vars.get("gwctl_install_dir")
                 or DEFAULT_INSTALL_DIR).rstrip("\\")
    files = read_live_files(transport, {n: f"{directory}\\{n}"
                                        for n in (BASE_FILE, APPSETTINGS, NLOG)})

    def text(name: str) -> str | None:
        f = files[name]
        return decode(f.content, file=f.path) if f.exists and f.content is not None else None

    versions = transport.run("read_versions", {"install_dir": directory,
                                               "server_config": DEFAULT_SERVER_CONFIG})
    gw_version = (versions.get("gateway") or {}).get("version")
    ms_version = (versions.get("management_server") or {}).get("version")
    if gw_version is None and not versions.get("install_dir_exists"):
        raise NotAGateway(f"{host.name}: no API Gateway here (not installed, and no "
                          f"{directory})")
    ref = str(host.vars.get("gwctl_gateway") or host.name)
    ref_site, _, name = ref.rpartition("/")
    imported = Imported(name)
    override = text(APPSETTINGS)
    if override is not None:
        imported = settings_from_appsettings(override, file=files[APPSETTINGS].path,
                                             gateway=name)
    nlog_text = text(NLOG)
    if nlog_text is not None:
        nlog = settings_from_nlog(nlog_text, imported)
        if nlog is not None:
            imported.settings["nlog"] = nlog
    fleet_host = fleet_host_name(host)
    found_ms = management_server(text(BASE_FILE), files[BASE_FILE].path)
    ms_host, encryption = found_ms or (fleet_host, False)
    if gw_version is None:
        imported.notes.append("the gateway's installed version could not be read; "
                              "set it before applying")
    gateway: dict[str, Any] = {"host": fleet_host}
    # the management server's own configuration file on this host proves co-location,
    # whatever names the inventory and the base file use
    if ms_version is not None or same_host(fleet_host, ms_host):
        gateway["colocated"] = True
        if found_ms is not None and same_host(fleet_host, ms_host) is None:
            imported.notes.append(f"co-located (the management server's ServerConfig.xml "
                                  f"is on this host), though the base file names the "
                                  f"management server {ms_host!r}")
    if gw_version:
        gateway["version"] = gw_version
    if directory != DEFAULT_INSTALL_DIR.rstrip("\\"):
        gateway["install_dir"] = directory
    if imported.settings:
        gateway["settings"] = imported.settings
    site_name = str(site or ref_site or host.vars.get("gwctl_site")
                    or (host.groups[0] if host.groups else "imported"))
    ms = {"host": ms_host, "version": ms_version or gw_version or "2025 R2",
          "encryption": encryption}
    doc = document_for([(site_name, ms, name, gateway)])
    imported.notes.extend(verify(doc, text(BASE_FILE), override, imported.values))
    return ImportedGateway(str(host.name), site_name, name, ms, ms_version is not None,
                           gateway, imported.notes, imported.secrets)


def document_for(gateways: list[tuple[str, dict[str, Any], str, dict[str, Any]]]
                 ) -> dict[str, Any]:
    """A fleet document of (site, management server, gateway name, gateway) entries."""
    sites: dict[str, Any] = {}
    for site, ms, name, gateway in gateways:
        entry = sites.setdefault(site, {"management_server": dict(ms), "gateways": {}})
        entry["gateways"][name] = gateway
    return {"apiVersion": "gwctl/v1", "sites": sites}


def import_host(transport: Any, host: Any, *, site: str | None = None,
                install_dir: str | None = None) -> str:
    """Read a host's live files over `transport` and return the fleet YAML text."""
    return render_imports([import_gateway(transport, host, site=site,
                                          install_dir=install_dir)])


def combine_sites(imports: list[ImportedGateway]) -> dict[str, tuple[dict[str, Any], bool]]:
    """site -> (its management server, whether its version was read), agreed across the
    imports: one read on the management server's own host (ServerConfig.xml) wins over
    the others' guesses."""
    chosen: dict[str, ImportedGateway] = {}
    for item in imports:
        best = chosen.get(item.site)
        if best is None or (item.ms_version_read and not best.ms_version_read):
            chosen[item.site] = item
    return {site: (item.management_server, item.ms_version_read)
            for site, item in chosen.items()}


def render_imports(imports: list[ImportedGateway]) -> str:
    """Fleet YAML text for `imports`, each gateway preceded by its notes (comments)."""
    import yaml

    mss = combine_sites(imports)
    doc = document_for([(i.site, mss[i.site][0], i.name, i.gateway) for i in imports])
    header = [f"# {line}" for i in imports for line in i.comment_lines(mss[i.site][1])]
    body = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
    return "\n".join(header) + "\n" + body


def verify(doc: dict[str, Any], base_text: str | None, live_override: str | None,
           secrets: dict[str, str]) -> list[str]:
    """Differences between what the imported fleet renders -- its references resolved to
    the live `secrets` -- and what the host runs now."""
    from pathlib import Path

    from gwctl.fleet.model import build_fleet
    from gwctl.fleet.secrets import SecretResolver
    from gwctl.fleet.source import combine
    from gwctl.fleet.yaml_reader import YamlSource
    from gwctl.netjson.config import Effective, FlatConfig, flatten_document, flatten_text
    from gwctl.render.appsettings import render_appsettings
    from gwctl.render.jsonout import dumps

    fleet, problems = build_fleet(combine([YamlSource("<imported>", doc)], Path(".")))
    if fleet is None:
        return [f"the imported fleet does not build: {p.message}" for p in problems]
    gw = next(fleet.gateways())
    base = (flatten_document(parse(base_text, file="appsettings.json"))
            if base_text else FlatConfig())
    live = (flatten_document(parse(live_override, file="live"))
            if live_override else FlatConfig())
    rendered = dumps(render_appsettings(gw), secrets="resolve",
                     resolver=SecretResolver(Path("."), env=secrets))
    before = Effective([base, live])
    after = Effective([base, flatten_text(rendered, file="rendered")])
    notes = []
    for key in sorted(set(before.entries) | set(after.entries)):
        old, new = before.get(key), after.get(key)
        if old != new:
            old, new = redact.mask_change(key, old, new), redact.mask_change(key, new, old)
            notes.append(f"rendering the import would change {key}: {old!r} -> {new!r}")
    return notes
