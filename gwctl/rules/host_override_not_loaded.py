"""appsettings.Production.json is not loaded: the gateway's environment is not Production.

ASP.NET Core loads ``appsettings.{Environment}.json`` over ``appsettings.json``. gwctl
writes ``appsettings.Production.json``; a gateway whose ``ASPNETCORE_ENVIRONMENT`` (or
``DOTNET_ENVIRONMENT``) says anything else never reads it, and every change gwctl applies
"succeeds" -- files written, health check green -- without effect. The variable can come
from web.config's ``<environmentVariables>``, the app pool's (applicationHost.config) or
the machine's; web.config wins over the pool, the pool over the machine, and
``ASPNETCORE_ENVIRONMENT`` over ``DOTNET_ENVIRONMENT`` (sources: `gwctl.iis.behaviour`;
dotnet/aspnetcore src/DefaultBuilder/src/WebApplicationBuilder.cs,
src/Servers/IIS/AspNetCoreModuleV2/RequestHandlerLib/environmentvariablehelpers.h,
dotnet/runtime src/libraries/Microsoft.Extensions.Hosting/src/HostBuilder.cs).

Host rule: judged where gwctl read the host (``diff``, ``plan``, ``apply``, ``doctor``);
``validate`` cannot know a host and reports nothing. ``diff`` shows it as drift that apply
cannot fix, and ``apply`` refuses the gateway.

PASS: no ``ASPNETCORE_ENVIRONMENT`` anywhere (Production is the default), or::

    <environmentVariable name="ASPNETCORE_ENVIRONMENT" value="Production" />

FAIL::

    <!-- web.config -->
    <environmentVariable name="ASPNETCORE_ENVIRONMENT" value="Staging" />
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.iis.conditions import OVERRIDE_NOT_LOADED
from gwctl.problems import Level, Problem
from gwctl.rules import _hosts
from gwctl.rules.base import FLEET_ONLY, Options
from gwctl.rules.target import FleetScope

ID: Final = OVERRIDE_NOT_LOADED
LEVEL: Final = Level.ERROR
OPTIONS: Final[dict[str, Any]] = {}
MODES: Final = FLEET_ONLY
EFFECT: Final = "silent"


def check(scope: FleetScope, options: Options) -> Iterator[Problem]:
    yield from _hosts.report(scope, ID, LEVEL)
