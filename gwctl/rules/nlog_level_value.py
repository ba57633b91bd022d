"""An NLog level that NLog does not know: the rule (or setting) is ignored.

NLog levels are Trace, Debug, Info, Warn, Error, Fatal and Off (ignoring case; NLog also
accepts Microsoft's Information, Warning and None). Checked on ``<logger>`` (``level``,
``levels``, ``minlevel``, ``maxlevel``, ``finalMinLevel``) and on ``<nlog>``
(``internalLogLevel``, ``globalThreshold``). Values that are layouts (``${...}``) are
left alone.

PASS::

    <logger name="*" minlevel="Info" writeTo="logfile" />

FAIL::

    <logger name="*" minlevel="Informational" writeTo="logfile" />
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules import _nlog
from gwctl.rules.base import Options
from gwctl.rules.target import Target

ID: Final = "nlog-level-value"
LEVEL: Final = Level.ERROR
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
            message = (f"{attr}={item!r} is not an NLog level ({_nlog.LEVEL_NAMES}): NLog "
                       "ignores the setting")
            yield from target.report_xml(ID, LEVEL, message, el, attr, needle=item)
