"""CORS settings declared for a gateway release older than 2022 R3 (they are ignored).

CORS support arrived in XProtect 2022 R3 (manual, What's new). An older gateway ignores
the section, so browser clients keep failing however it is written. Upgrade the site, or
serve the web page from the gateway's own origin.

PASS::

    management_server: {host: ms1, version: "2022 R3"}
    settings: {cors: {enabled: true, allow_origins: [https://portal.example.com]}}

FAIL::

    management_server: {host: ms1, version: "2022 R2"}
    settings: {cors: {enabled: true, allow_origins: [https://portal.example.com]}}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules import _cors
from gwctl.rules.base import Options
from gwctl.rules.target import Target
from gwctl.versions.features import feature, supports

ID: Final = "cors-version"
LEVEL: Final = Level.ERROR
OPTIONS: Final[dict[str, Any]] = {}


def check(target: Target, options: Options) -> Iterator[Problem]:
    if target.override is None or supports("cors", target.version):
        return
    if target.in_override(_cors.SECTION):
        message = (f"CORS needs {feature('cors').since} or later; this gateway runs "
                   f"{target.version}, which ignores the CORS section")
        yield from target.report(ID, LEVEL, message, _cors.SECTION)
