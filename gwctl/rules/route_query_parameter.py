"""A route's ``Match.QueryParameters`` entry that YARP refuses.

Each entry needs a ``Name``; ``Mode`` is Exact (default), Contains, NotContains, Prefix or
Exists (ignoring case); ``Values`` are required unless the mode is Exists, and forbidden
with Exists. YARP refuses the configuration otherwise, and the gateway does not start
(microsoft/reverse-proxy src/ReverseProxy/Configuration/RouteValidators/
QueryParametersValidator.cs, src/ReverseProxy/Configuration/QueryParameterMatchMode.cs).

PASS (the stock PtzPresetsCommands route)::

    QueryParameters: [{Name: task, Mode: Exists, IsCaseSensitive: false}]

FAIL::

    QueryParameters: [{Name: task, Mode: Exists, Values: [GoToPreset]}]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules._matchers import check_matchers
from gwctl.rules.base import Options
from gwctl.rules.target import Target

ID: Final = "route-query-parameter"
LEVEL: Final = Level.ERROR
EFFECT: Final = "start"
OPTIONS: Final[dict[str, Any]] = {}
MODES_ALLOWED = ("Exact", "Contains", "NotContains", "Prefix", "Exists")


def check(target: Target, options: Options) -> Iterator[Problem]:
    if target.view is None:
        return
    yield from check_matchers(target, ID, LEVEL, "QueryParameters", "query parameter",
                              MODES_ALLOWED, ("Exists",))
