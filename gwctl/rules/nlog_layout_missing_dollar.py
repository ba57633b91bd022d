"""``{name:...}`` without ``$`` in an NLog layout: printed literally, not rendered.

A layout renderer starts with ``${``. Without the ``$`` NLog copies the text as it is, so
every log line carries e.g. ``[{threadid:padding=6}]`` instead of the thread id -- the
manual's own default ``nlog.config`` has exactly this typo (gwctl's built-in template
fixes it).

PASS::

    <variable name="defaultLayout" value="${longdate} [${threadid:padding=6}] ${message}" />

FAIL::

    <variable name="defaultLayout" value="${longdate} [{threadid:padding=6}] ${message}" />
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.nlog import document as _nlog
from gwctl.problems import Level, Problem
from gwctl.rules.base import Options
from gwctl.rules.target import Target

ID: Final = "nlog-layout-missing-dollar"
LEVEL: Final = Level.WARNING
EFFECT: Final = "silent"
OPTIONS: Final[dict[str, Any]] = {}


def check(target: Target, options: Options) -> Iterator[Problem]:
    for el, attr, issue in _nlog.layout_issues(target):
        if issue.kind == "missing-dollar":
            message = (f"{attr}: {issue.token!r} lacks its '$': NLog prints it "
                       f"literally (write '${issue.token}')")
            yield from target.report_xml(ID, LEVEL, message, el, attr, needle=issue.token)
