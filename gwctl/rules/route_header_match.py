"""A route's ``Match.Headers`` entry that YARP refuses.

Each entry needs a ``Name``; ``Mode`` is ExactHeader (default), HeaderPrefix, Contains,
NotContains, Exists or NotExists (ignoring case); ``Values`` are required unless the mode
is Exists or NotExists, and forbidden with those two (microsoft/reverse-proxy
src/ReverseProxy/Configuration/RouteValidators/HeadersValidator.cs; ``Mode`` is read by
``ReadEnum`` in src/ReverseProxy/Configuration/ConfigProvider/
ConfigurationReadingExtensions.cs).

PASS::

    Headers: [{Name: X-Tenant, Values: [north], Mode: ExactHeader}]

FAIL::

    Headers: [{Name: X-Tenant, Mode: Exact}]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules._matchers import check_matchers
from gwctl.rules.base import Options
from gwctl.rules.target import Target

ID: Final = "route-header-match"
LEVEL: Final = Level.ERROR
EFFECT: Final = "start"
OPTIONS: Final[dict[str, Any]] = {}
MODES_ALLOWED = ("ExactHeader", "HeaderPrefix", "Contains", "NotContains", "Exists",
                 "NotExists")


def check(target: Target, options: Options) -> Iterator[Problem]:
    if target.view is None:
        return
    yield from check_matchers(target, ID, LEVEL, "Headers", "header", MODES_ALLOWED,
                              ("Exists", "NotExists"))
