"""The facts of a gateway host that decide what its gateway really runs, typed.

Built from the result of the ``read_host`` remote operation (docs/remote-operations.md),
which reads ``web.config``, the site and app pool of ``applicationHost.config``, the
machine environment (registry), ``app_offline.htm`` and the ACLs of the install and log
directories in one round trip. Parsing is lenient where the operation already reported
a problem (``error`` fields, ``warnings``) and strict about types: a malformed result is
a bug of the operation, reported as `ValueError`.

Environment-variable values travel masked (`MASKED`) except the ones that decide the
hosting environment (`VISIBLE_VARIABLES`): web.config and app-pool variables commonly
hold connection strings, and these facts end up in plans, JSON output and support
bundles.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

HostingModel = Literal["inprocess", "outofprocess"]

#: the variables whose values the operation returns; every other value is `MASKED`
VISIBLE_VARIABLES = ("ASPNETCORE_ENVIRONMENT", "DOTNET_ENVIRONMENT")
MASKED = "(masked)"

#: IIS's defaults (applicationHost.config schema, IIS_schema.xml): rapid-fail protection
#: on, 5 crashes within 5 minutes stop the pool; the pool restarts every 1740 minutes
DEFAULT_MAX_CRASHES = 5
DEFAULT_INTERVAL_MINUTES = 5.0
#: ANCM V2's default when web.config names no hostingModel (aspnet-core-module docs)
DEFAULT_HOSTING_MODEL: HostingModel = "outofprocess"


def _variables(raw: Any, where: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: environment_variables is not an object")
    return {str(k): str(v) for k, v in raw.items()}


def _opt_str(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return None if value is None else str(value)


@dataclass(frozen=True)
class WebConfig:
    """The ``aspNetCore`` element of the gateway's ``web.config``."""

    exists: bool
    hosting_model: HostingModel = DEFAULT_HOSTING_MODEL
    #: whether web.config names the hosting model (else ANCM's default applies)
    hosting_model_set: bool = False
    environment_variables: dict[str, str] = field(default_factory=dict)
    stdout_log_enabled: bool = False
    stdout_log_file: str = "aspnetcore-stdout"
    #: why the file could not be read (IIS answers 500.19 for every request then)
    error: str | None = None

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> WebConfig:
        model = str(raw.get("hosting_model") or DEFAULT_HOSTING_MODEL).lower()
        if model not in ("inprocess", "outofprocess"):
            raise ValueError(f"web_config: unknown hosting_model {model!r}")
        return cls(bool(raw.get("exists")), model,  # type: ignore[arg-type]
                   bool(raw.get("hosting_model_set")),
                   _variables(raw.get("environment_variables"), "web_config"),
                   bool(raw.get("stdout_log_enabled")),
                   str(raw.get("stdout_log_file") or "aspnetcore-stdout"),
                   _opt_str(raw, "error"))


@dataclass(frozen=True)
class AppPool:
    """The gateway's application pool as ``applicationHost.config`` defines it."""

    name: str
    found: bool
    #: the site whose application runs in this pool (None: none found)
    site: str | None = None
    #: that site's id, and the folder IIS writes its request log to (``<logFile
    #: directory>\\W3SVC<id>``, environment variables expanded), its format and whether
    #: logging is on
    site_id: int | None = None
    site_log_dir: str | None = None
    site_log_format: str = "W3C"
    site_log_enabled: bool = True
    #: ApplicationPoolIdentity | NetworkService | LocalService | LocalSystem | SpecificUser
    identity_type: str = "ApplicationPoolIdentity"
    user_name: str | None = None
    rapid_fail_protection: bool = True
    rapid_fail_max_crashes: int = DEFAULT_MAX_CRASHES
    rapid_fail_interval_minutes: float = DEFAULT_INTERVAL_MINUTES
    #: periodic restart interval (None: disabled)
    periodic_restart_minutes: float | None = 1740.0
    environment_variables: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def identity(self) -> str:
        """The account the worker process runs as, spelled as Windows names it."""
        if self.identity_type == "SpecificUser":
            return self.user_name or "(unknown user)"
        if self.identity_type == "ApplicationPoolIdentity":
            return f"IIS AppPool\\{self.name}"
        return {"NetworkService": "NT AUTHORITY\\NETWORK SERVICE",
                "LocalService": "NT AUTHORITY\\LOCAL SERVICE",
                "LocalSystem": "NT AUTHORITY\\SYSTEM"}.get(self.identity_type,
                                                           self.identity_type)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> AppPool:
        periodic = raw.get("periodic_restart_minutes")
        site_id = raw.get("site_id")
        return cls(str(raw.get("name") or ""), bool(raw.get("found")), _opt_str(raw, "site"),
                   None if site_id is None else int(site_id), _opt_str(raw, "site_log_dir"),
                   str(raw.get("site_log_format") or "W3C"),
                   bool(raw.get("site_log_enabled", True)),
                   str(raw.get("identity_type") or "ApplicationPoolIdentity"),
                   _opt_str(raw, "user_name"),
                   bool(raw.get("rapid_fail_protection", True)),
                   int(raw.get("rapid_fail_max_crashes", DEFAULT_MAX_CRASHES)),
                   float(raw.get("rapid_fail_interval_minutes", DEFAULT_INTERVAL_MINUTES)),
                   None if periodic is None else float(periodic),
                   _variables(raw.get("environment_variables"), "app_pool"),
                   _opt_str(raw, "error"))


