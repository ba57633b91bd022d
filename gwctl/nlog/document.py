"""nlog.config as NLog reads it: an element tree with positions, and layout scanning.

The file is parsed with expat (fast, and it reports the line and column of every element
and of the first syntax error). NLog's own XML reader prohibits DTDs, so a DOCTYPE is
reported as a syntax error too. Element and attribute names are compared ignoring case,
as NLog's configuration loader does.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from xml.parsers import expat

NLOG_NS = "http://www.nlog-project.org/schemas/NLog.xsd"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

#: what ``NLog.LogLevel.FromString`` accepts (ignoring case), aliases included
LEVELS = frozenset({"trace", "debug", "info", "warn", "error", "fatal", "off",
                    "none", "information", "warning"})
LEVEL_NAMES = "Trace|Debug|Info|Warn|Error|Fatal|Off"

#: attributes that are names or references, not layouts
NOT_LAYOUT = frozenset({"name", "xsi:type", "type", "writeto", "minlevel", "maxlevel", "level",
                        "levels", "final", "enabled", "rulename", "filterdefaultaction"})


@dataclass(eq=False)
class XElem:
    """One element: local tag name, attributes as written, 1-based position of its ``<``."""

    tag: str
    attrs: dict[str, str]
    line: int
    column: int
    offset: int
    parent: XElem | None = None
    children: list[XElem] = field(default_factory=list)
    #: position among same-tag siblings, for the path
    index: int = 0

    def attr_name(self, name: str) -> str | None:
        n = name.lower()
        for key in self.attrs:
            if key.lower() == n:
                return key
        return None

    def attr(self, name: str) -> str | None:
        key = self.attr_name(name)
        return None if key is None else self.attrs[key]

    def iter(self, tag: str | None = None) -> list[XElem]:
        """This element and its descendants (document order), optionally of one tag."""
        out: list[XElem] = []
        stack = [self]
        t = tag.lower() if tag else None
        while stack:
            el = stack.pop()
            if t is None or el.tag.lower() == t:
                out.append(el)
            stack.extend(reversed(el.children))
        return out

    @property
    def path(self) -> str:
        parts = []
        el: XElem | None = self
        while el is not None:
            parts.append(el.tag if el.parent is None else f"{el.tag}/{el.index}")
            el = el.parent
        return "/" + "/".join(reversed(parts))


@dataclass(frozen=True)
class XmlError:
    message: str
    line: int
    column: int


@dataclass
class NlogDoc:
    file: str
    text: str
    root: XElem | None
    error: XmlError | None = None
    _line_starts: list[int] = field(default_factory=list, repr=False)

    @property
    def nlog(self) -> XElem | None:
        """The ``<nlog>`` element: the root, or nested in an app.config ``<configuration>``."""
        if self.root is None:
            return None
        if self.root.tag.lower() == "nlog":
            return self.root
        found = self.root.iter("nlog")
        return found[0] if found else None

    def position(self, offset: int) -> tuple[int, int]:
        if not self._line_starts:
            self._line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        i = bisect.bisect_right(self._line_starts, offset) - 1
        return i + 1, offset - self._line_starts[i] + 1

    def attr_position(self, el: XElem, attr: str | None,
                      needle: str | None = None) -> tuple[int, int]:
        """Line and column of `attr`'s value (of `needle` inside it when found)."""
        if attr is None or el.offset < 0:
            return el.line, el.column
        m = re.compile(r"[\s:]" + re.escape(attr) + r"\s*=\s*([\"'])").search(self.text, el.offset)
        if m is None:
            return el.line, el.column
        start = m.end()
        if needle:
            end = self.text.find(m.group(1), start)
            at = self.text.find(needle, start, end if end >= 0 else None)
            if at >= 0:
                return self.position(at)
        return self.position(start)


