"""Lenient-as-the-gateway JSON parser with positions.

The gateway reads appsettings*.json with System.Text.Json using
``CommentHandling.Skip`` and ``AllowTrailingCommas = true`` (and the default maximum
depth of 64). This parser accepts exactly that dialect and nothing more: no single
quotes, no unquoted names, no NaN, no leading zeros. ``strict=True`` additionally rejects
comments and trailing commas, for checking gwctl's own output.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from typing import Any

from gwctl.errors import InputError
from gwctl.textio import nul_hint

MAX_DEPTH = 64
#: no setting holds a number this long; a longer one is a mistake (or an attack that
#: would cost quadratic time to convert)
MAX_NUMBER_LENGTH = 1000

_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<line_comment>//[^\n]*)
  | (?P<block_comment>/\*.*?\*/)
  | (?P<string>"(?:[^"\\\x00-\x1f]|\\.)*")
  | (?P<number>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)(?![0-9A-Za-z_.+-])
  | (?P<literal>true|false|null)(?![0-9A-Za-z_])
  | (?P<punct>[{}\[\]:,])
    """,
    re.VERBOSE | re.DOTALL,
)


class JsonSyntaxError(InputError):
    """The file is not JSON the gateway can read."""


@dataclass(slots=True)
class JNode:
    """A JSON value with the position of its first character (1-based)."""

    kind: str  # object | array | string | number | true | false | null
    line: int
    column: int
    #: object: list of JMember; array: list of JNode; scalars: Python value
    value: Any = None
    #: the literal text of numbers (the configuration keeps "1.50" as written)
    raw: str | None = None


@dataclass(slots=True)
class JMember:
    key: str
    line: int
    column: int
    value: JNode


@dataclass(slots=True)
class JsonDocument:
    root: JNode
    file: str
    #: positions of every comment and trailing comma, for "gwctl's output is strict" checks
    comments: list[tuple[int, int]] = field(default_factory=list)
    trailing_commas: list[tuple[int, int]] = field(default_factory=list)


class _Lines:
    def __init__(self, text: str) -> None:
        self.starts = [0] + [m.end() for m in re.finditer(r"\n", text)]

    def pos(self, offset: int) -> tuple[int, int]:
        idx = bisect.bisect_right(self.starts, offset) - 1
        return idx + 1, offset - self.starts[idx] + 1


