"""Hidden conditions of a gateway host: findings about its facts, each with its remedy.

One place decides them; the ``host-*`` rules report them as problems, plans carry the
ones apply cannot fix (`Condition.blocks`), and doctor shows them as checks. A condition
names the rule id it is reported under.

Manual sections (XProtect API Gateway 2025 R2 administrator manual) are named where the
manual covers the topic; the rest cite ASP.NET Core's documentation (see
`gwctl.iis.behaviour` for the sources).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gwctl.iis.behaviour import APP_OFFLINE_STATUS, effective_environment, start_failure
from gwctl.iis.hostinfo import HostInfo

OVERRIDE_NOT_LOADED = "host-override-not-loaded"
APP_OFFLINE = "host-app-offline"
LOG_DIR_NOT_WRITABLE = "host-log-dir-not-writable"
STDOUT_LOG_ENABLED = "host-stdout-log-enabled"
RAPID_FAIL_DISABLED = "host-rapid-fail-disabled"

OVERRIDE_FILE = "appsettings.Production.json"
S_LOGGING = "manual, Logging > Log layout, log targets, etc"
S_NOT_ANSWERING = "manual, Troubleshooting > API Gateway doesn't answer requests"


@dataclass(frozen=True)
class Condition:
    """A finding about a host's facts."""

    rule: str
    message: str
    remedy: str
    #: apply cannot make a plan take effect while this holds
    blocks: bool
    section: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "message": self.message, "remedy": self.remedy,
                "blocks_apply": self.blocks, "section": self.section}


def _environment(info: HostInfo) -> Condition | None:
    env = effective_environment(info)
    if env.is_production:
        return None
    where = {"web.config": f"remove it from the <environmentVariables> of "
                           f"{info.install_dir}\\web.config",
             "app pool": f"remove it from the app pool '{info.app_pool.name}' "
                         "(applicationHost.config, <environmentVariables>)",
             "machine": "remove the machine-wide variable (System Properties > Environment "
                        "Variables, or the registry's Session Manager\\Environment key) and "
                        "restart IIS"}.get(env.layer, "")
    return Condition(
        OVERRIDE_NOT_LOADED,
        f"{OVERRIDE_FILE} is not loaded: {env.describe()}; the gateway reads "
        f"{env.settings_file} instead, so gwctl's changes do not take effect",
        f"set {env.variable} to Production or {where}; then recycle the app pool",
        blocks=True)


def _offline(info: HostInfo) -> Condition | None:
    if not info.app_offline:
        return None
    return Condition(
        APP_OFFLINE,
        f"app_offline.htm is present in {info.install_dir}: the ASP.NET Core Module stops "
        f"the gateway and answers {APP_OFFLINE_STATUS} with the file's content to every "
        "request",
        f"delete {info.install_dir}\\app_offline.htm when the maintenance it announces is "
        "over (a leftover of an interrupted deployment or upgrade)",
        blocks=True, section=S_NOT_ANSWERING)


def _log_dir(info: HostInfo) -> Condition | None:
    d = info.directory("log")
    if d is None or d.pool_can_write is not False:
        return None
    where = d.path if d.checked == d.path else f"{d.path} (nor create it in {d.checked})"
    return Condition(
        LOG_DIR_NOT_WRITABLE,
        f"the pool identity {info.app_pool.identity} cannot write {where}: NLog stops "
        "logging (its File target fails without telling the gateway)",
        f"grant {info.app_pool.identity} Modify on {d.checked}, or set nlog.log_directory "
        "to a directory it can write",
        blocks=False, section=S_LOGGING)


def _stdout(info: HostInfo) -> Condition | None:
    wc = info.web_config
    if not wc.exists or not wc.stdout_log_enabled:
        return None
    return Condition(
        STDOUT_LOG_ENABLED,
        f"stdoutLogEnabled is true in {info.install_dir}\\web.config: the ASP.NET Core "
        f"Module writes every start's console output to {wc.stdout_log_file}*.log, never "
        "rotated or deleted",
        "set stdoutLogEnabled=\"false\" once troubleshooting is over (ASP.NET Core Module "
        "docs: for troubleshooting only)",
        blocks=False)


def _rapid_fail(info: HostInfo) -> Condition | None:
    pool = info.app_pool
    if not pool.found or pool.rapid_fail_protection:
        return None
    return Condition(
        RAPID_FAIL_DISABLED,
        f"rapid-fail protection is disabled for the app pool '{pool.name}': IIS never "
        "stops it when the gateway cannot start, so the pool stays Started while every "
        f"request answers {start_failure(info.web_config.hosting_model)}, however often "
        "its worker fails; a monitor that watches the pool state sees nothing wrong",
        f"set rapidFailProtection=\"true\" on the pool's <failure> element "
        f"(IIS Manager > Application Pools > {pool.name} > Advanced Settings > Rapid-Fail "
        "Protection > Enabled); gwctl's health check and rollback work either way",
        blocks=False, section=S_NOT_ANSWERING)


def conditions(info: HostInfo) -> list[Condition]:
    """Every condition that holds on the host, those that block apply first."""
    found = [c for c in (_environment(info), _offline(info), _log_dir(info), _stdout(info),
                                 _rapid_fail(info))
             if c is not None]
    return sorted(found, key=lambda c: not c.blocks)


__all__ = ["APP_OFFLINE", "LOG_DIR_NOT_WRITABLE", "OVERRIDE_NOT_LOADED", "RAPID_FAIL_DISABLED",
           "STDOUT_LOG_ENABLED", "Condition", "conditions"]
