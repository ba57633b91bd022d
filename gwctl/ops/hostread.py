"""The ``read_host`` operation on a directory host (twin of ``read_host.ps1``).

Where a directory host keeps what Windows keeps elsewhere:

- ``web.config`` and ``app_offline.htm`` in the install directory, as on Windows;
- ``applicationHost.config`` at its Windows path under the root
  (``<root>/C/Windows/System32/inetsrv/config/applicationHost.config``);
- the machine environment (registry ``HKLM\\SYSTEM\\CurrentControlSet\\Control\\Session
  Manager\\Environment``) in ``<root>/.host/environment.json``, ``{"NAME": "value"}``;
- directory ACLs in POSIX mode bits, as `gwctl.ops.hostkey` models them: a directory
  whose mode grants nothing to group and others (0700) is Administrators and SYSTEM only;
  any other one lets local accounts -- the pool identity among them -- create files.

Both XML files are read as .NET reads them (BOM: UTF-8, UTF-16, UTF-32; else UTF-8) and
refused when they carry a DTD, as the script's ``XmlReaderSettings`` (``DtdProcessing =
Prohibit``) refuse it: no entity is ever expanded.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gwctl.errors import InputError
from gwctl.iis.hostinfo import MASKED, VISIBLE_VARIABLES
from gwctl.ops.hostkey import local_user_may_create
from gwctl.ops.params import Params, bad
from gwctl.ops.winpaths import join_windows
from gwctl.textio import decode

APPLICATION_HOST = r"C:\Windows\System32\inetsrv\config\applicationHost.config"
ENVIRONMENT_FILE = "environment.json"
_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.\d+)?$")
_DOCTYPE = re.compile(r"<!DOCTYPE", re.IGNORECASE)


class _Unreadable(Exception):
    pass


def _xml(path: Path, windows: str) -> ET.Element | None:
    """The document's root; None when the file does not exist; `_Unreadable` otherwise."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise _Unreadable(f"{windows} is a directory") from None
    try:
        text = decode(data, file=windows)
    except InputError as exc:
        raise _Unreadable(str(exc)) from None
    if _DOCTYPE.search(text):
        raise _Unreadable(f"{windows}: a DTD is not allowed (DtdProcessing is Prohibit)")
    try:
        return ET.fromstring(text)
    except ET.ParseError as exc:
        raise _Unreadable(f"{windows}: not well-formed XML ({exc})") from None


def _mask(name: str, value: str) -> str:
    return value if name.upper() in VISIBLE_VARIABLES else MASKED


