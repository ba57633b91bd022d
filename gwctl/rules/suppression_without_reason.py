"""A rule is disabled or a finding suppressed without saying why.

Suppressions are recorded in the JSON output with their reason, so that a reviewer (or
an auditor) can see why a finding was accepted. An inline directive takes the reason
after ``--``; a disabled rule takes it in ``reason:``.

PASS::

    allow_origins: ["*"]  # gwctl: disable=cors-wildcard-origin -- kiosk demo, no login

FAIL::

    allow_origins: ["*"]  # gwctl: disable=cors-wildcard-origin
"""

from __future__ import annotations

from typing import Any, Final

from gwctl.problems import Level

ID: Final = "suppression-without-reason"
LEVEL: Final = Level.WARNING
OPTIONS: Final[dict[str, Any]] = {}
