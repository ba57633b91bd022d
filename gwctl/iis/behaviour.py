"""What a gateway host's facts decide: the environment, the failure answer, offline, logs.

**The hosting environment.** ASP.NET Core loads ``appsettings.{Environment}.json`` after
``appsettings.json``; gwctl writes ``appsettings.Production.json``, so on a gateway
whose environment is anything but Production the override is never read.

- The worker process's variables are the machine's (registry, ``Session
  Manager\\Environment``), overlaid by the app pool's ``<environmentVariables>``
  (applicationHost.config), overlaid by web.config's: ANCM builds its table from
  web.config and sets it on the process it hosts, replacing inherited values
  (dotnet/aspnetcore src/Servers/IIS/AspNetCoreModuleV2/RequestHandlerLib/
  environmentvariablehelpers.h, ``InitEnvironmentVariablesTable``). Names compare
  ignoring case, as Windows environment names do.
- The host reads ``DOTNET_``-prefixed variables first and ``ASPNETCORE_``-prefixed ones
  after them, so ``ASPNETCORE_ENVIRONMENT`` wins over ``DOTNET_ENVIRONMENT``
  (dotnet/aspnetcore src/DefaultBuilder/src/WebApplicationBuilder.cs: ``ConfigureDefaults``
  then ``ConfigureWebHostDefaults``; a later configuration source wins).
- Unset, the environment is ``Production`` (dotnet/runtime
  src/libraries/Microsoft.Extensions.Hosting/src/HostBuilder.cs: ``EnvironmentKey ??
  Environments.Production``). The file lookup is NTFS's: case-insensitive, so
  ``production`` loads ``appsettings.Production.json``.

**A configuration that does not load.** In-process, the app's start fails inside the
worker and ANCM answers ``500.30`` (In-Process Start Failure); out-of-process, the
dotnet process exits and ANCM answers ``502.5`` (Process Failure) (ASP.NET Core docs,
"Troubleshoot ASP.NET Core on Azure App Service and IIS", App startup errors). With
rapid-fail protection on, WAS stops the pool after ``rapidFailProtectionMaxCrashes``
worker failures within ``rapidFailProtectionInterval`` and HTTP.sys answers ``503`` until
someone starts the pool (IIS applicationHost ``<failure>`` element).

**app_offline.htm.** While it exists in the application's root, ANCM stops the app and
answers every request ``503`` with the file's content (dotnet/aspnetcore
src/Servers/IIS/AspNetCoreModuleV2/CommonLib/PollingAppOfflineApplication.cpp and the
"App Offline file" docs).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from gwctl.iis.hostinfo import HostInfo, HostingModel

PRODUCTION = "Production"
ENVIRONMENT_VARIABLES = ("ASPNETCORE_ENVIRONMENT", "DOTNET_ENVIRONMENT")

Layer = Literal["web.config", "app pool", "machine", "default"]

#: what ANCM answers when the app does not start, by hosting model
START_FAILURE_STATUS: dict[HostingModel, tuple[int, int]] = {
    "inprocess": (500, 30),
    "outofprocess": (502, 5),
}
STOPPED_POOL_STATUS = 503
APP_OFFLINE_STATUS = 503


@dataclass(frozen=True)
class EnvironmentDecision:
    """The hosting environment and where it came from."""

    name: str
    #: the variable that decided it (None: nothing set, the default applies)
    variable: str | None
    layer: Layer

    @property
    def is_production(self) -> bool:
        return self.name.casefold() == PRODUCTION.casefold()

    @property
    def settings_file(self) -> str:
        return f"appsettings.{self.name}.json"

    def describe(self) -> str:
        if self.variable is None:
            return f"{PRODUCTION} (no ASPNETCORE_ENVIRONMENT or DOTNET_ENVIRONMENT is set)"
        where = {"web.config": "web.config's <environmentVariables>",
                 "app pool": "the app pool's <environmentVariables> in applicationHost.config",
                 "machine": "the machine environment (registry)"}.get(self.layer, self.layer)
        return f"{self.variable}={self.name} (from {where})"


def _fold(variables: Mapping[str, str]) -> dict[str, str]:
    return {k.upper(): v for k, v in variables.items()}


def environment_of(layers: Iterable[tuple[Layer, Mapping[str, str]]]) -> EnvironmentDecision:
    """The environment from variable layers given lowest precedence first."""
    merged: dict[str, tuple[str, Layer]] = {}
    for layer, variables in layers:
        for name, value in _fold(variables).items():
            merged[name] = (value, layer)
    for variable in ENVIRONMENT_VARIABLES:
        found = merged.get(variable)
        # an empty value replaced the inherited one; the host treats it as unset
        if found is not None and found[0] != "":
            return EnvironmentDecision(found[0], variable, found[1])
    return EnvironmentDecision(PRODUCTION, None, "default")


def effective_environment(info: HostInfo) -> EnvironmentDecision:
    return environment_of([("machine", info.machine_environment),
                           ("app pool", info.app_pool.environment_variables),
                           ("web.config", info.web_config.environment_variables)])


def start_failure(model: HostingModel) -> str:
    """How ANCM answers when the app does not start, e.g. ``500.30``."""
    status, sub = START_FAILURE_STATUS[model]
    return f"{status}.{sub}"


def failure_story(info: HostInfo) -> str:
    """One sentence: what users see when this gateway's configuration does not load."""
    wc, pool = info.web_config, info.app_pool
    first = (f"{'in-process' if wc.hosting_model == 'inprocess' else 'out-of-process'} "
             f"hosting: a configuration that does not load answers "
             f"{start_failure(wc.hosting_model)}")
    if pool.rapid_fail_protection:
        return (f"{first}; after {pool.rapid_fail_max_crashes} failures within "
                f"{pool.rapid_fail_interval_minutes:g} minutes rapid-fail protection stops "
                f"the app pool and every request answers {STOPPED_POOL_STATUS} until the "
                "pool is started again")
    return f"{first}; rapid-fail protection is off: IIS keeps restarting the worker"


__all__ = ["APP_OFFLINE_STATUS", "ENVIRONMENT_VARIABLES", "PRODUCTION",
           "START_FAILURE_STATUS", "STOPPED_POOL_STATUS", "EnvironmentDecision",
           "effective_environment", "environment_of", "failure_story", "start_failure"]
