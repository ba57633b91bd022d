"""Two keys of one appsettings file are equal ignoring case: the gateway does not start.

Configuration keys are case-insensitive, and the JSON provider refuses a file in which
two keys flatten to the same path ("A duplicate key 'CORS:Enabled' was found"). That
includes ``"Cors"`` next to ``"CORS"``, and a ``"Logging:LogLevel"`` member next to a
``"Logging"`` object that also sets ``LogLevel``. Every duplicate is reported, at its
second occurrence. An empty ``{}`` or ``[]`` is stored without the check, so the same
empty section twice loads (dotnet/runtime
src/libraries/Microsoft.Extensions.Configuration.Json/src/JsonConfigurationFileParser.cs);
a value after an empty section of the same name does not. In a fleet it comes from
keys that differ only in case (two route ids, two log categories) or from the raw
``appsettings`` escape hatch.

PASS::

    { "CORS": { "Enabled": true }, "Logging": { "LogLevel": { "Yarp": "Warning" } } }

FAIL::

    { "CORS": { "Enabled": true }, "Cors": { "Enabled": false } }
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules.base import Options
from gwctl.rules.target import Target

ID: Final = "duplicate-key"
LEVEL: Final = Level.ERROR
EFFECT: Final = "start"
OPTIONS: Final[dict[str, Any]] = {}


def check(target: Target, options: Options) -> Iterator[Problem]:
    for dup in target.duplicates:
        first = f" (first at line {dup.first_pos[0]})" if dup.first_pos else ""
        message = (f"duplicate key {dup.key!r}{first}: keys are compared ignoring case, and "
                   "the gateway refuses to start with a duplicate")
        yield from target.report_written(ID, LEVEL, message, dup.second, dup.second_pos,
                                         dup.second_pointer)