def _variables(parent: ET.Element | None, tag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    if parent is None:
        return out
    for el in parent.findall(tag):
        name = el.get("name")
        if name:
            out[name] = _mask(name, el.get("value", ""))
    return out


def _bool(value: str | None, default: bool) -> bool:
    return default if value is None else value.strip().lower() == "true"


def _minutes(value: str | None, default: float | None) -> float | None:
    """Minutes of an IIS TimeSpan (``[d.]hh:mm:ss``); 0 means disabled for restarts."""
    if value is None:
        return default
    m = _TIMESPAN.match(value.strip())
    if m is None:
        return default
    days, hours, mins, secs = (int(g) if g else 0 for g in m.groups())
    return days * 1440 + hours * 60 + mins + secs / 60


def _find_aspnetcore(root: ET.Element) -> ET.Element | None:
    for path in ("system.webServer/aspNetCore", "location/system.webServer/aspNetCore"):
        found = root.find(path)
        if found is not None:
            return found
    return None


def web_config(path: Path, windows: str) -> dict[str, Any]:
    result: dict[str, Any] = {"exists": path.is_file(), "hosting_model": "outofprocess",
                              "hosting_model_set": False, "environment_variables": {},
                              "stdout_log_enabled": False,
                              "stdout_log_file": "aspnetcore-stdout", "error": None}
    try:
        root = _xml(path, windows)
    except _Unreadable as exc:
        result["error"] = str(exc)
        return result
    if root is None:
        return result
    anc = _find_aspnetcore(root)
    if anc is None:
        result["error"] = f"{windows} has no <aspNetCore> element"
        return result
    model = anc.get("hostingModel")
    if model is not None:
        result["hosting_model_set"] = True
        result["hosting_model"] = ("inprocess" if model.strip().lower() == "inprocess"
                                   else "outofprocess")
    result["environment_variables"] = _variables(anc.find("environmentVariables"),
                                                 "environmentVariable")
    result["stdout_log_enabled"] = _bool(anc.get("stdoutLogEnabled"), False)
    result["stdout_log_file"] = anc.get("stdoutLogFile") or "aspnetcore-stdout"
    return result


def _site_of(root: ET.Element, pool: str) -> ET.Element | None:
    # the first site with an application that names the pool (applicationDefaults' pool,
    # which applies to applications naming none, is not followed: the installer names it)
    sites = root.find("system.applicationHost/sites")
    for site in [] if sites is None else sites.findall("site"):
        for app in site.findall("application"):
            name = app.get("applicationPool")
            if name is not None and name.casefold() == pool.casefold():
                return site
    return None


#: where IIS puts a site's log files unless ``<logFile directory>`` says otherwise (IIS
#: configuration reference, ``sites/siteDefaults/logFile`` and ``sites/site/logFile``:
#: learn.microsoft.com/iis/configuration/system.applicationHost/sites/siteDefaults/logFile/)
DEFAULT_LOG_DIRECTORY = "%SystemDrive%\\inetpub\\logs\\LogFiles"
#: the variables a Windows service's environment always has, for ``%VAR%`` expansion
_SYSTEM_VARIABLES = {"SYSTEMDRIVE": "C:", "SYSTEMROOT": "C:\\Windows", "WINDIR": "C:\\Windows",
                     "PROGRAMDATA": "C:\\ProgramData"}
_PERCENT = re.compile(r"%([^%]+)%")


def expand_variables(text: str, machine: dict[str, str]) -> str:
    """``Environment.ExpandEnvironmentVariables``: known ``%NAME%`` replaced (names ignore
    case), unknown ones left as written."""
    known = {**_SYSTEM_VARIABLES, **{k.upper(): v for k, v in machine.items()}}
    return _PERCENT.sub(lambda m: known.get(m.group(1).upper(), m.group(0)), text)


#: `DEFAULT_LOG_DIRECTORY` on a host whose system drive is C: (the JEA pin's default)
DEFAULT_IIS_LOG_ROOT = expand_variables(DEFAULT_LOG_DIRECTORY, {})


def _site_log(result: dict[str, Any], root: ET.Element, site: ET.Element,
              machine: dict[str, str]) -> None:
    """The site's W3C log folder, ``<directory>\\W3SVC<id>``: the site's ``<logFile>``
    attributes over ``siteDefaults``' (IIS merges configuration attribute by attribute)."""
    directory = DEFAULT_LOG_DIRECTORY
    site_id = (site.get("id") or "").strip()
    if site_id.isdigit():
        result["site_id"] = int(site_id)
    for el in (root.find("system.applicationHost/sites/siteDefaults/logFile"),
               site.find("logFile")):
        if el is None:
            continue
        directory = el.get("directory", directory)
        result["site_log_format"] = el.get("logFormat", result["site_log_format"])
        if el.get("enabled") is not None:
            result["site_log_enabled"] = _bool(el.get("enabled"), True)
    if result["site_id"] is not None:
        result["site_log_dir"] = (expand_variables(directory, machine).rstrip("\\")
                                  + f"\\W3SVC{result['site_id']}")


def app_pool(path: Path, pool: str, machine: dict[str, str] | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "name": pool, "found": False, "site": None, "site_id": None, "site_log_dir": None,
        "site_log_format": "W3C", "site_log_enabled": True,
        "identity_type": "ApplicationPoolIdentity",
        "user_name": None, "rapid_fail_protection": True, "rapid_fail_max_crashes": 5,
        "rapid_fail_interval_minutes": 5.0, "periodic_restart_minutes": 1740.0,
        "environment_variables": {}, "error": None}
    try:
        root = _xml(path, APPLICATION_HOST)
    except _Unreadable as exc:
        result["error"] = str(exc)
        return result
    if root is None:
        result["error"] = f"{APPLICATION_HOST} does not exist (is IIS installed?)"
        return result
    pools = root.find("system.applicationHost/applicationPools")
    entries = [] if pools is None else pools.findall("add")
    entry = next((e for e in entries if (e.get("name") or "").casefold() == pool.casefold()),
                 None)
    if entry is None:
        result["error"] = f"application pool {pool!r} is not defined in {APPLICATION_HOST}"
        return result
    defaults = pools.find("applicationPoolDefaults") if pools is not None else None
    site = _site_of(root, pool)
    result.update(found=True, name=entry.get("name"),
                  site=site.get("name") if site is not None else None)
    if site is not None:
        _site_log(result, root, site, machine or {})

    def attr(child: str, name: str) -> str | None:
        for source in (entry, defaults):
            if source is None:
                continue
            el = source.find(child)
            if el is not None and el.get(name) is not None:
                return el.get(name)
        return None

    result["identity_type"] = attr("processModel", "identityType") or "ApplicationPoolIdentity"
    result["user_name"] = attr("processModel", "userName")
    result["rapid_fail_protection"] = _bool(attr("failure", "rapidFailProtection"), True)
    crashes = attr("failure", "rapidFailProtectionMaxCrashes")
    result["rapid_fail_max_crashes"] = int(crashes) if crashes and crashes.isdigit() else 5
    result["rapid_fail_interval_minutes"] = _minutes(
        attr("failure", "rapidFailProtectionInterval"), 5.0)
    restart = entry.find("recycling/periodicRestart")
    if restart is None and defaults is not None:
        restart = defaults.find("recycling/periodicRestart")
    minutes = _minutes(restart.get("time") if restart is not None else None, 1740.0)
    result["periodic_restart_minutes"] = minutes if minutes else None
    result["environment_variables"] = _variables(entry.find("environmentVariables"), "add")
    return result


def _machine_all(root: Path | None) -> dict[str, str]:
    """Every machine variable of the host (registry ``Session Manager\\Environment``)."""
    values: dict[str, Any] = {}
    if root is not None:
        try:
            loaded = json.loads((root / ".host" / ENVIRONMENT_FILE).read_text("utf-8"))
            values = loaded if isinstance(loaded, dict) else {}
        except (FileNotFoundError, ValueError):
            values = {}
    return {str(k): str(v) for k, v in values.items() if v is not None}


def machine_environment(root: Path | None) -> dict[str, str | None]:
    folded = {k.upper(): v for k, v in _machine_all(root).items()}
    return {name: (None if folded.get(name) is None else str(folded[name]))
            for name in VISIBLE_VARIABLES}


def directory_access(role: str, windows: str, local: Path, identity_type: str
                     ) -> dict[str, Any]:
    checked, folder = windows, local
    while not folder.is_dir() and folder.parent != folder:
        folder = folder.parent
        checked = checked.rsplit("\\", 1)[0] if "\\" in checked.rstrip("\\") else checked
    # SYSTEM is in every protected ACL; any other identity is a local account
    can = identity_type == "LocalSystem" or local_user_may_create(folder)
    return {"role": role, "path": windows, "exists": local.is_dir(), "checked": checked,
            "pool_can_write": can, "error": None}


def read_host(p: Params, map_path: Callable[[str], Path], root: Path | None
              ) -> dict[str, Any]:
    install_dir = p.text("install_dir").rstrip("\\")
    pool = p.text("pool")
    log_dir = p.optional_text("log_dir")
    if not pool or any(c in pool for c in '"\x00\r\n'):
        raise bad(f"read_host: invalid application pool name {pool!r}")
    web_path = join_windows(install_dir, "web.config")
    offline = map_path(join_windows(install_dir, "app_offline.htm"))
    machine = machine_environment(root)
    pool_info = app_pool(map_path(APPLICATION_HOST), pool, _machine_all(root))
    identity = str(pool_info["identity_type"])
    directories = [directory_access("install", install_dir, map_path(install_dir), identity)]
    if log_dir is not None:
        directories.append(directory_access("log", log_dir.rstrip("\\"), map_path(log_dir),
                                            identity))
    warnings = [str(x) for x in (pool_info["error"],) if x]
    return {
        "install_dir": install_dir,
        "web_config": web_config(map_path(web_path), web_path),
        "app_pool": pool_info,
        "machine_environment": machine,
        "app_offline": {"exists": offline.is_file(),
                        "size": offline.stat().st_size if offline.is_file() else None},
        "directories": directories,
        "warnings": warnings,
    }


__all__ = ["APPLICATION_HOST", "DEFAULT_IIS_LOG_ROOT", "DEFAULT_LOG_DIRECTORY", "ENVIRONMENT_FILE",
           "expand_variables", "read_host"]
