"""An NLog level that NLog does not know: on a ``<logger>``, all logging stops.

NLog levels are Trace, Debug, Info, Warn, Error, Fatal and Off (ignoring case; NLog also
accepts Microsoft's Information, Warning and None). ``LogLevel.FromString`` throws on
anything else (NLog/NLog src/NLog/LogLevel.cs; the value is trimmed first,
src/NLog/Config/LoggingConfigurationParser.cs ``LogLevelFromString``), and on a
``<logger>`` (``level``,
``levels``, ``minlevel``, ``maxlevel``, ``finalMinLevel``) that fails the whole file:
at start NLog installs an *empty* configuration -- every log line of the gateway is
silently dropped, and the file's own ``internalLogFile`` settings never apply -- and on
a reload it keeps the previous configuration (src/NLog/Config/LoggingConfigurationFileLoader.cs:
``LoadXmlLoggingConfiguration`` catches what the parser throws and installs
``CreateEmptyDefaultConfig``, which watches the file only when its text holds
``autoReload="true"``).
Also checked on ``<nlog>`` (``internalLogLevel``, ``globalThreshold``). Values that are
layouts (``${...}``) are left alone.

PASS::

    <logger name="*" minlevel="Info" writeTo="logfile" />

FAIL::

    <logger name="*" minlevel="Informational" writeTo="logfile" />
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.nlog import document as _nlog
from gwctl.problems import Level, Problem
from gwctl.rules.base import Options
from gwctl.rules.target import Target

ID: Final = "nlog-level-value"
LEVEL: Final = Level.ERROR
EFFECT: Final = "silent"
OPTIONS: Final[dict[str, Any]] = {}
_LOGGER_ATTRS = ("level", "minlevel", "maxlevel", "finalMinLevel")
_ROOT_ATTRS = ("internalLogLevel", "globalThreshold")


def _bad(value: str) -> list[str]:
    return [v.strip() for v in value.split(",")
            if v.strip() and "${" not in v and v.strip().lower() not in _nlog.LEVELS]


def check(target: Target, options: Options) -> Iterator[Problem]:
    nlog = target.nlog.nlog if target.nlog is not None else None
    if nlog is None:
        return
    checks = [(nlog, a, False) for a in _ROOT_ATTRS]
    for logger in _nlog.loggers(nlog):
        checks.extend((logger, a, False) for a in _LOGGER_ATTRS)
        checks.append((logger, "levels", True))
    for el, attr, is_list in checks:
        value = el.attr(attr)
        if value is None:
            continue
        single = value.strip()
        bad = _bad(value) if is_list else (
            [single] if single and "${" not in single and single.lower() not in _nlog.LEVELS
            else [])
        for item in bad:
            effect = ("NLog rejects the file: at start all logging stops, on reload the "
                      "previous configuration stays" if el is not nlog
                      else "NLog ignores the setting")
            message = (f"{attr}={item!r} is not an NLog level ({_nlog.LEVEL_NAMES}): "
                       f"{effect}")
            yield from target.report_xml(ID, LEVEL, message, el, attr, needle=item)
