"""The IIS side of an emulated gateway host: its files, and staging conditions on them.

An emulated host keeps what Windows keeps (see `gwctl.ops.hostread` for the layout):
``applicationHost.config`` is installed with every gateway host -- the gateway's pool,
running as Network Service as the manual says it usually does, with IIS's default
rapid-fail protection, and the ``Default Web Site`` (id 1, logging W3C to IIS's default
folder: `gwctl.sim.iislog` writes it) whose ``/api`` application runs in it.
``web.config`` is *not* installed: a host without one answers 503 when its
configuration does not load, as the simulator always did (the manual's troubleshooting
chapter lists 502/503). Staging a hosting model writes one, and from then on the
gateway fails as ANCM does (`gwctl.iis.behaviour`).

`stage` changes these files as an administrator would (``gwctl sim host-env``); the
gateway picks the change up at its next start, which the caller triggers with a recycle
(IIS restarts an application whose web.config changes). ``app_offline.htm`` needs no
restart: it is looked for on every request, as ANCM polls for it.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from gwctl.errors import UsageError
from gwctl.fleet.model import APP_POOL, DEFAULT_INSTALL_DIR
from gwctl.ops.hostread import APPLICATION_HOST, ENVIRONMENT_FILE
from gwctl.ops.winpaths import child, split_windows_path

WEB_CONFIG = "web.config"
APP_OFFLINE = "app_offline.htm"
LAYERS = ("machine", "app-pool", "web.config")
DEFAULT_OFFLINE_PAGE = ("<!DOCTYPE html><html><head><title>Maintenance</title></head><body>"
                        "<h1>The API Gateway is offline for maintenance.</h1></body></html>\n")

_APPHOST = """<?xml version="1.0" encoding="UTF-8"?>
<configuration>
  <system.applicationHost>
    <applicationPools>
      <add name="DefaultAppPool" />
      <add name="{pool}" managedRuntimeVersion="">
        <processModel identityType="NetworkService" />
      </add>
      <applicationPoolDefaults managedRuntimeVersion="v4.0">
        <processModel identityType="ApplicationPoolIdentity" />
      </applicationPoolDefaults>
    </applicationPools>
    <sites>
      <siteDefaults>
        <logFile logFormat="W3C" directory="%SystemDrive%\\inetpub\\logs\\LogFiles" />
      </siteDefaults>
      <site name="Default Web Site" id="1">
        <application path="/" applicationPool="DefaultAppPool">
          <virtualDirectory path="/" physicalPath="%SystemDrive%\\inetpub\\wwwroot" />
        </application>
        <application path="/api" applicationPool="{pool}">
          <virtualDirectory path="/" physicalPath="{install}" />
        </application>
      </site>
    </sites>
  </system.applicationHost>
</configuration>
"""

_WEB_CONFIG = """<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <location path="." inheritInChildApplications="false">
    <system.webServer>
      <handlers>
        <add name="aspNetCore" path="*" verb="*" modules="AspNetCoreModuleV2"
             resourceType="Unspecified" />
      </handlers>
      <aspNetCore processPath=".\\VideoOS.ApiGateway.exe" stdoutLogEnabled="false"
                  stdoutLogFile=".\\logs\\stdout" hostingModel="inprocess" />
    </system.webServer>
  </location>
