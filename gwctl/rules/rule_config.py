"""The fleet's ``rules:`` section, or an inline directive, names no rule gwctl has.

A misspelt rule id would silently configure nothing (and a misspelt suppression would
suppress nothing), so gwctl reports it with the closest known ids. Options that a rule
does not have, or of the wrong type, are reported the same way.

PASS::

    rules:
      cors-wildcard-origin: {level: warning, reason: "lab fleet, no real users"}

FAIL::

    rules:
      cors-wildcard-origins: false      # no such rule: cors-wildcard-origin?
"""

from __future__ import annotations

from typing import Any, Final

from gwctl.problems import Level

ID: Final = "rule-config"
LEVEL: Final = Level.ERROR
OPTIONS: Final[dict[str, Any]] = {}
