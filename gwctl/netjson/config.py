"""Flattening and merging, as Microsoft.Extensions.Configuration does it.

Every JSON file becomes a flat map ``"Section:Key:0:Name" -> string | None``:
objects add their property name to the path, arrays their index, scalars are stored as
``JsonElement.ToString()`` renders them (``true`` -> ``"True"``, ``null`` -> ``""``,
numbers as written), and an empty object or array stores ``None`` at its own path. Keys
compare ignoring case; a scalar landing on a key seen before in the same file is the
startup error "A duplicate key 'X' was found." -- but an empty object or array is
written without that check (dotnet/runtime
src/libraries/Microsoft.Extensions.Configuration.Json/src/JsonConfigurationFileParser.cs),
so the same empty section twice loads. Sources are layered: for each key the last
source that has it wins, which is why an override's array merges *by index* and why no
override can delete a key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from gwctl.errors import InputError
from gwctl.netjson import runtime as dotnet
from gwctl.netjson.parser import JNode, JsonDocument
from gwctl.problems import escape_pointer_token

SEP = ":"


def fold(key: str) -> str:
    """The comparison form of a key (StringComparer.OrdinalIgnoreCase)."""
    return key.lower()


@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    value: str | None
    file: str | None = None
    line: int | None = None
    column: int | None = None
    #: JSON pointer of the value inside its source document
    pointer: str = ""


@dataclass(frozen=True, slots=True)
class Duplicate:
    key: str
    first: Entry
    second: Entry


class TopLevelNotObject(InputError):
    pass


class FlatConfig:
    """One configuration source: its entries in document order, keyed case-insensitively."""

    __slots__ = ("duplicates", "entries", "name")

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        self.entries: dict[str, Entry] = {}
        self.duplicates: list[Duplicate] = []

    def add(self, entry: Entry, *, checked: bool | None = None) -> None:
        """Add `entry`; `checked` (default: it has a value) runs the duplicate check."""
        k = fold(entry.key)
        first = self.entries.get(k)
        if not (entry.value is not None if checked is None else checked):
            # an empty {} or [] is stored without the duplicate check, over whatever was
            # there (dotnet/runtime JsonConfigurationFileParser.SetNullIfElementIsEmpty)
            self.entries[k] = entry
            return
        if first is not None:
            self.duplicates.append(Duplicate(entry.key, first, entry))
            return
        self.entries[k] = entry

    def get(self, key: str) -> str | None:
        e = self.entries.get(fold(key))
        return None if e is None else e.value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and fold(key) in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries.values())

    def as_dict(self) -> dict[str, str | None]:
        return {e.key: e.value for e in self.entries.values()}


def scalar_string(kind: str, value: Any, raw: str | None = None) -> str | None:
    """What ``JsonElement.ToString()`` returns for a scalar."""
    if kind == "string":
        return str(value)
    if kind == "number":
        return raw if raw is not None else _number_text(value)
    if kind == "true":
        return "True"
    if kind == "false":
        return "False"
    return ""


def _number_text(value: int | float) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def flatten_document(doc: JsonDocument, runtime: int = dotnet.DEFAULT) -> FlatConfig:
    """Flatten a parsed file as .NET `runtime` does; duplicates go to ``.duplicates``."""
    root = doc.root
    if root.kind != "object":
        raise TopLevelNotObject(
            f"top-level JSON value must be an object, found {_kind_name(root.kind)}",
            file=doc.file,
            line=root.line,
            column=root.column,
            rule="top-level-not-object",
        )
    flat = FlatConfig(doc.file)
    _walk_node(root, "", "", flat, doc.file, runtime)
    return flat


def _scalar(kind: str, value: Any, raw: str | None, runtime: int) -> str | None:
    return dotnet.null_text(runtime) if kind == "null" else scalar_string(kind, value, raw)


def _walk_node(node: JNode, path: str, ptr: str, flat: FlatConfig, file: str,
               runtime: int) -> None:
    kind = node.kind
    if kind == "object":
        if not node.value and path:
            flat.add(Entry(path, None, file, node.line, node.column, ptr), checked=False)
        for m in node.value:
            child = f"{path}{SEP}{m.key}" if path else m.key
            cptr = f"{ptr}/{escape_pointer_token(m.key)}"
            if m.value.kind in ("object", "array"):
                _walk_node(m.value, child, cptr, flat, file, runtime)
            else:
                v = m.value
                flat.add(Entry(child, _scalar(v.kind, v.value, v.raw, runtime), file, m.line,
                               m.column, cptr), checked=True)
    elif kind == "array":
        if not node.value:
            flat.add(Entry(path, dotnet.empty_array_text(runtime), file, node.line,
                           node.column, ptr), checked=False)
        for i, item in enumerate(node.value):
            child = f"{path}{SEP}{i}"
            if item.kind in ("object", "array"):
                _walk_node(item, child, f"{ptr}/{i}", flat, file, runtime)
            else:
                flat.add(Entry(child, _scalar(item.kind, item.value, item.raw, runtime), file,
                               item.line, item.column, f"{ptr}/{i}"), checked=True)


def flatten_value(value: Mapping[str, Any], name: str | None = None,
                  runtime: int = dotnet.DEFAULT) -> FlatConfig:
    """Flatten Python data (gwctl's own rendering) with the same rules as a file."""
    flat = FlatConfig(name)
    _walk_value(value, "", "", flat, name, runtime)
    return flat


def _walk_value(value: Any, path: str, ptr: str, flat: FlatConfig, file: str | None,
                runtime: int) -> None:
    if isinstance(value, Mapping):
        if not value and path:
            flat.add(Entry(path, None, file, pointer=ptr), checked=False)
        for k, v in value.items():
            _walk_value(v, f"{path}{SEP}{k}" if path else str(k),
                        f"{ptr}/{escape_pointer_token(k)}", flat, file, runtime)
    elif isinstance(value, list | tuple):
        if not value:
            flat.add(Entry(path, dotnet.empty_array_text(runtime), file, pointer=ptr),
                     checked=False)
        for i, item in enumerate(value):
            _walk_value(item, f"{path}{SEP}{i}", f"{ptr}/{i}", flat, file, runtime)
    else:
        text = dotnet.null_text(runtime) if value is None else scalar_text(value)
        flat.add(Entry(path, text, file, pointer=ptr), checked=True)


def scalar_text(value: Any) -> str | None:
    """The configuration string of a Python scalar, as the JSON provider would store it."""
    if value is None:
        return ""
    if value is True:
        return "True"
    if value is False:
        return "False"
    if isinstance(value, int | float):
        return _number_text(value)
    return str(value)


def _kind_name(kind: str) -> str:
    return {"true": "a boolean", "false": "a boolean", "null": "null"}.get(
        kind, f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"
    )


class Effective:
    """Several sources layered in order: for every key the last source that has it wins."""

    def __init__(self, sources: Iterable[FlatConfig]) -> None:
        self.sources = list(sources)
        self.entries: dict[str, Entry] = {}
        # the spelling a key is shown with: the first source that introduced it
        self._spelling: dict[str, str] = {}
        for src in self.sources:
            for k, e in src.entries.items():
                self.entries[k] = e
                self._spelling.setdefault(k, e.key)

    def get(self, key: str) -> str | None:
        e = self.entries.get(fold(key))
        return None if e is None else e.value

    def entry(self, key: str) -> Entry | None:
        return self.entries.get(fold(key))

    def tree(self, prefix: str = "") -> Any:
        """The nested view a configuration binder sees (strings and None at the leaves)."""
        items = self.entries.items()
        if prefix:
            p = fold(prefix) + SEP
            items = [(k, e) for k, e in items if k.startswith(p)]  # type: ignore[assignment]
            cut = len(p)
        else:
            cut = 0
        return unflatten({self._spelling[k][cut:]: e.value for k, e in items})


def unflatten(flat: Mapping[str, str | None]) -> Any:
    """Nested dicts/lists from flat keys; a section whose children are all indices is a list."""
    root: dict[str, Any] = {}
    names: dict[int, dict[str, str]] = {}
    for key, value in flat.items():
        node = root
        parts = key.split(SEP)
        for part in parts[:-1]:
            node = _child(node, part, names)
        leaf = parts[-1]
        spelled = names.setdefault(id(node), {}).setdefault(fold(leaf), leaf)
        existing = node.get(spelled)
        if isinstance(existing, dict):
            # a section that also has a value: the children are what binding sees
            continue
        node[spelled] = value
    return _listify(root)


def _child(node: dict[str, Any], part: str, names: dict[int, dict[str, str]]) -> dict[str, Any]:
    spelled = names.setdefault(id(node), {}).setdefault(fold(part), part)
    child = node.get(spelled)
    if not isinstance(child, dict):
        child = {}
        node[spelled] = child
    return child


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(k.isdigit() for k in node):
        return [_listify(node[k]) for k in sorted(node, key=int)]
    return {k: _listify(v) for k, v in node.items()}


_COMMENT = re.compile(r'"(?:[^"\\]|\\.)*"|//[^\n]*|/\*.*?\*/', re.DOTALL)
# only a comma right after a value: '[,]' and ',,' must stay errors, as for the gateway
_TRAILING_COMMA = re.compile(r'"(?:[^"\\]|\\.)*"|(?<=[^\s,\[{]),(?=\s*[}\]])')


_MAYBE_TRAILING = re.compile(r",\s*[}\]]")


def _keep_strings(m: re.Match[str]) -> str:
    token = m.group()
    return token if token.startswith('"') else " "


class _Raw(str):
    """A number as written in the file (the configuration keeps "1.50" as it is)."""


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def flatten_text(text: str, *, file: str) -> FlatConfig:
    """Flatten a file's text; positions are left out on the fast path.

    Strict JSON (what gwctl writes, and most hand-edited files) goes through the C JSON
    parser, an order of magnitude faster than the position-keeping one; anything it
    refuses -- comments, trailing commas, NaN, actual errors -- takes the faithful path,
    which also produces the precise error. Use `flatten_document(parse(...))` when
    problems must point at lines.
    """
    import json

    # the dialect's extras, removed outside strings, so the C parser can take the rest
    if "//" in text or "/*" in text:
        text = _COMMENT.sub(_keep_strings, text)
    if _MAYBE_TRAILING.search(text):
        text = _TRAILING_COMMA.sub(_keep_strings, text)
    try:
        pairs = json.loads(text, object_pairs_hook=_Pairs, parse_float=_Raw, parse_int=_Raw,
                           parse_constant=_no_constant)
    except (ValueError, RecursionError):
        from gwctl.netjson.parser import parse

        return flatten_document(parse(text, file=file))
    if not isinstance(pairs, _Pairs):
        from gwctl.netjson.parser import parse

        return flatten_document(parse(text, file=file))
    flat = FlatConfig(file)
    _walk_pairs(pairs, "", flat, file, 0)
    return flat


class _Pairs(list[tuple[str, Any]]):
    """An object as its (name, value) pairs: duplicates must survive to be reported."""


def _walk_pairs(value: Any, path: str, flat: FlatConfig, file: str, depth: int) -> None:
    if depth > 64:
        from gwctl.netjson.parser import MAX_DEPTH, JsonSyntaxError

        raise JsonSyntaxError(f"nesting deeper than {MAX_DEPTH} levels (the gateway's limit)",
                              file=file, rule="json-syntax")
    if isinstance(value, _Pairs):
        if not value and path:
            flat.add(Entry(path, None, file))
        for k, v in value:
            _walk_pairs(v, f"{path}{SEP}{k}" if path else k, flat, file, depth + 1)
    elif isinstance(value, list):
        if not value:
            flat.add(Entry(path, None, file))
        for i, item in enumerate(value):
            _walk_pairs(item, f"{path}{SEP}{i}", flat, file, depth + 1)
    elif isinstance(value, _Raw):
        flat.add(Entry(path, str(value), file))
    else:
        flat.add(Entry(path, scalar_text(value), file))
