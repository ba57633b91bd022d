"""``Logging`` levels as Microsoft.Extensions.Logging reads them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gwctl.rules import _cfg
from gwctl.rules._cfg import Key

LOGGING: Key = ("Logging",)
#: Microsoft.Extensions.Logging.LogLevel (parsed ignoring case, numbers 0..6 too)
LEVELS = ("Trace", "Debug", "Information", "Warning", "Error", "Critical", "None")
_FOLDED = {name.lower() for name in LEVELS} | {str(i) for i in range(7)}


def skipped(value: str) -> bool:
    """An empty level is ignored, not an error (``LoggerFilterConfigureOptions.TryGetSwitch``)."""
    return value == ""


def is_level(value: str) -> bool:
    return value.strip().lower() in _FOLDED


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
