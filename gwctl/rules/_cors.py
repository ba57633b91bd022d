"""The CORS section as the gateway reads it: comma-separated header values."""

from __future__ import annotations

from typing import Any

from gwctl.rules import _cfg
from gwctl.rules._cfg import Key

SECTION: Key = ("CORS",)
ENABLED: Key = ("CORS", "Enabled")
ORIGIN: Key = ("CORS", "Access-Control-Allow-Origin")
HEADERS: Key = ("CORS", "Access-Control-Allow-Headers")
METHODS: Key = ("CORS", "Access-Control-Allow-Methods")
WILDCARDS = ("*", "null")


def enabled(target: Any) -> bool:
    """``CORS:Enabled`` as bool.Parse reads it (disabled by default)."""
    return (_cfg.text(target.value(ENABLED)) or "").strip().lower() == "true"


def items(target: Any, key: Key) -> list[tuple[int, str]]:
    """(index, item) of a comma-separated header value of the effective configuration
    (memoised per target: every CORS rule asks)."""
    memo_key = "cors-items:" + ":".join(key)
    found: list[tuple[int, str]] | None = target.memo.get(memo_key)
    if found is None:
        value = _cfg.text(target.value(key))
        found = ([] if value is None
                 else [(i, item) for i, (item, _) in enumerate(_cfg.split_csv(value))])
        target.memo[memo_key] = found
    return found
