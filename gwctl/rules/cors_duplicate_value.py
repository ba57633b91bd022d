"""The same origin, header or method is listed twice in a CORS setting.

Harmless to the gateway, but a sign of a merge gone wrong (two layers each adding the
same origin) or of a typo hiding the entry that was meant. Compared ignoring case.

PASS::

    cors: {allow_methods: [GET, POST, PATCH]}

FAIL::

    cors: {allow_methods: [GET, POST, get]}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules import _cors
from gwctl.rules.base import Options
from gwctl.rules.target import Target

ID: Final = "cors-duplicate-value"
LEVEL: Final = Level.WARNING
OPTIONS: Final[dict[str, Any]] = {}


def check(target: Target, options: Options) -> Iterator[Problem]:
    if target.view is None:
        return
    for key in (_cors.ORIGIN, _cors.HEADERS, _cors.METHODS):
        seen: dict[str, int] = {}
        for i, item in _cors.items(target, key):
            folded = item.lower().rstrip("/")
            if not folded:
                continue
            if folded in seen:
                message = f"{key[-1]} lists {item!r} twice (first as entry {seen[folded] + 1})"
                yield from target.report(ID, LEVEL, message, key, item=i)
            else:
                seen[folded] = i