</configuration>
"""


def local(root: Path, windows: str) -> Path:
    drive, parts = split_windows_path(windows)
    current = root / drive
    for part in parts:
        current = child(current, part)
    return current


def install_application_host(root: Path, pool: str = APP_POOL,
                             install_dir: str = DEFAULT_INSTALL_DIR) -> None:
    path = local(root, APPLICATION_HOST)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = _APPHOST.format(pool=_attr(pool), install=_attr(install_dir))
    path.write_text(text, "utf-8")


def _attr(value: str) -> str:
    return (value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
            .replace(">", "&gt;"))


@dataclass
class Staging:
    """What ``gwctl sim host-env`` changes (None: leave as it is)."""

    environment: str | None = None
    #: where `environment` is set: machine (registry), app-pool, web.config
    layer: str = "machine"
    #: remove ASPNETCORE_ENVIRONMENT from every layer
    clear_environment: bool = False
    #: text of app_offline.htm (True: a default page), False: remove it
    app_offline: str | bool | None = None
    hosting_model: str | None = None
    rapid_fail: bool | None = None
    rapid_fail_max_crashes: int | None = None
    stdout_log: bool | None = None
    #: a directory (Windows path) made writable or not for the pool identity
    log_dir: str | None = None
    log_dir_writable: bool | None = None
    #: another web.config variable (name, value) -- e.g. a connection string
    web_variable: tuple[str, str] | None = None


def _write_xml(path: Path, root: ET.Element) -> None:
    ET.indent(root)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(b'<?xml version="1.0" encoding="utf-8"?>\n'
                    + ET.tostring(root, encoding="utf-8") + b"\n")
    os.replace(tmp, path)


def _web_config(install: Path) -> tuple[Path, ET.Element, ET.Element]:
    path = child(install, WEB_CONFIG)
    if not path.is_file():
        path.write_text(_WEB_CONFIG, "utf-8")
    root = ET.parse(path).getroot()
    anc = root.find("location/system.webServer/aspNetCore")
    if anc is None:
        anc = root.find("system.webServer/aspNetCore")
    if anc is None:
        raise UsageError(f"{path} has no <aspNetCore> element")
    return path, root, anc


def _set_variable(parent: ET.Element, container: str, tag: str, name: str,
                  value: str | None) -> None:
    box = parent.find(container)
    if box is None:
        if value is None:
            return
        box = ET.SubElement(parent, container)
    for el in list(box.findall(tag)):
        if (el.get("name") or "").upper() == name.upper():
            box.remove(el)
    if value is not None:
        ET.SubElement(box, tag, {"name": name, "value": value})


def _pool_entry(root: Path) -> tuple[Path, ET.Element, ET.Element]:
    path = local(root, APPLICATION_HOST)
    if not path.is_file():
        install_application_host(root)
    doc = ET.parse(path).getroot()
    for entry in doc.findall("system.applicationHost/applicationPools/add"):
        if (entry.get("name") or "").casefold() == APP_POOL.casefold():
            return path, doc, entry
    raise UsageError(f"{path} defines no application pool {APP_POOL!r}")


def _machine(root: Path, name: str, value: str | None) -> None:
    path = root / ".host" / ENVIRONMENT_FILE
    try:
        data = json.loads(path.read_text("utf-8"))
    except (FileNotFoundError, ValueError):
        data = {}
    data = {k: v for k, v in data.items() if k.upper() != name.upper()}
    if value is not None:
        data[name] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", "utf-8")


def stage(root: Path, install: Path, s: Staging) -> list[str]:
    """Apply `s` to the host under `root`; what was done, one line each."""
    if s.layer not in LAYERS:
        raise UsageError(f"unknown layer {s.layer!r} (one of {', '.join(LAYERS)})")
    if s.hosting_model not in (None, "inprocess", "outofprocess"):
        raise UsageError("--hosting-model must be inprocess or outofprocess")
    done: list[str] = []
    var = "ASPNETCORE_ENVIRONMENT"
    if s.clear_environment:
        _machine(root, var, None)
        path, doc, entry = _pool_entry(root)
        _set_variable(entry, "environmentVariables", "add", var, None)
        _write_xml(path, doc)
        if child(install, WEB_CONFIG).is_file():
            wpath, wroot, anc = _web_config(install)
            _set_variable(anc, "environmentVariables", "environmentVariable", var, None)
            _write_xml(wpath, wroot)
        done.append(f"{var} removed from the machine, the app pool and web.config")
    if s.environment is not None:
        if s.layer == "machine":
            _machine(root, var, s.environment)
        elif s.layer == "app-pool":
            path, doc, entry = _pool_entry(root)
            _set_variable(entry, "environmentVariables", "add", var, s.environment)
            _write_xml(path, doc)
        else:
            wpath, wroot, anc = _web_config(install)
            _set_variable(anc, "environmentVariables", "environmentVariable", var,
                          s.environment)
            _write_xml(wpath, wroot)
        done.append(f"{var}={s.environment} set in {s.layer}")
    if s.web_variable is not None:
        wpath, wroot, anc = _web_config(install)
        _set_variable(anc, "environmentVariables", "environmentVariable", *s.web_variable)
        _write_xml(wpath, wroot)
        done.append(f"web.config variable {s.web_variable[0]} set")
    if s.hosting_model is not None or s.stdout_log is not None:
        wpath, wroot, anc = _web_config(install)
        if s.hosting_model is not None:
            anc.set("hostingModel", s.hosting_model)
            done.append(f"web.config hostingModel={s.hosting_model}")
        if s.stdout_log is not None:
            anc.set("stdoutLogEnabled", "true" if s.stdout_log else "false")
            done.append(f"web.config stdoutLogEnabled={'true' if s.stdout_log else 'false'}")
        _write_xml(wpath, wroot)
    if s.rapid_fail is not None or s.rapid_fail_max_crashes is not None:
        path, doc, entry = _pool_entry(root)
        failure = entry.find("failure")
        if failure is None:
            failure = ET.SubElement(entry, "failure")
        if s.rapid_fail is not None:
            failure.set("rapidFailProtection", "true" if s.rapid_fail else "false")
        if s.rapid_fail_max_crashes is not None:
            if s.rapid_fail_max_crashes < 1:
                raise UsageError("--rapid-fail-max-crashes must be at least 1")
            failure.set("rapidFailProtectionMaxCrashes", str(s.rapid_fail_max_crashes))
        _write_xml(path, doc)
        done.append(f"app pool rapid-fail protection: {failure.attrib}")
    if s.app_offline is not None:
        offline = child(install, APP_OFFLINE)
        if s.app_offline is False:
            offline.unlink(missing_ok=True)
            done.append(f"{APP_OFFLINE} removed")
        else:
            page = DEFAULT_OFFLINE_PAGE if s.app_offline is True else s.app_offline
            offline.write_text(page, "utf-8")
            done.append(f"{APP_OFFLINE} written")
    if s.log_dir is not None and s.log_dir_writable is not None:
        directory = local(root, s.log_dir)
        directory.mkdir(parents=True, exist_ok=True)
        # the modelled ACL (gwctl.ops.hostkey): 0700 is Administrators and SYSTEM only
        os.chmod(directory, 0o755 if s.log_dir_writable else 0o700)
        done.append(f"{s.log_dir}: the pool identity "
                    f"{'may' if s.log_dir_writable else 'may not'} create files")
    return done


def needs_restart(s: Staging) -> bool:
    """Whether the staged change reaches the gateway only through a new start."""
    return any(v is not None for v in (s.environment, s.hosting_model, s.rapid_fail,
                                       s.rapid_fail_max_crashes, s.stdout_log, s.web_variable,
                                       s.log_dir_writable)) or s.clear_environment


__all__ = [
    "APP_OFFLINE",
    "LAYERS",
    "WEB_CONFIG",
    "Staging",
    "install_application_host",
    "local",
    "needs_restart",
    "stage",
]
