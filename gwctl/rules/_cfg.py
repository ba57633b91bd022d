"""Nested configuration trees with Microsoft.Extensions.Configuration semantics.

Rules read a nested view of the configuration (what the binder sees) rather than the flat
``Section:Key`` map: flattening every gateway of a 1,000-gateway fleet costs seconds, while
merging nested trees touches only the keys the override declares. `merge` reproduces
`gwctl.netjson.config.Effective` exactly (tested against it): keys compare ignoring case
and keep the spelling of the first source, arrays merge *by index*, a later scalar wins,
and where one source has a value and another a section, the binder sees the section.

A tree is a ``dict`` (section), a ``list`` (a section whose keys are 0..n-1) or a leaf.
Leaves may be Python values of gwctl's own rendering (``True``, ``10``, a ``Secret``);
`text` gives the string the configuration stores for them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gwctl.netjson.config import scalar_text

Key = tuple[str, ...]


def fold(key: str) -> str:
    return key.lower()


def is_section(value: Any) -> bool:
    return isinstance(value, dict | list)


def text(value: Any) -> str | None:
    """The configuration string of a leaf (``JsonElement.ToString()`` rules); None for sections.

    A secret becomes its masked form: rules must never copy a secret into a message.
    """
    if value is None or isinstance(value, str | bool | int | float):
        return scalar_text(value)
    if is_section(value):
        return None
    masked = getattr(value, "masked", None)
    return str(masked() if callable(masked) else value)


def get(node: Any, key: str) -> Any:
    """Child `key` of a section, ignoring case (None when absent or `node` is a leaf)."""
    if isinstance(node, dict):
        value = node.get(key)
        if value is not None or key in node:
            return value
        k = key.lower()
        for name, value in node.items():
            if name.lower() == k:
                return value
        return None
    if isinstance(node, list) and key.isdigit():
        i = int(key)
        return node[i] if i < len(node) else None
    return None


def has(node: Any, key: str) -> bool:
    if isinstance(node, dict):
        if key in node:
            return True
        k = key.lower()
        return any(name.lower() == k for name in node)
    return isinstance(node, list) and key.isdigit() and int(key) < len(node)


def spelled(node: Any, key: str) -> str | None:
    """How `node` spells its child `key` (None when absent)."""
    if isinstance(node, dict):
        if key in node:
            return key
        k = key.lower()
        for name in node:
            if name.lower() == k:
                return str(name)
        return None
    if isinstance(node, list) and key.isdigit() and int(key) < len(node):
        return key
    return None


def items(node: Any) -> Iterator[tuple[str, Any]]:
    """Children of a section as (key, value); list indices as strings."""
    if isinstance(node, dict):
        yield from node.items()
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield str(i), v


def children(node: Any) -> list[Any]:
    """Child values of a section in key order (an index-keyed dict counts as a list)."""
    if isinstance(node, list):
        return node
    if isinstance(node, dict):
        return list(node.values())
    return []


def walk(node: Any, key: Key) -> Any:
    for part in key:
        node = get(node, part)
        if node is None:
            return None
    return node


def exists(node: Any, key: Key) -> bool:
    for part in key[:-1]:
        node = get(node, part)
        if node is None:
            return False
    return has(node, key[-1]) if key else node is not None


def _as_dict(node: list[Any] | dict[str, Any]) -> dict[str, Any]:
    return {str(i): v for i, v in enumerate(node)} if isinstance(node, list) else node


def _listify(node: dict[str, Any]) -> list[Any] | dict[str, Any]:
    if node and all(k.isdigit() for k in node):
        return [node[k] for k in sorted(node, key=int)]
    return node


def _empty(node: Any) -> bool:
    return is_section(node) and not node


def merge(base: Any, over: Any) -> Any:
    """`over` layered on `base`, as ConfigurationRoot layers two JSON files.

    Shares unchanged subtrees with its inputs (never copies them, never mutates them).
    ``None`` is JSON null (a value whose text is ""); an empty section is ``{}``/``[]``.
    """
    if base is None:
        return over
    b_sec, o_sec = is_section(base), is_section(over)
    if not o_sec:
        # a value where the base has a section: the binder still sees the section
        return base if b_sec and not _empty(base) else over
    if not b_sec:
        # a section over a value: the section wins (an empty one stores null, which also
        # replaces the value)
        return over
    if not over:
        return base
    if not base:
        return over
    if isinstance(base, list) and isinstance(over, list):
        n = min(len(base), len(over))
        return [merge(base[i], over[i]) for i in range(n)] + base[n:] + over[n:]
    bd, od = _as_dict(base), _as_dict(over)
    out = dict(bd)
    names = {k.lower(): k for k in bd}
    for k, v in od.items():
        existing = names.get(k.lower())
        if existing is None:
            out[k] = v
            names[k.lower()] = k
        else:
            out[existing] = merge(bd[existing], v)
    return _listify(out)


def sections_from_flat(tree: Any) -> Any:
    """A tree unflattened from the flat model, with its empty sections (None there) as ``{}``."""
    if isinstance(tree, dict):
        return {k: {} if v is None else sections_from_flat(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [{} if v is None else sections_from_flat(v) for v in tree]
    return tree


def split_csv(value: str) -> list[tuple[str, int]]:
    """Items of a comma-separated header value with their offsets in `value` (trimmed)."""
    out = []
    pos = 0
    for raw in value.split(","):
        stripped = raw.strip()
        out.append((stripped, pos + (len(raw) - len(raw.lstrip()))))
        pos += len(raw) + 1
    return out
