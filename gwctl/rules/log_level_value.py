"""A ``Logging:LogLevel`` value that is not a log level: the gateway does not start.

Microsoft.Extensions.Logging reads a level with ``Enum.TryParse`` (dotnet/runtime
src/libraries/Microsoft.Extensions.Logging.Configuration/src/
LoggerFilterConfigureOptions.cs, ``TryGetSwitch``): Trace, Debug, Information, Warning,
Error, Critical and None in any case, any whole number, or names joined by commas; it
skips an empty value (the category then gets the default level) and throws at startup
on anything else -- including NLog's spellings ``Info`` and ``Warn``, which belong in
nlog.config. A number above 6 or a comma list loads but is not a level: their value is
above None or an OR of levels, so the category logs nothing, or not what was meant
(a warning). Provider sections (``Logging:Console:LogLevel``) are checked too.

PASS::

    logging:
      levels: {Default: Information, Microsoft: Warning, Yarp: Information}

FAIL::

    logging:
      levels: {Default: Info, Yarp: Verbose}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules import _logging
from gwctl.rules.base import Options
from gwctl.rules.target import Target

ID: Final = "log-level-value"
LEVEL: Final = Level.ERROR
EFFECT: Final = "start"
OPTIONS: Final[dict[str, Any]] = {}
_NLOG_SPELLING = {"info": "Information", "warn": "Warning", "fatal": "Critical", "off": "None"}


def check(target: Target, options: Options) -> Iterator[Problem]:
    if target.override is None:
        return
    for key, value in _logging.level_keys(target.override):
        if value is None or _logging.skipped(value):
            continue
        number = _logging.parsed(value)
        if number is not None:
            if 0 <= number <= 6 and "," not in value:
                continue
            shown = _logging.LEVELS[number] if 0 <= number <= 6 else number
            message = (f"{key[-1]}: {value!r} loads (Enum.TryParse) as level {shown}, not "
                       "one of the seven levels as meant: write one level name "
                       f"({'|'.join(_logging.LEVELS)})")
            yield from target.report(ID, Level.WARNING, message, key)
            continue
        hint = _NLOG_SPELLING.get(value.strip().lower())
        suggestion = f" (did you mean {hint}? {value!r} is NLog's spelling)" if hint else ""
        message = (f"{key[-1]}: {value!r} is not a log level{suggestion}; use "
                   f"{'|'.join(_logging.LEVELS)} (the gateway refuses to start)")
        yield from target.report(ID, LEVEL, message, key)
