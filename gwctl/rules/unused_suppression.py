"""An inline ``# gwctl: disable=...`` directive suppresses nothing.

Usually the finding was fixed (remove the directive) or the directive sits on the wrong
line: it applies to the line it is on, or, alone on a line, to the line below. Not
reported when ``validate`` runs only some rules.

PASS::

    allow_origins: ["*"]  # gwctl: disable=cors-wildcard-origin -- kiosk demo

FAIL (nothing on this line is a wildcard origin)::

    enabled: true  # gwctl: disable=cors-wildcard-origin -- kiosk demo
"""

from __future__ import annotations

from typing import Any, Final

from gwctl.problems import Level

ID: Final = "unused-suppression"
LEVEL: Final = Level.WARNING
OPTIONS: Final[dict[str, Any]] = {}