def parse_nlog(text: str, file: str) -> NlogDoc:
    """Parse; a syntax error becomes ``doc.error`` (never an exception)."""
    parser = expat.ParserCreate(namespace_separator=" ")
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    stack: list[XElem] = []
    root: list[XElem] = []
    counts: list[dict[str, int]] = [{}]
    doctype: list[tuple[int, int]] = []

    def offset_of(line: int, col_bytes: int) -> int:
        # expat counts columns in UTF-8 bytes; convert to characters of this line
        base = starts[line - 1] if line - 1 < len(starts) else len(text)
        prefix = text[base:base + col_bytes].encode("utf-8")[:col_bytes]
        return base + len(prefix.decode("utf-8", "ignore"))

    def local(name: str) -> str:
        uri, _, tag = name.rpartition(" ")
        return "xsi:" + tag if uri == XSI_NS else tag

    def start(name: str, attrs: dict[str, str]) -> None:
        line = parser.CurrentLineNumber
        off = offset_of(line, parser.CurrentColumnNumber)
        tag = local(name)
        siblings = counts[-1]
        index = siblings.get(tag.lower(), 0)
        siblings[tag.lower()] = index + 1
        el = XElem(tag, {local(k): v for k, v in attrs.items()}, line,
                   off - starts[line - 1] + 1, off, stack[-1] if stack else None, index=index)
        if stack:
            stack[-1].children.append(el)
        else:
            root.append(el)
        stack.append(el)
        counts.append({})

    def end(name: str) -> None:
        stack.pop()
        counts.pop()

    def start_doctype(*args: object) -> None:
        doctype.append((parser.CurrentLineNumber, parser.CurrentColumnNumber + 1))

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = start_doctype
    try:
        parser.Parse(text, True)
    except expat.ExpatError as exc:
        message = expat.ErrorString(exc.code) or "not well-formed"
        return NlogDoc(file, text, None, XmlError(f"not well-formed XML: {message}",
                                                  exc.lineno, exc.offset + 1), starts)
    except RecursionError:  # pragma: no cover - expat is iterative; handlers are not deep
        return NlogDoc(file, text, None, XmlError("nesting too deep", 1, 1), starts)
    if doctype:
        line, col = doctype[0]
        return NlogDoc(file, text, None, XmlError(
            "a DOCTYPE is not allowed: NLog's XML reader prohibits DTD processing", line, col),
            starts)
    return NlogDoc(file, text, root[0] if root else None, None, starts)


# -- layouts ---------------------------------------------------------------------------------

_MISSING_DOLLAR = re.compile(r"(?<![$\\{])\{([A-Za-z][A-Za-z0-9_.-]*):[^{}]*\}")


@dataclass(frozen=True)
class LayoutIssue:
    kind: str  # "unclosed" | "empty" | "missing-dollar"
    offset: int
    token: str


@lru_cache(maxsize=4096)
def scan_layout(value: str) -> tuple[LayoutIssue, ...]:
    """Unbalanced ``${``, empty ``${}`` and ``{name:...}`` missing its ``$``.

    Inside a renderer ``\\`` escapes the next character (``\\:``, ``\\}``); renderers nest.
    """
    issues: list[LayoutIssue] = []
    if "{" not in value:
        return ()
    stack: list[int] = []
    i, n = 0, len(value)
    while i < n:
        c = value[i]
        if stack and c == "\\":
            i += 2
            continue
        if c == "$" and value.startswith("${", i):
            if value.startswith("${}", i):
                issues.append(LayoutIssue("empty", i, "${}"))
            stack.append(i)
            i += 2
            continue
        if c == "}" and stack:
            stack.pop()
        i += 1
    for pos in stack:
        issues.append(LayoutIssue("unclosed", pos, value[pos:pos + 24]))
    for m in _MISSING_DOLLAR.finditer(value):
        issues.append(LayoutIssue("missing-dollar", m.start(), m.group()))
    return tuple(issues)


