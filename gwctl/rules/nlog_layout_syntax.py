"""An NLog layout with an unbalanced ``${`` (or an empty ``${}``): NLog rejects the value.

Layout renderers are ``${name}`` or ``${name:option=value}``; inside one, ``\\`` escapes
``:`` and ``}`` (``${date:format=HH\\:mm}``) and renderers nest
(``${uppercase:${level}}``). A ``${`` without its ``}`` makes NLog fail to parse the
layout, the target is not created, and with ``autoReload`` the previous configuration
stays in effect. Every attribute of nlog.config except names, types and levels is
checked.

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
OPTIONS: Final[dict[str, Any]] = {}


def check(target: Target, options: Options) -> Iterator[Problem]:
    for el, attr, issue in _nlog.layout_issues(target):
        if issue.kind == "unclosed":
            message = f"{attr}: '${{' at {issue.token!r} has no closing '}}'"
        elif issue.kind == "empty":
            message = f"{attr}: empty layout renderer '${{}}'"
        else:
            continue
        yield from target.report_xml(ID, LEVEL, message, el, attr, needle=issue.token)
