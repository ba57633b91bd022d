"""YAML loading that keeps positions and refuses what a fleet file should never contain.

libyaml's parser gives events with marks; we build plain Python data from them
ourselves so that every value's line/column is recorded
under its JSON pointer, duplicate keys are errors (PyYAML silently keeps the last),
and alias expansion is bounded (a "billion laughs" file fails fast instead of eating
memory).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from gwctl.errors import InputError
from gwctl.problems import Location, escape_pointer_token
from gwctl.textio import nul_hint, read_text

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: values built by re-expanding aliases; real fleets reuse a few small anchors
MAX_ALIAS_NODES = 100_000
#: nesting of mappings and lists; the gateway reads at most 64 levels of JSON, and a
#: fleet adds a handful above its settings
MAX_DEPTH = 100
#: no setting holds a number this long (and Python refuses to convert much longer ones)
MAX_NUMBER_LENGTH = 1000

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
    """Builds data straight from libyaml's parse events.

    Going through PyYAML's composer would cost several times more: it resolves every
    scalar's tag with Python regular expressions and allocates a node per value. Here
    plain scalars are resolved with the same YAML 1.1 table (so values mean what they
    mean to Ansible users) but strings -- nearly everything -- take a fast path.
    """

    def __init__(self, file: str) -> None:
        self.file = file
        self.positions: dict[str, tuple[int, int]] = {}
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.open_anchors: set[str] = set()
        self.alias_nodes = 0
        self.depth = 0
        self.constructor = SafeConstructor()
        self.resolvers = _Loader.yaml_implicit_resolvers

    def error(self, message: str, mark: Any) -> InputError:
        return InputError(message, file=self.file, line=mark.line + 1,
                          column=mark.column + 1, rule="yaml-structure")

    def build(self, events: Iterator[Any]) -> Any:
        value: Any = None
        for event in events:
            if isinstance(event, yaml.DocumentStartEvent):
                value, _ = self._value(events, next(events), "")
            elif isinstance(event, yaml.DocumentEndEvent):
                nxt = next(events, None)
                if isinstance(nxt, yaml.DocumentStartEvent):
                    raise self.error("a fleet file holds one YAML document, found a second",
                                     nxt.start_mark)
                break
        return value

    def _value(self, events: Iterator[Any], event: Any, ptr: str
               ) -> tuple[Any, int]:
        """The value starting with `event`, and how many values it holds (for alias limits)."""
        mark = event.start_mark
        self.positions.setdefault(ptr, (mark.line + 1, mark.column + 1))
        if isinstance(event, yaml.ScalarEvent):
            value: Any = self._scalar(event)
            size = 1
        elif isinstance(event, yaml.AliasEvent):
            return self._alias(event)
        elif isinstance(event, yaml.SequenceStartEvent):
            self._check_tag(event.tag, "tag:yaml.org,2002:seq", mark)
            self._open(event.anchor, mark)
            items: list[Any] = []
            size = 1
            for i, item_event in enumerate(events):
                if isinstance(item_event, yaml.SequenceEndEvent):
                    break
                item, n = self._value(events, item_event, f"{ptr}/{i}")
                items.append(item)
                size += n
            value = items
            self.depth -= 1
        elif isinstance(event, yaml.MappingStartEvent):
            self._check_tag(event.tag, "tag:yaml.org,2002:map", mark)
            self._open(event.anchor, mark)
            value, size = self._mapping(events, ptr)
            self.depth -= 1
        else:
            raise self.error(f"unexpected YAML event {type(event).__name__}", mark)
        anchor = getattr(event, "anchor", None)
        if anchor:
            self.open_anchors.discard(anchor)
            self.anchors[anchor] = (value, size)
        return value, size

    def _open(self, anchor: str | None, mark: Any) -> None:
        """Enter a mapping or list (the caller leaves it by decrementing `depth`)."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"nesting deeper than {MAX_DEPTH} levels", mark)
        if anchor:
            self.open_anchors.add(anchor)

    def _alias(self, event: Any) -> tuple[Any, int]:
        anchor = event.anchor or ""
        if anchor in self.open_anchors:
            raise self.error("recursive alias: a value refers to itself", event.start_mark)
        found = self.anchors.get(anchor)
        if found is None:
            raise self.error(f"alias *{anchor} names no anchor", event.start_mark)
        value, size = found
        # the value is shared, not copied; what it would expand to is what a reader of
        # the document (schema validation, rendering) has to walk
        self.alias_nodes += size
        if self.alias_nodes > MAX_ALIAS_NODES:
            raise self.error(
                f"aliases expand to more than {MAX_ALIAS_NODES:,} values (an alias bomb?)",
                event.start_mark,
            )
        return value, size

    def _mapping(self, events: Iterator[Any], ptr: str) -> tuple[dict[str, Any], int]:
        out: dict[str, Any] = {}
        size = 1
        positions = self.positions
        scalar_event = yaml.ScalarEvent
        for key_event in events:
            if type(key_event) is not scalar_event:
                if isinstance(key_event, yaml.MappingEndEvent):
                    break
                raise self.error("mapping keys must be plain text", key_event.start_mark)
            mark: Any = key_event.start_mark
            key = self._key(key_event)
            if key in out:
                raise self.error(f"duplicate key {key!r} in this mapping", mark)
            token = key if "/" not in key and "~" not in key else escape_pointer_token(key)
            cptr = f"{ptr}/{token}"
            # a member's location is its key: that is where a reader looks
            positions[cptr] = (mark.line + 1, mark.column + 1)
            value_event = next(events)
            if type(value_event) is scalar_event and not value_event.anchor:
                # the common case, inlined: a fleet is mostly "key: text"
                vmark: Any = value_event.start_mark
                positions.setdefault(cptr, (vmark.line + 1, vmark.column + 1))
                out[key] = self._scalar(value_event)
                size += 1
            else:
                out[key], n = self._value(events, value_event, cptr)
                size += n
        return out, size

    def _key(self, event: Any) -> str:
        value: str = event.value
        if event.style or (value and value[0] not in self.resolvers and event.tag is None):
            return value
        if value == "<<":
            raise self.error("YAML merge keys ('<<') are not supported; use defaults",
                             event.start_mark)
        key = self._scalar(event)
        if key is None or isinstance(key, bool | float):
            raise self.error(f"mapping key {value!r} is not text; quote it", event.start_mark)
        return str(key)

    def _check_tag(self, tag: str | None, expected: str, mark: Any) -> None:
        if tag not in (None, "!", expected):
            raise self.error(f"unsupported YAML tag {tag!r}", mark)

    def _scalar(self, event: Any) -> Any:
        value = event.value
        tag = event.tag
        if tag is None and event.style:
            return value
        if tag in (None, "!"):
            # libyaml reports plain scalars with an empty style, PyYAML's parser with None
            if event.style or tag == "!" or not event.implicit[0]:
                return value
            candidates = self.resolvers.get(value[:1] if value else "", ())
            tag = "tag:yaml.org,2002:str"
            for candidate, regexp in candidates:
                if regexp.match(value):
                    tag = candidate
                    break
            if not value:
                tag = "tag:yaml.org,2002:null"
        if tag == "tag:yaml.org,2002:str":
            return value
        if tag == "tag:yaml.org,2002:timestamp":
            # a date is configuration text here, not a datetime
            return value
        if tag not in _SCALAR_TAGS:
            raise self.error(f"unsupported YAML tag {tag!r}", event.start_mark)
        if tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float") and \
                len(value) > MAX_NUMBER_LENGTH:
            raise self.error(f"number of {len(value):,} characters: longer than any setting "
                             f"holds (limit {MAX_NUMBER_LENGTH:,}); quote it if it is text",
                             event.start_mark)
        node = yaml.ScalarNode(tag, value, event.start_mark, event.end_mark, event.style)
        try:
            result = self.constructor.construct_object(node, deep=True)
        except (ValueError, KeyError, yaml.YAMLError):
            # an explicit tag on text that is not of its type: !!int abc, !!bool maybe
            raise self.error(f"{value[:40]!r} is not a valid {tag.rsplit(':', 1)[-1]}",
                             event.start_mark) from None
        if isinstance(result, float) and not math.isfinite(result):
            # JSON has no NaN or infinity: the gateway could not read such a value
            raise self.error(f"{value!r} is not a number JSON can carry", event.start_mark)
        return result


