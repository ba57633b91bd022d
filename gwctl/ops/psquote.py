"""PowerShell literals for values embedded in generated PowerShell text.

gwctl's operations never splice values into script text (parameters travel as JSON on
stdin); the files `gwctl host-setup` writes for a security team (a JEA role capability,
a session configuration, an install script, a module) cannot avoid it. Every value goes
through these functions, and only through them.

PowerShell's tokenizer treats the typographic single quotes U+2018, U+2019, U+201A and
U+201B exactly like ``'``: a value holding one would end a literal that only doubled ASCII
quotes. Each of the four is doubled (as itself) too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

_SINGLE_QUOTES = re.compile("['\u2018\u2019\u201a\u201b]")
#: PowerShell hashtable keys written bare: a plain identifier (anything else is quoted)
_BARE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

PsValue = str | bool | int | list["PsValue"] | dict[str, "PsValue"]


def ps_string(value: str) -> str:
    """A single-quoted PowerShell string literal whose value is exactly `value`.

    Nothing inside single quotes is expanded (no ``$var``, no ``$(...)``, no backtick
    escapes): only a quote character can end the literal, and every one is doubled.
    """
    if not isinstance(value, str):
        raise TypeError(f"ps_string takes a str, not {type(value).__name__}")
    if "\x00" in value:
        # Windows APIs cut a string at NUL: what was checked would not be what is used
        raise ValueError("a PowerShell literal for gwctl may not contain NUL")
    return "'" + _SINGLE_QUOTES.sub(lambda m: m.group(0) * 2, value) + "'"


def ps_key(name: str) -> str:
    """A hashtable key: bare when it is a plain identifier, else a string literal."""
    return name if _BARE_KEY.match(name) else ps_string(name)


def ps_value(value: PsValue, indent: str = "") -> str:
    """A PowerShell data-language literal (as a .psd1 file allows) for `value`."""
    if isinstance(value, bool):
        return "$true" if value else "$false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return ps_string(value)
    if isinstance(value, list):
        return ps_array(value, indent)
    if isinstance(value, Mapping):
        return ps_hashtable(value, indent)
    raise TypeError(f"no PowerShell literal for {type(value).__name__}")


def ps_array(values: Iterable[PsValue], indent: str = "") -> str:
    items = [ps_value(v, indent) for v in values]
    return "@(" + ", ".join(items) + ")"


def ps_hashtable(entries: Mapping[str, PsValue], indent: str = "") -> str:
    """``@{ key = value }``, one entry per line, keys in the given order."""
    inner = indent + "    "
    lines = [f"{inner}{ps_key(k)} = {ps_value(v, inner)}" for k, v in entries.items()]
    return "@{\n" + "\n".join(lines) + "\n" + indent + "}"
