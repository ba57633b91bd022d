"""app_offline.htm is present in the install directory: every request answers 503.

While a file named ``app_offline.htm`` exists in the application's root, the ASP.NET Core
Module shuts the gateway down and answers every request with status 503 and the file's
content (dotnet/aspnetcore src/Servers/IIS/AspNetCoreModuleV2/CommonLib/
PollingAppOfflineApplication.cpp; ASP.NET Core docs, "App Offline file"). Deployment tools
drop it during an update; one left behind by an interrupted update keeps the gateway
offline, whatever gwctl writes.

Host rule: judged where gwctl read the host (``diff``, ``plan``, ``apply``, ``doctor``);
``validate`` cannot know a host and reports nothing. ``diff`` shows it as drift that apply
cannot fix, and ``apply`` refuses the gateway.

PASS: no ``app_offline.htm`` in ``C:\\Program Files\\Milestone\\XProtect API Gateway``.

FAIL::

    C:\\Program Files\\Milestone\\XProtect API Gateway\\app_offline.htm
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.iis.conditions import APP_OFFLINE
from gwctl.problems import Level, Problem
from gwctl.rules import _hosts
from gwctl.rules.base import FLEET_ONLY, Options
from gwctl.rules.target import FleetScope

ID: Final = APP_OFFLINE
LEVEL: Final = Level.ERROR
OPTIONS: Final[dict[str, Any]] = {}
MODES: Final = FLEET_ONLY
EFFECT: Final = "request:503"


def check(scope: FleetScope, options: Options) -> Iterator[Problem]:
    yield from _hosts.report(scope, ID, LEVEL)
