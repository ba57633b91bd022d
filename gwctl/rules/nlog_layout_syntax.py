"""An NLog layout with a ``${`` that is never closed, or an empty ``${}``: not what it says.

Layout renderers are ``${name}`` or ``${name:option=value}``; inside one, ``\\`` escapes
``:`` and ``}`` (``${date:format=HH\\:mm}``) and renderers nest
(``${uppercase:${level}}``). NLog's layout parser does not reject an unclosed ``${``: it
reads a renderer's options up to its ``}`` *or the end of the value*
(NLog/NLog src/NLog/Layouts/LayoutParser.cs, ``ParseLayoutRenderer``), so everything
after ``${name:`` becomes that renderer's options and the rest of the layout is never
printed as written; where the swallowed text lands in an option that must convert (a
number, true/false), the conversion fails and NLog drops the target, saying so only in
its internal log. ``${}`` names no renderer, and NLog replaces a renderer it cannot
create with empty text unless ``throwConfigExceptions`` is set (``GetLayoutRenderer``,
same file): it prints nothing (a warning). Every attribute of nlog.config except names,
types and levels is checked.

PASS::

    <variable name="defaultLayout" value="${longdate} ${level:uppercase=true} ${message}" />

FAIL::

    <variable name="defaultLayout" value="${longdate} ${level:uppercase=true ${message}" />
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.nlog import document as _nlog
from gwctl.problems import Level, Problem
from gwctl.rules.base import Options
from gwctl.rules.target import Target

ID: Final = "nlog-layout-syntax"
LEVEL: Final = Level.ERROR
EFFECT: Final = "silent"
OPTIONS: Final[dict[str, Any]] = {}


def check(target: Target, options: Options) -> Iterator[Problem]:
    for el, attr, issue in _nlog.layout_issues(target):
        if issue.kind == "unclosed":
            level = LEVEL
            message = (f"{attr}: '${{' at {issue.token!r} has no closing '}}': NLog reads "
                       "the rest of the value as that renderer's options, so it is not "
                       "printed as written")
        elif issue.kind == "empty":
            level = Level.WARNING
            message = f"{attr}: empty layout renderer '${{}}' prints nothing"
        else:
            continue
        yield from target.report_xml(ID, level, message, el, attr, needle=issue.token)
