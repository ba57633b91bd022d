"""An NLog rule writes to a target that nlog.config does not declare.

NLog reports the unknown target in its internal log and drops the rule's output: the
messages that rule was written for are silently never logged. Target names compare
ignoring case. Not checked when the file uses ``<include>`` (targets may come from the
included file).

PASS::

    <targets><target name="logfile" xsi:type="File" fileName="C:\\Logs\\gw.log" /></targets>
    <rules><logger name="*" minlevel="Info" writeTo="logfile" /></rules>

FAIL::

    <rules><logger name="*" minlevel="Info" writeTo="logfile,console" /></rules>
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.nlog import document as _nlog
from gwctl.problems import Level, Problem
from gwctl.rules.base import Options
from gwctl.rules.target import Target

ID: Final = "nlog-unknown-target"
LEVEL: Final = Level.ERROR
EFFECT: Final = "silent"
OPTIONS: Final[dict[str, Any]] = {}


def check(target: Target, options: Options) -> Iterator[Problem]:
    nlog = target.nlog.nlog if target.nlog is not None else None
    if nlog is None or nlog.iter("include"):
        return
    names = {(t.attr("name") or "").strip().lower() for t in _nlog.targets(nlog)}
    for logger in _nlog.loggers(nlog):
        for name in (logger.attr("writeTo") or "").split(","):
            name = name.strip()
            if name and "${" not in name and name.lower() not in names:
                known = ", ".join(sorted(n for n in names if n)) or "none"
                message = (f"logger {logger.attr('name') or '*'!r} writes to unknown target "
                           f"{name!r} (targets: {known}): NLog drops its output")
                yield from target.report_xml(ID, LEVEL, message, logger, "writeTo", needle=name)
