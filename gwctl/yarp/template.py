"""ASP.NET Core route templates (YARP's ``Match.Path``, ``PathPattern``) as the gateway reads them.

The one parser of gwctl: the rules rank and compare routes with it, the simulator builds
its endpoint matcher from it (dotnet/aspnetcore src/Http/Routing/src/Patterns/
RoutePatternParser.cs, src/Http/Routing/src/Template/RoutePrecedence.cs).

Facts modelled here come from ASP.NET Core's sources:

* templates follow ``RoutePatternParser`` (``{name}``, ``{name:constraint(arg)}``,
  ``{name?}``, ``{name=default}``, ``{*x}``/``{**x}`` only as the last segment,
  ``{{``/``}}`` escapes, no ``?`` in literals, no ``//``); constraint names are resolved
  later, when the endpoint matcher is built (`gwctl.yarp.constraints`,
  `constraint_problems`);
* template precedence, per segment: literal < constrained parameter / complex segment <
  parameter < constrained catch-all < catch-all (``RoutePrecedence.ComputeInbound``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from gwctl.yarp import constraints


class TemplateError(ValueError):
    pass


@dataclass(frozen=True)
class Part:
    literal: str | None = None
    name: str = ""
    catch_all: bool = False
    optional: bool = False
    default: str | None = None
    constraints: tuple[str, ...] = ()

    @property
    def is_literal(self) -> bool:
        return self.literal is not None


Segment = tuple[Part, ...]

def _parse_parameter(inside: str, names: set[str]) -> Part:
    """``RouteParameterParser``: name, catch-all, optional, constraints, default."""
    text = inside
    catch_all = False
    start, end = 0, len(text) - 1
    if text.startswith("**"):
        catch_all, start = True, 2
    elif text.startswith("*"):
        catch_all, start = True, 1
    optional = False
    if text.endswith("?"):
        optional, end = True, end - 1
    if catch_all and optional:
        raise TemplateError("a catch-all parameter cannot be optional")
    body = text[start:end + 1]
    # the name ends at the first ':' or '=' that is not its first character
    cut = len(body)
    for i, ch in enumerate(body):
        if ch in ":=" and i > 0:
            cut = i
            break
    name, rest = body[:cut], body[cut:]
    constraints: list[str] = []
    default = None
    while rest.startswith(":"):
        rest = rest[1:]
        depth, i = 0, 0
        while i < len(rest):
            ch = rest[i]
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth = max(0, depth - 1)
            elif depth == 0 and ch in ":=":
                break
            i += 1
        if rest[:i]:
            constraints.append(rest[:i])
        rest = rest[i:]
    if rest.startswith("="):
        default = rest[1:]
    if optional and default is not None:
        raise TemplateError(f"parameter {name!r} cannot be optional and have a default value")
    if not name or any(c in name for c in "/{}?*"):
        raise TemplateError(f"invalid parameter name {name!r}")
    if name.lower() in names:
        raise TemplateError(f"parameter {name!r} appears more than once")
    names.add(name.lower())
    return Part(name=name, catch_all=catch_all, optional=optional, default=default,
                constraints=tuple(constraints))


def _parse_segment(p: str, i: int, names: set[str]) -> tuple[Segment, int]:
    parts: list[Part] = []
    n = len(p)
    while i < n and p[i] != "/":
        if p[i] == "{" and not p.startswith("{{", i):
            j = i + 1
            while True:
                if j >= n:
                    raise TemplateError("a '{' has no matching '}'")
                ch = p[j]
                if ch == "{":
                    if p.startswith("{{", j):
                        j += 2
                        continue
                    raise TemplateError("a '{' inside a parameter must be escaped as '{{'")
                if ch == "}":
                    if p.startswith("}}", j):
                        j += 2
                        continue
                    break
                j += 1
            inside = p[i + 1:j].replace("}}", "}").replace("{{", "{")
            if not inside:
                raise TemplateError("empty parameter '{}'")
            parts.append(_parse_parameter(inside, names))
            i = j + 1
        else:
            j = i
            buf = []
            while j < n and p[j] != "/":
                if p[j] == "{":
                    if p.startswith("{{", j):
                        buf.append("{")
                        j += 2
                        continue
                    break
                if p[j] == "}":
                    if p.startswith("}}", j):
                        buf.append("}")
                        j += 2
                        continue
                    raise TemplateError("a '}' has no matching '{' (write '}}' for a literal)")
                buf.append(p[j])
                j += 1
            literal = "".join(buf)
            if "?" in literal:
                raise TemplateError(f"literal {literal!r} contains '?' (a query string "
                                    "cannot be matched by Path; use QueryParameters)")
            parts.append(Part(literal=literal))
            i = j
    segment = tuple(parts)
    if len(segment) > 1:
        if any(pt.catch_all for pt in segment):
            raise TemplateError("a catch-all parameter must be a whole segment")
        for k, pt in enumerate(segment):
            if pt.optional and (k != len(segment) - 1 or segment[k - 1].literal != "."):
                raise TemplateError(f"optional parameter {pt.name!r} inside a segment must be "
                                    "last and preceded by '.'")
            if k and not pt.is_literal and not segment[k - 1].is_literal:
                raise TemplateError("two parameters cannot follow each other in a segment")
    return segment, i


#: one segment of the common shapes: a plain literal or a plain {name}, {*name}, {**name}
_SIMPLE_SEGMENT = re.compile(
    r"^(?:(?P<lit>[^{}?/]+)|\{(?P<star>\*{0,2})(?P<name>[A-Za-z_][A-Za-z0-9_]*)\})$")
_SIMPLE_PARTS: dict[str, Part] = {}


def _simple(p: str) -> tuple[Segment, ...] | None:
    """Fast path for templates made only of simple segments (most of them); None otherwise."""
    if "//" in p or "{{" in p or "}}" in p:
        return None
    segments: list[Segment] = []
    names: set[str] = set()
    parts = p.split("/")
    if parts and parts[-1] == "":
        parts.pop()  # a trailing separator adds no segment
    for k, text in enumerate(parts):
        m = _SIMPLE_SEGMENT.match(text)
        if m is None:
            return None
        if m.group("lit") is not None:
            part = _SIMPLE_PARTS.get(text)
            if part is None:
                part = _SIMPLE_PARTS.setdefault(text, Part(literal=text))
        else:
            name = m.group("name")
            catch_all = bool(m.group("star"))
            if name.lower() in names or (catch_all and k != len(parts) - 1):
                return None  # let the full parser word the error
            names.add(name.lower())
            part = Part(name=name, catch_all=catch_all)
        segments.append((part,))
    return tuple(segments)


@lru_cache(maxsize=1 << 16)
def parse_template(pattern: str) -> tuple[Segment, ...]:
    """Parse a route template; raise `TemplateError` with the reason ASP.NET Core gives."""
    if pattern.startswith("/") and not pattern.startswith("//"):
        fast = _simple(pattern[1:])
        if fast is not None:
            return fast
    return parse_template_full(pattern)


def parse_template_full(pattern: str) -> tuple[Segment, ...]:
    """`RoutePatternParser`, character by character (what the fast path must agree with)."""
    if pattern.startswith("~/"):
        p = pattern[2:]
    elif pattern.startswith("/"):
        p = pattern[1:]
    elif pattern.startswith("~"):
        raise TemplateError("a template cannot start with '~' unless followed by '/'")
    else:
        p = pattern
    names: set[str] = set()
    segments: list[Segment] = []
    i = 0
    while i < len(p):
        if p[i] == "/":
            raise TemplateError("'/' cannot appear twice in a row")
        segment, i = _parse_segment(p, i, names)
        segments.append(segment)
        i += 1  # the separator (or past the end)
    for k, seg in enumerate(segments):
        if any(pt.catch_all for pt in seg) and k != len(segments) - 1:
            raise TemplateError("a catch-all parameter ({*x} or {**x}) must be the last segment")
    return tuple(segments)


def constraint_problems(segments: tuple[Segment, ...]) -> list[str]:
    """Why the endpoint matcher cannot resolve the template's constraints (first request)."""
    out = []
    for seg in segments:
        for pt in seg:
            for text in pt.constraints:
                why = constraints.problem(*constraints.split(text))
                if why is not None:
                    out.append(f"{{{pt.name}:{text}}}: {why}")
    return out


