"""``Logging`` levels as Microsoft.Extensions.Logging reads them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from gwctl.rules import _cfg
from gwctl.rules._cfg import Key

LOGGING: Key = ("Logging",)
#: Microsoft.Extensions.Logging.LogLevel, values 0..6
LEVELS = ("Trace", "Debug", "Information", "Warning", "Error", "Critical", "None")
_FOLDED = {name.lower(): i for i, name in enumerate(LEVELS)}
_NUMBER = re.compile(r"^[+-]?[0-9]+$")


def skipped(value: str) -> bool:
    """An empty level is ignored, not an error (``LoggerFilterConfigureOptions.TryGetSwitch``)."""
    return value == ""


def parsed(value: str) -> int | None:
    """The LogLevel ``Enum.TryParse(value, ignoreCase: true)`` gives, or None when it fails.

    ``LoggerFilterConfigureOptions.TryGetSwitch`` (dotnet/runtime src/libraries/
    Microsoft.Extensions.Logging.Configuration/src/LoggerFilterConfigureOptions.cs) uses
    ``Enum.TryParse``, which takes a name in any case, *any* Int32 number (defined or not)
    and a comma-separated list of names (their values OR-ed), blanks around each.
    """
    text = value.strip()
    if _NUMBER.match(text):
        number = int(text)
        return number if -(2**31) <= number < 2**31 else None
    total = 0
    for part in text.split(","):
        found = _FOLDED.get(part.strip().lower())
        if found is None:
            return None
        total |= found
    return total


def is_level(value: str) -> bool:
    return parsed(value) is not None


def level_keys(tree: Any) -> Iterator[tuple[Key, str | None]]:
    """``Logging:LogLevel:<category>`` and ``Logging:<Provider>:LogLevel:<category>``."""
    logging = _cfg.get(tree, "Logging")
    for name, section in _cfg.items(logging):
        if name.lower() == "loglevel":
            for cat, value in _cfg.items(section):
                yield (*LOGGING, name, cat), _cfg.text(value)
        elif isinstance(section, dict):
            levels_name = _cfg.spelled(section, "LogLevel")
            if levels_name is not None:
                for cat, value in _cfg.items(section[levels_name]):
                    yield (*LOGGING, name, levels_name, cat), _cfg.text(value)