def variables(nlog: XElem) -> dict[str, XElem]:
    """``<variable name=... value=...>`` elements by folded name (the last one wins)."""
    out: dict[str, XElem] = {}
    for el in nlog.children:
        if el.tag.lower() == "variable" and el.attr("name"):
            out[(el.attr("name") or "").lower()] = el
    return out


def targets(nlog: XElem) -> list[XElem]:
    """Every ``<target>`` under ``<targets>``, wrapped ones included."""
    out: list[XElem] = []
    for section in nlog.children:
        if section.tag.lower() == "targets":
            out.extend(el for el in section.iter("target") if el is not section)
    return out


def target_type(el: XElem) -> str:
    return (el.attr("xsi:type") or el.attr("type") or "").strip()


def loggers(nlog: XElem) -> list[XElem]:
    out: list[XElem] = []
    for section in nlog.children:
        if section.tag.lower() == "rules":
            out.extend(el for el in section.iter("logger"))
    return out


def layout_issues(target: Any) -> Iterator[tuple[Any, str, LayoutIssue]]:
    """(element, attribute, issue) for every problem in every layout of the target's
    nlog.config; the layout rules each pick the kinds they report."""
    nlog = target.nlog.nlog if target.nlog is not None else None
    if nlog is None:
        return
    for el in nlog.iter():
        for attr, value in el.attrs.items():
            if attr.lower() in NOT_LAYOUT or "{" not in value:
                continue
            for issue in scan_layout(value):
                yield el, attr, issue


# -- loading ---------------------------------------------------------------------------------

#: the level attributes of a ``<logger>``, parsed with ``LogLevel.FromString``
LOGGER_LEVEL_ATTRS = ("level", "levels", "minlevel", "maxlevel", "finalMinLevel")


def bad_levels(value: str) -> list[str]:
    """The items of a level (or comma-separated list) NLog does not know; layouts pass."""
    return [v.strip() for v in value.split(",")
            if v.strip() and "${" not in v and v.strip().lower() not in LEVELS]


def empty_config_watches(text: str) -> bool:
    """Whether the empty configuration NLog installs for a file it could not load watches
    that file, so that fixing it takes effect without an app start.

    NLog/NLog src/NLog/Config/LoggingConfigurationFileLoader.cs: ``CreateEmptyDefaultConfig``
    builds ``<nlog autoReload=...>`` from ``ScanForBooleanParameter(fileContent,
    "autoReload", true)`` -- a search of the raw text, ignoring case, for
    ``autoReload="true`` or ``autoReload='true`` (anywhere, a comment included; blanks
    around ``=`` defeat it). Only a watched configuration is reloaded
    (src/NLog/Config/LoggingConfigurationWatchableFileLoader.cs, ``Activated``).
    """
    folded = text.lower()
    return 'autoreload="true' in folded or "autoreload='true" in folded


def load_failure(doc: NlogDoc) -> str | None:
    """Why NLog cannot load this file (None: it loads).

    NLog's loader then installs an *empty* configuration at start, or keeps the previous
    one on an autoReload (NLog/NLog src/NLog/Config/LoggingConfigurationFileLoader.cs,
    ``LoadXmlLoggingConfiguration`` -> ``CreateEmptyDefaultConfig``;
    src/NLog/Config/LoggingConfigurationWatchableFileLoader.cs, ``ReloadConfigOnTimer``);
    whether that empty configuration still watches the file is `empty_config_watches`.
    An unknown ``<logger>`` level fails the load (``LogLevel.FromString``,
    src/NLog/LogLevel.cs).
    """
    if doc.error is not None:
        return f"line {doc.error.line}: {doc.error.message}"
    nlog = doc.nlog
    if nlog is None:
        tag = doc.root.tag if doc.root is not None else "nothing"
        return f"the root element is <{tag}>, and there is no <nlog>"
    for logger in loggers(nlog):
        for attr in LOGGER_LEVEL_ATTRS:
            bad = bad_levels(logger.attr(attr) or "")
            if bad:
                return f"line {logger.line}: <logger {attr}=...>: unknown level '{bad[0]}'"
    return None