@dataclass(frozen=True)
class DirectoryAccess:
    """Whether the pool identity can create files in a directory (``role``: install|log)."""

    role: str
    path: str
    exists: bool
    #: None when the ACL could not be read
    pool_can_write: bool | None
    #: the directory whose ACL was read: `path`, or its nearest existing parent (NLog
    #: creates missing directories, which needs the right on the parent)
    checked: str = ""
    error: str | None = None

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> DirectoryAccess:
        can = raw.get("pool_can_write")
        return cls(str(raw.get("role") or ""), str(raw.get("path") or ""),
                   bool(raw.get("exists")), None if can is None else bool(can),
                   str(raw.get("checked") or raw.get("path") or ""), _opt_str(raw, "error"))


@dataclass(frozen=True)
class HostInfo:
    """Everything ``read_host`` found on one gateway host."""

    install_dir: str
    web_config: WebConfig
    app_pool: AppPool
    #: the machine-wide variables (registry, Session Manager\\Environment) that matter
    machine_environment: dict[str, str]
    app_offline: bool
    app_offline_size: int | None = None
    directories: tuple[DirectoryAccess, ...] = ()
    warnings: tuple[str, ...] = ()

    def directory(self, role: str) -> DirectoryAccess | None:
        return next((d for d in self.directories if d.role == role), None)

    @classmethod
    def from_result(cls, raw: Mapping[str, Any]) -> HostInfo:
        """The facts from the operation's result (`ValueError` when it is malformed)."""
        try:
            offline = raw.get("app_offline") or {}
            machine = {str(k): str(v) for k, v in
                       (raw.get("machine_environment") or {}).items() if v is not None}
            return cls(str(raw["install_dir"]), WebConfig.from_json(raw["web_config"]),
                       AppPool.from_json(raw["app_pool"]), machine,
                       bool(offline.get("exists")),
                       None if offline.get("size") is None else int(offline["size"]),
                       tuple(DirectoryAccess.from_json(d)
                             for d in raw.get("directories") or ()),
                       tuple(str(w) for w in raw.get("warnings") or ()))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed read_host result: {exc!r}") from None

    def to_json(self) -> dict[str, Any]:
        """The facts as plans and JSON output carry them (values already masked)."""
        wc, pool = self.web_config, self.app_pool
        return {
            "install_dir": self.install_dir,
            "web_config": {"exists": wc.exists, "hosting_model": wc.hosting_model,
                           "hosting_model_set": wc.hosting_model_set,
                           "environment_variables": dict(wc.environment_variables),
                           "stdout_log_enabled": wc.stdout_log_enabled,
                           "stdout_log_file": wc.stdout_log_file, "error": wc.error},
            "app_pool": {"name": pool.name, "found": pool.found, "site": pool.site,
                         "site_id": pool.site_id, "site_log_dir": pool.site_log_dir,
                         "site_log_format": pool.site_log_format,
                         "site_log_enabled": pool.site_log_enabled,
                         "identity_type": pool.identity_type, "user_name": pool.user_name,
                         "identity": pool.identity,
                         "rapid_fail_protection": pool.rapid_fail_protection,
                         "rapid_fail_max_crashes": pool.rapid_fail_max_crashes,
                         "rapid_fail_interval_minutes": pool.rapid_fail_interval_minutes,
                         "periodic_restart_minutes": pool.periodic_restart_minutes,
                         "environment_variables": dict(pool.environment_variables),
                         "error": pool.error},
            "machine_environment": dict(self.machine_environment),
            "app_offline": {"exists": self.app_offline, "size": self.app_offline_size},
            "directories": [{"role": d.role, "path": d.path, "exists": d.exists,
                             "checked": d.checked, "pool_can_write": d.pool_can_write,
                             "error": d.error} for d in self.directories],
            "warnings": list(self.warnings),
        }


__all__ = ["DEFAULT_HOSTING_MODEL", "MASKED", "VISIBLE_VARIABLES", "AppPool",
           "DirectoryAccess", "HostInfo", "HostingModel", "WebConfig"]
