"""YAML loading that keeps positions and refuses what a fleet file should never contain.

PyYAML's composer (the libyaml C one when available) gives nodes with marks; we build
plain Python data from them ourselves so that every value's line/column is recorded
under its JSON pointer, duplicate keys are errors (PyYAML silently keeps the last),
and alias expansion is bounded (a "billion laughs" file fails fast instead of eating
memory).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from gwctl.errors import InputError
from gwctl.problems import Location, escape_pointer_token
from gwctl.textio import read_text

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: values built by re-expanding aliases; real fleets reuse a few small anchors
MAX_ALIAS_NODES = 100_000

_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}

#: inline directive: ``# gwctl: disable=rule-a,rule-b -- reason``
_DIRECTIVE = re.compile(r"#\s*gwctl:\s*disable=([\w,\-]+)(?:\s*(?:--|:)\s*(.*\S))?")


@dataclass(frozen=True, slots=True)
class Suppression:
    rules: frozenset[str]
    reason: str | None
    line: int


@dataclass(slots=True)
class YamlSource:
    """A loaded YAML document: its data, where each value came from, and directives."""

    file: str
    data: Any
    positions: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: line number of the suppressed key -> the directive (on that line or alone above it)
    suppressions: dict[int, Suppression] = field(default_factory=dict)

    def locate(self, pointer: str) -> Location:
        """Location of `pointer`, or of its nearest ancestor that has one."""
        p = pointer
        while True:
            pos = self.positions.get(p)
            if pos is not None:
                return Location(self.file, pos[0], pos[1])
            if not p:
                return Location(self.file, 1, 1)
            p = p.rsplit("/", 1)[0]


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.positions: dict[str, tuple[int, int]] = {}
        self.alias_nodes = 0
        self.alias_depth = 0
        self.seen: set[int] = set()
        self.constructor = SafeConstructor()
        self.active: set[int] = set()

    def error(self, message: str, node: yaml.Node) -> InputError:
        m = node.start_mark
        return InputError(message, file=self.file, line=m.line + 1, column=m.column + 1,
                          rule="yaml-structure")

    def build(self, node: yaml.Node, ptr: str) -> Any:
        if self.alias_depth:
            self.alias_nodes += 1
            if self.alias_nodes > MAX_ALIAS_NODES:
                raise self.error(
                    f"aliases expand to more than {MAX_ALIAS_NODES:,} values (an alias bomb?)",
                    node,
                )
        if ptr not in self.positions:
            self.positions[ptr] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        key = id(node)
        if key in self.active:
            raise self.error("recursive alias: a value refers to itself", node)
        reused = key in self.seen
        self.seen.add(key)
        self.active.add(key)
        self.alias_depth += reused
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, f"{ptr}/{i}") for i, item in enumerate(node.value)]
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, ptr)
        finally:
            self.active.discard(key)
            self.alias_depth -= reused
        raise self.error(f"unsupported YAML node {node.tag}", node)

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        tag = node.tag
        if tag == "tag:yaml.org,2002:timestamp":
            # a date is configuration text here, not a datetime
            return node.value
        if tag not in _SCALAR_TAGS:
            raise self.error(f"unsupported YAML tag {tag!r}", node)
        return self.constructor.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, ptr: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for knode, vnode in node.value:
            if knode.tag == "tag:yaml.org,2002:merge":
                raise self.error("YAML merge keys ('<<') are not supported; use defaults", knode)
            if not isinstance(knode, yaml.ScalarNode):
                raise self.error("mapping keys must be plain text", knode)
            key = self._scalar(knode)
            if key is None or isinstance(key, bool | float):
                raise self.error(f"mapping key {knode.value!r} is not text; quote it", knode)
            key = str(key)
            if key in out:
                raise self.error(f"duplicate key {key!r} in this mapping", knode)
            cptr = f"{ptr}/{escape_pointer_token(key)}"
            # a member's location is its key: that is where a reader looks
            self.positions[cptr] = (knode.start_mark.line + 1, knode.start_mark.column + 1)
            out[key] = self.build(vnode, cptr)
        return out


def load_yaml_text(text: str, *, file: str) -> YamlSource:
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError(
            f"YAML syntax: {problem}",
            file=file,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
            rule="yaml-syntax",
        ) from None
    except yaml.YAMLError as exc:
        raise InputError(f"YAML syntax: {exc}", file=file, rule="yaml-syntax") from None
    if node is None:
        return YamlSource(file, None)
    builder = _Builder(file)
    try:
        data = builder.build(node, "")
    except RecursionError:
        raise InputError("nesting too deep", file=file, rule="yaml-structure") from None
    return YamlSource(file, data, builder.positions, _suppressions(text))


def load_yaml(path: str) -> YamlSource:
    return load_yaml_text(read_text(path), file=str(path))


def _suppressions(text: str) -> dict[int, Suppression]:
    out: dict[int, Suppression] = {}
    if "gwctl:" not in text:
        return out
    for lineno, line in enumerate(text.splitlines(), 1):
        if "#" not in line:
            continue
        m = _DIRECTIVE.search(line)
        if m:
            rules = frozenset(r for r in m.group(1).split(",") if r)
            # on a line of its own the directive is about the next line (the key below it)
            target = lineno + 1 if line.lstrip().startswith("#") else lineno
            out[target] = Suppression(rules, m.group(2), lineno)
    return out
