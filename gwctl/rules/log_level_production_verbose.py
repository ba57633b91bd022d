"""A production gateway logs ``Default`` or ``Yarp`` at Trace or Debug.

Trace and Debug write every proxied request (URLs with query strings, header names, and
at Trace request details) to disk: log files grow by gigabytes a day, and tokens or
personal data end up in them. Fine for a test system or for an hour of troubleshooting,
not as a lasting production setting. Categories and environments are options.

PASS::

    logging: {levels: {Default: Information, Yarp: Warning}}

FAIL::

    logging: {levels: {Yarp: Debug}}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules import _cfg, _logging
from gwctl.rules.base import Options, in_environments
from gwctl.rules.target import Target

ID: Final = "log-level-production-verbose"
LEVEL: Final = Level.WARNING
OPTIONS: Final[dict[str, Any]] = {"categories": ["Default", "Yarp"],
                                  "environments": ["production"]}
_VERBOSE = {"trace", "debug", "0", "1"}


def check(target: Target, options: Options) -> Iterator[Problem]:
    if target.view is None or not in_environments(target, options):
        return
    for category in options.get("categories") or ():
        key = (*_logging.LOGGING, "LogLevel", str(category))
        value = _cfg.text(target.value(key))
        if value is not None and value.strip().lower() in _VERBOSE:
            message = (f"{category} logs at {value} on a {target.environment} gateway: large "
                       "log files and request details (tokens, personal data) on disk; use "
                       "Information or higher outside troubleshooting")
            yield from target.report(ID, LEVEL, message, key)
