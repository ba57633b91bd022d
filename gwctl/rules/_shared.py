"""Small helpers several rule modules share."""

from __future__ import annotations

import json
from typing import Any

from gwctl.output import redact
from gwctl.rules import _cfg
from gwctl.rules._cfg import Key


def show(value: Any, limit: int = 160) -> str:
    """A short JSON rendering of a configuration value for messages."""
    text = json.dumps(_plain(value), separators=(", ", ": "))
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _plain(value: Any, name: str = "") -> Any:
    """Leaves as configuration strings, secrets masked (live files hold them in clear)."""
    if isinstance(value, dict):
        return {k: _plain(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, name) for v in value]
    return redact.mask_value(name, _cfg.text(value))


def dotted(key: Key) -> str:
    """``Section:Key:0`` as the configuration names it."""
    return ":".join(key)


def list_paths(node: Any, key: Key = ()) -> list[tuple[Key, list[Any]]]:
    """Every non-empty list in a tree with its key (an index-keyed dict is a list too)."""
    out: list[tuple[Key, list[Any]]] = []
    if isinstance(node, list):
        if node:
            out.append((key, node))
        for i, v in enumerate(node):
            out.extend(list_paths(v, (*key, str(i))))
    elif isinstance(node, dict):
        for k, v in node.items():
            out.extend(list_paths(v, (*key, k)))
    return out
