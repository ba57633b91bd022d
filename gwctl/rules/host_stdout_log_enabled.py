"""web.config enables the ASP.NET Core Module's stdout log: files that are never rotated.

With ``stdoutLogEnabled="true"`` the ASP.NET Core Module writes the app's console output
to a new ``<stdoutLogFile>_<timestamp>_<pid>.log`` at every start and never rotates or
deletes them; Microsoft's documentation says to use it for troubleshooting only and to
turn it off afterwards (ASP.NET Core docs, "ASP.NET Core Module (ANCM) for IIS", Log
creation and redirection). Left on, a gateway that recycles often fills its disk.

Host rule: judged where gwctl read the host (``diff``, ``plan``, ``apply``, ``doctor``);
``validate`` cannot know a host and reports nothing.

PASS::

    <aspNetCore ... stdoutLogEnabled="false" />

FAIL::

    <aspNetCore ... stdoutLogEnabled="true" stdoutLogFile=".\\logs\\stdout" />
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.iis.conditions import STDOUT_LOG_ENABLED
from gwctl.problems import Level, Problem
from gwctl.rules import _hosts
from gwctl.rules.base import FLEET_ONLY, Options
from gwctl.rules.target import FleetScope

ID: Final = STDOUT_LOG_ENABLED
LEVEL: Final = Level.WARNING
OPTIONS: Final[dict[str, Any]] = {}
MODES: Final = FLEET_ONLY


def check(scope: FleetScope, options: Options) -> Iterator[Problem]:
    yield from _hosts.report(scope, ID, LEVEL)