class _Parser:
    def __init__(self, text: str, file: str, strict: bool) -> None:
        self.text = text
        self.file = file
        self.strict = strict
        self.lines = _Lines(text)
        self.comments: list[tuple[int, int]] = []
        self.trailing: list[tuple[int, int]] = []
        self.tokens = self._tokenize()
        self.i = 0

    def error(self, message: str, offset: int) -> JsonSyntaxError:
        line, col = self.lines.pos(offset)
        return JsonSyntaxError(message, file=self.file, line=line, column=col, rule="json-syntax")

    def _tokenize(self) -> list[tuple[str, str, int]]:
        text = self.text
        out: list[tuple[str, str, int]] = []
        pos = 0
        end = len(text)
        match = _TOKEN.match
        while pos < end:
            m = match(text, pos)
            if m is None:
                raise self.error(self._describe_bad_char(pos), pos)
            kind = m.lastgroup or ""
            if kind == "ws":
                pass
            elif kind in ("line_comment", "block_comment"):
                if self.strict:
                    raise self.error("comments are not allowed in strict JSON", pos)
                self.comments.append(self.lines.pos(pos))
            else:
                out.append((kind, m.group(), pos))
            pos = m.end()
        out.append(("eof", "", end))
        return out

    def _describe_bad_char(self, pos: int) -> str:
        text = self.text
        ch = text[pos]
        if text.startswith("/*", pos):
            return "comment is not closed with */"
        if ch == '"':
            nl = text.find("\n", pos)
            if nl != -1 and text.find('"', pos + 1, nl) == -1:
                return "string is not closed before the end of the line"
            bad = re.compile(r'"(?:[^"\\\x00-\x1f]|\\.)*').match(text, pos)
            if bad and bad.end() < len(text) and text[bad.end()] < " ":
                return "control character inside a string (escape it, e.g. \\n)"
            return "string is not closed"
        if ch == "'":
            return "strings must use double quotes"
        if ch.isdigit() or ch == "-":
            return "invalid number (leading zeros, a lone '-', '.5' and hex are not JSON)"
        word = re.match(r"[A-Za-z_][A-Za-z0-9_]*", text[pos:])
        if word:
            w = word.group()
            if w in ("True", "False", "None", "NULL", "Null", "TRUE", "FALSE"):
                return f"'{w}' is not a JSON literal (use lowercase true, false or null)"
            if w in ("NaN", "Infinity"):
                return f"'{w}' is not allowed in JSON"
            return f"unexpected '{w}' (names and strings must be in double quotes)"
        if ch == "\x00":
            return f"unexpected NUL character{nul_hint(text)}"
        return f"unexpected character {ch!r}"

    def parse(self) -> JsonDocument:
        kind, _, pos = self.tokens[0]
        if kind == "eof":
            raise self.error("the file is empty (the gateway needs at least {})", pos)
        root = self._value(0)
        kind, text, pos = self.tokens[self.i]
        if kind != "eof":
            raise self.error(
                f"unexpected {text!r} after the end of the top-level value "
                "(a missing comma or an extra closing bracket?)",
                pos,
            )
        return JsonDocument(root, self.file, self.comments, self.trailing)

    def _value(self, depth: int) -> JNode:
        kind, text, pos = self.tokens[self.i]
        line, col = self.lines.pos(pos)
        if kind == "punct":
            if text == "{":
                return self._object(depth + 1, line, col, pos)
            if text == "[":
                return self._array(depth + 1, line, col, pos)
            raise self.error(f"expected a value, found {text!r}", pos)
        self.i += 1
        if kind == "string":
            return JNode("string", line, col, self._string(text, pos))
        if kind == "number":
            if len(text) > MAX_NUMBER_LENGTH:
                raise self.error(f"number of {len(text):,} characters: longer than any "
                                 f"setting holds (limit {MAX_NUMBER_LENGTH:,})", pos)
            return JNode("number", line, col, float(text) if any(c in text for c in ".eE")
                         else int(text), raw=text)
        if kind == "literal":
            return JNode(text, line, col, {"true": True, "false": False, "null": None}[text])
        raise self.error("expected a value, found the end of the file", pos)

    def _string(self, text: str, pos: int) -> str:
        if "\\" not in text:
            # no escapes: the token regex already refused control characters
            return text[1:-1]
        try:
            value: str = json.loads(text)
        except json.JSONDecodeError as exc:
            raise self.error(f"invalid escape in string: {exc.msg}", pos + exc.pos) from None
        return value

    def _check_depth(self, depth: int, pos: int) -> None:
        if depth > MAX_DEPTH:
            raise self.error(f"nesting deeper than {MAX_DEPTH} levels (the gateway's limit)", pos)

    def _object(self, depth: int, line: int, col: int, pos: int) -> JNode:
        self._check_depth(depth, pos)
        self.i += 1
        members: list[JMember] = []
        tokens = self.tokens
        while True:
            kind, text, tpos = tokens[self.i]
            if kind == "punct" and text == "}":
                if members and self._prev_is_comma():
                    self._trailing_comma(tpos)
                self.i += 1
                return JNode("object", line, col, members)
            if members:
                if not (kind == "punct" and text == ","):
                    raise self.error(
                        f"expected ',' or '}}' after a property, found {self._show(kind, text)}"
                        , tpos)
                self.i += 1
                kind, text, tpos = tokens[self.i]
                if kind == "punct" and text == "}":
                    continue
            if kind != "string":
                raise self.error(
                    f"expected a property name in double quotes, found {self._show(kind, text)}",
                    tpos)
            key = self._string(text, tpos)
            kline, kcol = self.lines.pos(tpos)
            self.i += 1
            kind, text, cpos = tokens[self.i]
            if not (kind == "punct" and text == ":"):
                raise self.error(f"expected ':' after property name {key!r}", cpos)
            self.i += 1
            members.append(JMember(key, kline, kcol, self._value(depth)))

    def _array(self, depth: int, line: int, col: int, pos: int) -> JNode:
        self._check_depth(depth, pos)
        self.i += 1
        items: list[JNode] = []
        tokens = self.tokens
        while True:
            kind, text, tpos = tokens[self.i]
            if kind == "punct" and text == "]":
                if items and self._prev_is_comma():
                    self._trailing_comma(tpos)
                self.i += 1
                return JNode("array", line, col, items)
            if items:
                if not (kind == "punct" and text == ","):
                    raise self.error(
                        f"expected ',' or ']' after an array item, found {self._show(kind, text)}",
                        tpos)
                self.i += 1
                kind, text, tpos = tokens[self.i]
                if kind == "punct" and text == "]":
                    continue
            items.append(self._value(depth))

    def _prev_is_comma(self) -> bool:
        kind, text, _ = self.tokens[self.i - 1]
        return kind == "punct" and text == ","

    def _trailing_comma(self, pos: int) -> None:
        comma_pos = self.tokens[self.i - 1][2]
        if self.strict:
            raise self.error("trailing comma is not allowed in strict JSON", comma_pos)
        self.trailing.append(self.lines.pos(comma_pos))

    @staticmethod
    def _show(kind: str, text: str) -> str:
        return "the end of the file" if kind == "eof" else repr(text)


def parse(text: str, *, file: str, strict: bool = False) -> JsonDocument:
    """Parse `text`; raise `JsonSyntaxError` with file, line and column on bad input."""
    return _Parser(text, file, strict).parse()


def to_python(node: JNode) -> Any:
    """Plain Python value; for duplicate names the last one wins, as in most JSON readers."""
    if node.kind == "object":
        return {m.key: to_python(m.value) for m in node.value}
    if node.kind == "array":
        return [to_python(v) for v in node.value]
    return node.value