def load_yaml_text(text: str, *, file: str) -> YamlSource:
    builder = _Builder(file)
    loader = _Loader(text)
    try:
        # get_event directly: yaml.parse()'s generator costs more than the parsing itself
        data = builder.build(iter(loader.get_event, None))
    except yaml.reader.ReaderError as exc:
        raise _reader_error(exc, text, file) from None
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
    except RecursionError:
        raise InputError("nesting too deep", file=file, rule="yaml-structure") from None
    finally:
        loader.dispose()
    return YamlSource(file, data, builder.positions, _suppressions(text))


def _reader_error(exc: yaml.reader.ReaderError, text: str, file: str) -> InputError:
    """A character YAML does not allow, at its line and column.

    libyaml counts its position in UTF-8 bytes, PyYAML in characters; the reader stops
    at the first character it refuses, so that character's first occurrence is the place.
    """
    char = chr(exc.character) if isinstance(exc.character, int) else ""
    index = text.find(char) if char else -1
    if index < 0:
        return InputError(f"YAML syntax: {exc.reason}", file=file, rule="yaml-syntax")
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    hint = nul_hint(text) if char == "\x00" else ""
    return InputError(f"YAML syntax: control character U+{ord(char):04X} is not allowed{hint}",
                      file=file, line=line, column=column, rule="yaml-syntax")


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