def precedence(segments: tuple[Segment, ...]) -> tuple[int, ...]:
    """``RoutePrecedence.ComputeInbound`` digits: lower sorts first (more specific)."""
    digits = []
    for seg in segments:
        if len(seg) > 1:
            digits.append(2)
        elif seg[0].is_literal:
            digits.append(1)
        else:
            d = 5 if seg[0].catch_all else 3
            digits.append(d - 1 if seg[0].constraints else d)
    return tuple(digits)


def compare_precedence(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    """Compare as ASP.NET's decimals do (missing digits count as 0)."""
    n = max(len(a), len(b))
    pa, pb = a + (0,) * (n - len(a)), b + (0,) * (n - len(b))
    return (pa > pb) - (pa < pb)


def normalise(segments: tuple[Segment, ...]) -> tuple[Any, ...]:
    """What a template matches, without parameter names: equal means same requests."""
    out = []
    for seg in segments:
        out.append(tuple(
            ("L", pt.literal.lower()) if pt.literal is not None else
            ("P", pt.catch_all, pt.optional or pt.default is not None,
             tuple(c.lower() for c in pt.constraints))
            for pt in seg))
    return tuple(out)


def _optional(seg: Segment) -> bool:
    pt = seg[0]
    return len(seg) == 1 and not pt.is_literal and (pt.optional or pt.default is not None
                                                    or pt.catch_all)


def covers_path(c: tuple[Segment, ...], s: tuple[Segment, ...]) -> bool:
    """Does template `c` match every path template `s` matches? (sound, not complete)"""
    for i, cseg in enumerate(c):
        cpart = cseg[0] if len(cseg) == 1 else None
        if cpart is not None and cpart.catch_all:
            # a catch-all takes the rest, any length; with a constraint only the same one
            if not cpart.constraints:
                return True
            return (i == len(s) - 1 and len(s[i]) == 1 and s[i][0].catch_all
                    and s[i][0].constraints == cpart.constraints)
        if i >= len(s):
            # s ends here: c must accept nothing for all its remaining segments
            return all(_optional(seg) for seg in c[i:])
        sseg = s[i]
        if _optional(sseg) and not (cpart is not None and not cpart.is_literal
                                    and (cpart.optional or cpart.default is not None)):
            return False  # s also matches a shorter path that c does not
        if len(sseg) == 1 and sseg[0].catch_all:
            return False
        if cpart is None:
            if normalise((cseg,)) != normalise((sseg,)):
                return False
        elif cpart.is_literal:
            if not (len(sseg) == 1 and sseg[0].is_literal
                    and (sseg[0].literal or "").lower() == (cpart.literal or "").lower()):
                return False
        elif cpart.constraints and not (len(sseg) == 1 and not sseg[0].is_literal
                and tuple(x.lower() for x in sseg[0].constraints)
                == tuple(x.lower() for x in cpart.constraints)):
            return False
    # c is used up: longer paths that s matches are not matched by c
    return len(s) <= len(c)
