"""YARP as the gateway runs it: route templates, match criteria, transforms, ordering.

Facts modelled here come from YARP's and ASP.NET Core's sources:

* route templates follow ``RoutePatternParser`` (``{name}``, ``{name:constraint(arg)}``,
  ``{name?}``, ``{name=default}``, ``{*x}``/``{**x}`` only as the last segment,
  ``{{``/``}}`` escapes, no ``?`` in literals, no ``//``); constraint names are resolved
  when endpoints are built, so an unknown one stops the gateway too;
* endpoints are ranked by ``Order`` (default 0), then by template precedence (per segment:
  literal < constrained parameter / complex segment < parameter < constrained catch-all <
  catch-all), then by how many method, host, header and query matchers they carry; two
  candidates that tie and both match throw ``AmbiguousMatchException`` (HTTP 500);
* transforms are dictionaries whose keys compare ignoring case; each must be claimed by
  one transform factory with exactly its companion keys, and ``ForwardedTransformActions``
  values (``Off|Set|Append|Remove``) are parsed case-sensitively.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from gwctl.rules import _cfg
from gwctl.rules._cfg import Key

ROUTES: Key = ("ReverseProxy", "Routes")
CLUSTERS: Key = ("ReverseProxy", "Clusters")

# -- route templates -----------------------------------------------------------------------------


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

#: ASP.NET Core's built-in route constraints -> allowed argument counts
CONSTRAINTS: dict[str, tuple[int, ...]] = {
    "int": (0,), "bool": (0,), "datetime": (0,), "decimal": (0,), "double": (0,),
    "float": (0,), "guid": (0,), "long": (0,), "alpha": (0,), "required": (0,),
    "file": (0,), "nonfile": (0,), "minlength": (1,), "maxlength": (1,), "length": (1, 2),
    "min": (1,), "max": (1,), "range": (2,), "regex": (1,),
}
_INT_ARG = re.compile(r"^\s*-?\d+\s*$")


def _check_constraint(text: str) -> None:
    m = re.fullmatch(r"([^(]*)(?:\((.*)\))?", text, re.DOTALL)
    name = (m.group(1) if m else text).strip()
    args = m.group(2) if m else None
    counts = CONSTRAINTS.get(name.lower())
    if counts is None:
        known = ", ".join(sorted(CONSTRAINTS))
        raise TemplateError(f"unknown route constraint {name!r} (known: {known})")
    if name.lower() == "regex":
        if args is None:
            raise TemplateError("the regex constraint needs a pattern: regex(...)")
        return
    given = 0 if args is None else len(args.split(","))
    if given not in counts:
        want = " or ".join(str(c) for c in counts)
        raise TemplateError(f"route constraint {name!r} takes {want} argument(s), got {given}")
    if args is not None and not all(_INT_ARG.match(a) for a in args.split(",")):
        raise TemplateError(f"route constraint {name!r} takes integer arguments: {text!r}")


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
    for c in constraints:
        _check_constraint(c)
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


# -- routes ------------------------------------------------------------------------------------


_ORDER = re.compile(r"^[+-]?[0-9]+$")


def parse_order(value: Any) -> int | None:
    """``int.Parse(value, AllowLeadingSign, Invariant)``; None when it would throw."""
    if value is None:
        return 0
    s = _cfg.text(value)
    if s is None or not _ORDER.match(s):
        return None
    n = int(s)
    return n if -(2**31) <= n < 2**31 else None


def string_list(node: Any) -> list[str]:
    return [_cfg.text(v) or "" for v in _cfg.children(node)] if _cfg.is_section(node) else []


@dataclass(frozen=True)
class Signature:
    """Everything that decides which requests a route takes, and its rank among equals."""

    order: int
    template: tuple[Any, ...]
    precedence: tuple[int, ...]
    methods: frozenset[str]
    hosts: frozenset[str]
    headers: frozenset[tuple[Any, ...]]
    query: frozenset[tuple[Any, ...]]

    @property
    def policies(self) -> tuple[int, int, int, int]:
        return (bool(self.methods), bool(self.hosts), len(self.headers), len(self.query))


def _matchers(items: list[Any], default_mode: str) -> frozenset[tuple[Any, ...]]:
    out = set()
    for m in items:
        name = (_cfg.text(_cfg.get(m, "Name")) or "").lower()
        mode = (_cfg.text(_cfg.get(m, "Mode")) or default_mode).lower()
        case = (_cfg.text(_cfg.get(m, "IsCaseSensitive")) or "false").lower() == "true"
        values = string_list(_cfg.get(m, "Values"))
        if not case:
            values = [v.lower() for v in values]
        out.add((name, mode, tuple(sorted(values)), case))
    return frozenset(out)


def _folded(node: Any) -> dict[str, Any]:
    return {k.lower(): v for k, v in node.items()} if isinstance(node, dict) else {}


class RouteFacts:
    """What the rules need to know about one route object, read once.

    Route objects are shared between the gateways of a site (and stock routes between
    all gateways of a release), so facts are cached by object identity for a run.
    """

    def __init__(self, data: Any) -> None:
        top = _folded(data)
        match = top.get("match")
        m = _folded(match)
        self.match = match
        self.has_match = isinstance(match, dict)
        self.cluster = (_cfg.text(top.get("clusterid")) or "").strip()
        self.order_raw = top.get("order")
        self.order = parse_order(self.order_raw)
        self.path = _cfg.text(m.get("path")) or None
        self.methods = string_list(m.get("methods"))
        self.hosts = string_list(m.get("hosts"))
        self.headers = _cfg.children(m.get("headers"))
        self.query = _cfg.children(m.get("queryparameters"))
        transforms = top.get("transforms")
        self.transforms = _cfg.children(transforms) if _cfg.is_section(transforms) else []
        self.segments: tuple[Segment, ...] | None = None
        self.template_error: str | None = None
        if self.path:
            try:
                self.segments = parse_template(self.path)
            except TemplateError as exc:
                self.template_error = str(exc)
        self.signature = self._signature()
        #: findings of rules that depend on this route alone, computed once per object
        self.memo: dict[str, Any] = {}

    @property
    def first_literal(self) -> str | None:
        """The folded first segment when it is a plain literal (cheap overlap test)."""
        segs = self.segments
        if segs and len(segs[0]) == 1 and segs[0][0].literal is not None:
            return segs[0][0].literal.lower()
        return None

    def _signature(self) -> Signature | None:
        """None when the route cannot be ranked (bad template or Order: other rules say why)."""
        if self.order is None or not self.has_match or self.template_error is not None:
            return None
        segs = self.segments
        return Signature(
            order=self.order,
            template=normalise(segs) if segs is not None else ("<any path>",),
            precedence=precedence(segs) if segs is not None else (),
            methods=frozenset(x.upper() for x in self.methods),
            hosts=frozenset(h.lower() for h in self.hosts),
            headers=_matchers(self.headers, "exactheader"),
            query=_matchers(self.query, "exact"),
        )


def facts_of(shared: dict[Any, Any], data: Any) -> RouteFacts:
    cache: dict[int, tuple[Any, RouteFacts]] = shared.setdefault("route-facts", {})
    hit = cache.get(id(data))
    if hit is not None and hit[0] is data:
        return hit[1]
    f = RouteFacts(data)
    cache[id(data)] = (data, f)  # keeps `data` alive, so its id cannot be reused
    return f


class Route(NamedTuple):
    """A route of the effective configuration (a tuple: a fleet makes tens of thousands)."""

    id: str
    key: Key
    data: Any
    stock: bool
    facts: RouteFacts


def routes(target: Any) -> list[Route]:
    """Routes of the effective configuration, in declaration order (memoised per target)."""
    cached: list[Route] | None = target.memo.get("routes")
    if cached is None:
        section = _cfg.walk(target.view, ROUTES)
        stock = target.stock_route_ids
        cached = [Route(rid, (*ROUTES, rid), data, rid.lower() in stock,
                        facts_of(target.shared, data))
                  for rid, data in _cfg.items(section) if isinstance(data, dict)]
        target.memo["routes"] = cached
    return cached


def _section_ids(target: Any, memo_key: str, tree: Any, path: Key) -> frozenset[str]:
    """The folded member names of one section, memoised per target."""
    ids: frozenset[str] | None = target.memo.get(memo_key)
    if ids is None:
        ids = frozenset(k.lower() for k, _ in _cfg.items(_cfg.walk(tree, path)))
        target.memo[memo_key] = ids
    return ids


def override_route_ids(target: Any) -> frozenset[str]:
    return _section_ids(target, "override-route-ids", target.override, ROUTES)


def cluster_ids(target: Any) -> frozenset[str]:
    return _section_ids(target, "cluster-ids", target.view, CLUSTERS)


def _covers_set(c: frozenset[Any], s: frozenset[Any]) -> bool:
    """A criterion of c accepts everything s's does: none at all, or a superset of s's."""
    return not c or (bool(s) and s <= c)


def outranks(c: RouteFacts, s: RouteFacts) -> str | None:
    """``"shadow"`` when c takes every request of s, ``"tie"`` when both fail as ambiguous."""
    cs, ss = c.signature, s.signature
    c_seg, s_seg = c.segments, s.segments
    if cs is None or ss is None or c_seg is None or s_seg is None:
        return None
    # cheap rejection first: different leading literals never overlap
    cl, sl = c.first_literal, s.first_literal
    if cl is not None and sl is not None and cl != sl:
        return None
    if not covers_path(c_seg, s_seg):
        return None
    if not (_covers_set(cs.methods, ss.methods) and _covers_set(cs.hosts, ss.hosts)
            and cs.headers <= ss.headers and cs.query <= ss.query):
        return None
    if cs.order != ss.order:
        return "shadow" if cs.order < ss.order else None
    cmp = compare_precedence(cs.precedence, ss.precedence)
    if cmp:
        return "shadow" if cmp < 0 else None
    return "tie" if cs.policies == ss.policies else None


# -- transforms --------------------------------------------------------------------------------

FORWARDED_ACTIONS = ("Off", "Set", "Append", "Remove")
NODE_FORMATS = frozenset(f.lower() for f in (
    "None", "Random", "RandomAndPort", "RandomAndRandomPort", "Unknown", "UnknownAndPort",
    "UnknownAndRandomPort", "Ip", "IpAndPort", "IpAndRandomPort"))
RESPONSE_CONDITIONS = frozenset({"always", "success", "failure"})


@dataclass(frozen=True)
class TransformSpec:
    key: str
    #: companion keys that may appear (besides the key)
    optional: tuple[str, ...] = ()
    #: exactly one of these must appear
    one_of: tuple[str, ...] = ()
    #: the key's value is a boolean (bool.TryParse)
    boolean: bool = False


_SPECS = [
    TransformSpec("X-Forwarded", optional=("HeaderPrefix", "For", "Prefix", "Host", "Proto")),
    TransformSpec("Forwarded", optional=("Action", "ForFormat", "ByFormat")),
    TransformSpec("ClientCert"),
    TransformSpec("HttpMethodChange", one_of=("Set",)),
    TransformSpec("PathSet"), TransformSpec("PathPrefix"), TransformSpec("PathRemovePrefix"),
    TransformSpec("PathPattern"),
    TransformSpec("QueryValueParameter", one_of=("Append", "Set")),
    TransformSpec("QueryRouteParameter", one_of=("Append", "Set")),
    TransformSpec("QueryRemoveParameter"),
    TransformSpec("RequestHeadersCopy", boolean=True),
    TransformSpec("RequestHeaderOriginalHost", boolean=True),
    TransformSpec("RequestHeader", one_of=("Set", "Append")),
    TransformSpec("RequestHeaderRouteValue", one_of=("Set", "Append")),
    TransformSpec("RequestHeaderRemove"), TransformSpec("RequestHeadersAllowed"),
    TransformSpec("ResponseHeadersCopy", boolean=True),
    TransformSpec("ResponseTrailersCopy", boolean=True),
    TransformSpec("ResponseHeader", optional=("When",), one_of=("Set", "Append")),
    TransformSpec("ResponseTrailer", optional=("When",), one_of=("Set", "Append")),
    TransformSpec("ResponseHeaderRemove", optional=("When",)),
    TransformSpec("ResponseTrailerRemove", optional=("When",)),
    TransformSpec("ResponseHeadersAllowed"), TransformSpec("ResponseTrailersAllowed"),
]
#: factories claim a transform by its first known key, in YARP's factory order
TRANSFORMS: dict[str, TransformSpec] = {s.key.lower(): s for s in _SPECS}
_ORDER_OF = {s.key.lower(): i for i, s in enumerate(_SPECS)}
_ALLOWED = {s.key.lower(): frozenset({s.key.lower(), *(k.lower() for k in s.optional),
                                      *(k.lower() for k in s.one_of)}) for s in _SPECS}
_FORWARDED_TOKENS = frozenset({"for", "by", "host", "proto"})


def check_transform(t: Any) -> list[tuple[str, str | None]]:
    """Why YARP rejects transform `t`: (message, offending key) pairs; empty when valid."""
    if not isinstance(t, dict):
        return [("a transform must be an object of string keys", None)]
    keys = {k.lower(): k for k in t}
    claimed = [k for k in keys if k in _ORDER_OF]
    spec = TRANSFORMS[min(claimed, key=_ORDER_OF.__getitem__)] if claimed else None
    if spec is None:
        shown = ", ".join(t) or "no keys"
        close = _close_key(next(iter(t), ""))
        hint = f" (did you mean {close}?)" if close else ""
        return [(f"unknown transform ({shown}){hint}", next(iter(t), None))]
    errors: list[tuple[str, str | None]] = []
    allowed = _ALLOWED[spec.key.lower()]
    extra = [keys[k] for k in keys if k not in allowed]
    if extra:
        errors.append((f"{spec.key} transform does not take {', '.join(extra)} (allowed with "
                       f"it: {', '.join(spec.optional + spec.one_of) or 'nothing'})", extra[0]))
    if spec.one_of:
        present = [k for k in spec.one_of if k.lower() in keys]
        if len(present) != 1:
            need = "only one of" if present else "one of"
            errors.append((f"{spec.key} transform needs {need} {' or '.join(spec.one_of)}",
                           spec.key))
    value = _cfg.text(t[keys[spec.key.lower()]]) or ""
    if spec.boolean and value.strip().lower() not in ("true", "false"):
        errors.append((f"{spec.key} must be true or false, not {value!r}", spec.key))
    if spec.key == "X-Forwarded":
        for k in ("X-Forwarded", "For", "Prefix", "Host", "Proto"):
            if k.lower() in keys:
                v = _cfg.text(t[keys[k.lower()]]) or ""
                if v not in FORWARDED_ACTIONS:
                    hint = (f" (YARP reads it case-sensitively: write {v.capitalize()!r})"
                            if v.capitalize() in FORWARDED_ACTIONS else "")
                    errors.append((f"{k} must be exactly Off, Set, Append or Remove, not "
                                   f"{v!r}{hint}", keys[k.lower()]))
    elif spec.key == "Forwarded":
        tokens = [x for x in re.split(r"[, ]+", value) if x]
        bad = [x for x in tokens if x.lower() not in _FORWARDED_TOKENS]
        if bad:
            errors.append((f"Forwarded takes for, by, host, proto; not {', '.join(bad)}",
                           spec.key))
        action = keys.get("action")
        if action is not None and (_cfg.text(t[action]) or "") not in FORWARDED_ACTIONS:
            errors.append(("Action must be exactly Off, Set, Append or Remove", action))
        for k in ("forformat", "byformat"):
            if k in keys and (_cfg.text(t[keys[k]]) or "").lower() not in NODE_FORMATS:
                errors.append((f"{keys[k]} {_cfg.text(t[keys[k]])!r} is not a node format",
                               keys[k]))
    when = keys.get("when")
    if when is not None and (_cfg.text(t[when]) or "").lower() not in RESPONSE_CONDITIONS:
        errors.append((f"When must be Always, Success or Failure, not {_cfg.text(t[when])!r}",
                       when))
    return errors


def _close_key(key: str) -> str | None:
    import difflib

    found = difflib.get_close_matches(key.lower(), list(TRANSFORMS), n=1, cutoff=0.75)
    return TRANSFORMS[found[0]].key if found else None


def merge_conflicts(target: Any) -> dict[tuple[str, int], tuple[Any, Any, Any]]:
    """Transforms of stock routes that the override's array merges into by index.

    (folded route id, index) -> (base item, override item, merged item) for every index
    where the merged transform has keys the override's item does not: the gateway sees
    the base's keys too. Memoised per target.
    """
    found: dict[tuple[str, int], tuple[Any, Any, Any]] | None = target.memo.get("tconflicts")
    if found is not None:
        return found
    found = {}
    touched = override_route_ids(target) & target.stock_route_ids
    if touched:
        base_routes = _cfg.walk(target.base, ROUTES)
        over_routes = _cfg.walk(target.override, ROUTES)
        for rid, base_route in _cfg.items(base_routes):
            if rid.lower() not in touched:
                continue
            b = _cfg.children(_cfg.get(base_route, "Transforms"))
            o = _cfg.children(_cfg.get(_cfg.get(over_routes, rid), "Transforms"))
            for i in range(min(len(b), len(o))):
                if not (isinstance(b[i], dict) and isinstance(o[i], dict)):
                    continue
                merged = _cfg.merge(b[i], o[i])
                if {k.lower() for k in merged} != {k.lower() for k in o[i]}:
                    found[(rid.lower(), i)] = (b[i], o[i], merged)
    target.memo["tconflicts"] = found
    return found


def match_key(target: Any, route: Route) -> Key:
    """Where to report a finding about what a route matches: its Path, else the route."""
    path = (*route.key, "Match", "Path")
    return path if target.in_override(path) else route.key



def transform_errors(facts: RouteFacts) -> list[tuple[int, list[tuple[str, str | None]]]]:
    """(index, errors) of the route's invalid transforms, computed once per route object."""
    found: list[tuple[int, list[tuple[str, str | None]]]] | None = facts.memo.get("transforms")
    if found is None:
        found = [(i, errors) for i, t in enumerate(facts.transforms)
                 if (errors := check_transform(t))]
        facts.memo["transforms"] = found
    return found
