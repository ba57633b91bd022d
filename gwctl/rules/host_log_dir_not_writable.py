"""The app pool's identity cannot create files in the log directory: NLog stops logging.

The gateway runs as its app pool's identity (the manual: usually Network Service). NLog's
File target writes ``gateway.log`` into the configured ``logDirectory`` (created when
missing, which needs the right on its parent); where that identity may not create files,
every write fails and NLog -- which does not throw by default -- logs nothing, silently
(NLog/NLog src/NLog/Targets/FileTarget.cs; ``throwExceptions`` is off). The ACL is read by
the ``read_host`` operation: ``CreateFiles`` allowed to the identity, or to a group it is
always in (Everyone, Authenticated Users, Users, IIS_IUSRS), and not denied.

Host rule: judged where gwctl read the host (``diff``, ``plan``, ``apply``, ``doctor``);
``validate`` cannot know a host and reports nothing.

PASS: ``C:\\ProgramData\\Milestone\\ApiGateway\\Logs`` grants Users (or NETWORK SERVICE)
Modify.

FAIL::

    nlog:
      log_directory: 'C:\\Logs\\gw'   # ACL: Administrators and SYSTEM only
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.iis.conditions import LOG_DIR_NOT_WRITABLE
from gwctl.problems import Level, Problem
from gwctl.rules import _hosts
from gwctl.rules.base import FLEET_ONLY, Options
from gwctl.rules.target import FleetScope

ID: Final = LOG_DIR_NOT_WRITABLE
LEVEL: Final = Level.ERROR
OPTIONS: Final[dict[str, Any]] = {}
MODES: Final = FLEET_ONLY
EFFECT: Final = "silent"


def check(scope: FleetScope, options: Options) -> Iterator[Problem]:
    yield from _hosts.report(scope, ID, LEVEL)
