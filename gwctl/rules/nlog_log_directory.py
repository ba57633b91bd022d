"""A File target writes to a relative path: the logs end up where nobody looks.

A relative ``fileName`` is resolved against the gateway's base directory, under
``Program Files`` -- which the app pool identity usually may not write to, and which a
product update replaces. Use an absolute Windows path (``C:\\ProgramData\\...``,
``D:\\Logs\\...`` or ``\\\\server\\share\\...``) or a layout that yields one
(``${specialfolder:...}``, ``${basedir}``). ``${var:...}`` references are followed, so the
finding points at the ``<variable>`` that holds the relative directory.

PASS::

    <variable name="logDirectory" value="C:\\ProgramData\\Milestone\\ApiGateway\\Logs" />
    <target name="logfile" xsi:type="File" fileName="${var:logDirectory}\\gateway.log" />

FAIL::

    <variable name="logDirectory" value="Logs" />
    <target name="logfile" xsi:type="File" fileName="${var:logDirectory}\\gateway.log" />
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final

from gwctl.nlog import document as _nlog
from gwctl.nlog.document import XElem
from gwctl.problems import Level, Problem
from gwctl.rules.base import Options
from gwctl.rules.target import Target

ID: Final = "nlog-log-directory"
LEVEL: Final = Level.WARNING
OPTIONS: Final[dict[str, Any]] = {}

_ABSOLUTE = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\[^\\/]+[\\/])")
_LEADING_VAR = re.compile(r"^\$\{var:([^:}]+)[^}]*\}", re.IGNORECASE)


def _origin(value: str, el: XElem, attr: str, variables: dict[str, XElem],
            depth: int = 0) -> tuple[str, XElem, str]:
    """Follow a leading ``${var:x}`` to the text that starts the path, and where it is."""
    m = _LEADING_VAR.match(value)
    if m is None or depth > 8:
        return value, el, attr
    var = variables.get(m.group(1).strip().lower())
    if var is None:
        return value, el, attr
    return _origin((var.attr("value") or "") + value[m.end():], var, "value", variables,
                   depth + 1)


def check(target: Target, options: Options) -> Iterator[Problem]:
    nlog = target.nlog.nlog if target.nlog is not None else None
    if nlog is None:
        return
    variables = _nlog.variables(nlog)
    reported: set[tuple[int, str]] = set()
    for el in _nlog.targets(nlog):
        if _nlog.target_type(el).lower() != "file":
            continue
        for attr in ("fileName", "archiveFileName"):
            value = el.attr(attr)
            if not value:
                continue
            path, where, where_attr = _origin(value.strip(), el, attr, variables)
            if path.startswith("${") or _ABSOLUTE.match(path):
                continue
            if (id(where), where_attr) in reported:
                continue
            reported.add((id(where), where_attr))
            message = (f"target {el.attr('name')!r}: {attr} resolves to the relative path "
                       f"{path!r}: NLog puts it under the gateway's install directory; use "
                       "an absolute Windows path (C:\\ProgramData\\...)")
            yield from target.report_xml(ID, LEVEL, message, where, where_attr)
