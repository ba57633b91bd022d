"""ASP.NET Core route templates and YARP route matching, as the emulated gateway runs them.

Templates (``/rest/v1/{resource:regex(^alarm.*)}/{**remainder}``) are parsed by gwctl's
one template parser, `gwctl.yarp.template` -- the one the rules use -- and turned into a
matcher here: literal and parameter parts, optional (``?``) and default (``=x``)
parameters, catch-alls, inline constraints (``int``, ``guid``, ``regex(...)``,
``min(1)``, ...; one that cannot be resolved is recorded, not raised:
`gwctl.yarp.constraints`). Literals compare ignoring case.

Selection follows endpoint routing: the candidates whose path matches are filtered by the
route's Methods, Hosts, Headers and QueryParameters; the survivors are ordered by
``Order``, then by template precedence (RoutePrecedence.ComputeInbound: per segment
literal 1, constrained parameter or complex segment 2, parameter 3, constrained catch-all
4, catch-all 5 -- the more literal template wins), then by the matcher policies (routes
with Hosts, Methods, more header or query matches first). Two survivors that tie on all of
these are an AmbiguousMatchException (500), a path that matched only routes of other
methods is 405, nothing is 404.

Transforms are validated by `gwctl.yarp.transforms` (YARP's transform factories: one
known key plus its companions, ``X-Forwarded`` actions case-sensitive, ``When`` not,
path values given their leading ``/``) and applied to the forwarded request: path,
query and request-header transforms, and response headers.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from gwctl.yarp import constraints, template, transforms

# -- errors --------------------------------------------------------------------------------


class ConfigError(Exception):
    """A configuration the gateway refuses at startup (the app then answers 503)."""


# -- constraints ---------------------------------------------------------------------------

Check = Callable[[str], bool]

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_NUMBER_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _is_int(value: str, bounds: tuple[int, int]) -> bool:
    if not re.fullmatch(r"[+-]?\d+", value.strip()):
        return False
    return bounds[0] <= int(value) <= bounds[1]


def _is_guid(value: str) -> bool:
    v = value.strip()
    if (v.startswith("{") and v.endswith("}")) or (v.startswith("(") and v.endswith(")")):
        v = v[1:-1]
    if not re.fullmatch(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}",
                        v):
        return False
    try:
        uuid.UUID(v)
    except ValueError:
        return False
    return True


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _ints(args: str, count: int, name: str) -> list[int]:
    parts = [a.strip() for a in args.split(",")] if args else []
    if len(parts) != count or not all(re.fullmatch(r"-?\d+", p) for p in parts):
        raise ConfigError(f"the constraint '{name}' needs {count} integer argument(s), "
                          f"got '{args}'")
    return [int(p) for p in parts]


def make_constraint(name: str, args: str | None) -> Check:
    """The check of inline constraint ``name(args)``; ConfigError for an unknown one."""
    key = name.lower()
    a = args or ""
    if key == "int":
        return lambda v: _is_int(v, _INT32)
    if key == "long":
        return lambda v: _is_int(v, _INT64)
    if key == "bool":
        return lambda v: v.strip().lower() in ("true", "false")
    if key == "guid":
        return _is_guid
    if key == "alpha":
        return lambda v: bool(re.fullmatch(r"[A-Za-z]+", v))
    if key in ("decimal", "double", "float"):
        return lambda v: bool(_NUMBER_RE.match(v.strip()))
    if key == "datetime":
        return _is_datetime
    if key == "required":
        return lambda v: v != ""
    if key == "nonfile":
        return lambda v: "." not in v.rsplit("/", 1)[-1]
    if key == "file":
        return lambda v: "." in v.rsplit("/", 1)[-1]
    if key == "min":
        (low,) = _ints(a, 1, name)
        return lambda v: _is_int(v, _INT64) and int(v) >= low
    if key == "max":
        (high,) = _ints(a, 1, name)
        return lambda v: _is_int(v, _INT64) and int(v) <= high
    if key == "range":
        low, high = _ints(a, 2, name)
        return lambda v: _is_int(v, _INT64) and low <= int(v) <= high
    if key == "length":
        bounds = _ints(a, 1, name) if "," not in a else _ints(a, 2, name)
        if len(bounds) == 1:
            return lambda v: len(v) == bounds[0]
        return lambda v: bounds[0] <= len(v) <= bounds[1]
    if key == "minlength":
        (low,) = _ints(a, 1, name)
        return lambda v: len(v) >= low
    if key == "maxlength":
        (high,) = _ints(a, 1, name)
        return lambda v: len(v) <= high
    if key == "regex":
        if args is None:
            raise ConfigError("the constraint 'regex' needs a pattern argument")
        try:
            pattern = re.compile(args, re.IGNORECASE)
        except re.error as exc:
            raise ConfigError(f"invalid regular expression '{args}': {exc}") from None
        return lambda v: pattern.search(v) is not None
    raise ConfigError(f"The constraint reference '{name}' could not be resolved to a type.")


# -- templates -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    name: str
    catch_all: int = 0  # 0, 1 (``*``) or 2 (``**``)
    optional: bool = False
    default: str | None = None
    checks: tuple[Check, ...] = ()
    #: constraints the endpoint matcher cannot build (`gwctl.yarp.constraints`)
    unresolved: tuple[str, ...] = ()

    def accepts(self, value: str) -> bool:
        return all(check(value) for check in self.checks)


Part = str | Param


@dataclass(frozen=True)
class Segment:
    parts: tuple[Part, ...]
    regex: re.Pattern[str] | None = None
    #: the regex without a trailing optional parameter (and the literal before it)
    short: re.Pattern[str] | None = None

    @property
    def simple_literal(self) -> str | None:
        if len(self.parts) == 1 and isinstance(self.parts[0], str):
            return self.parts[0]
        return None

    @property
    def simple_param(self) -> Param | None:
        if len(self.parts) == 1 and isinstance(self.parts[0], Param):
            return self.parts[0]
        return None


class TemplateError(ConfigError):
    pass


def _param(part: template.Part) -> Param:
    """A parameter with its constraint checks (unresolvable ones recorded, not raised)."""
    checks: list[Check] = []
    unresolved: list[str] = []
    for text in part.constraints:
        name, args = constraints.split(text)
        why = constraints.problem(name, args)
        if why is not None:
            unresolved.append(f"{{{part.name}:{text}}}: {why}")
        else:
            checks.append(make_constraint(name, args))
    return Param(part.name, 1 if part.catch_all else 0, part.optional, part.default,
                 tuple(checks), tuple(unresolved))


def _segment(parsed: template.Segment) -> Segment:
    parts: list[Part] = [p.literal if p.literal is not None else _param(p) for p in parsed]
    regex = short = None
    if len(parts) > 1:
        pattern: list[str] = []
        for n, part in enumerate(parts):
            if isinstance(part, Param):
                if part.optional:
                    # ASP.NET tries the segment with the optional part first, then without
                    short = re.compile("^" + "".join(pattern[:-1]) + "$",
                                       re.IGNORECASE | re.DOTALL)
                pattern.append(f"(?P<p{n}>.+)")
            else:
                pattern.append(re.escape(part))
        regex = re.compile("^" + "".join(pattern) + "$", re.IGNORECASE | re.DOTALL)
    return Segment(tuple(parts), regex, short)


@dataclass(frozen=True)
class RouteTemplate:
    text: str
    segments: tuple[Segment, ...]
    precedence: tuple[int, ...]
    params: tuple[Param, ...]

    @classmethod
    def parse(cls, text: str) -> RouteTemplate:
        """Parse with gwctl's one template parser (`gwctl.yarp.template`)."""
        try:
            parsed = template.parse_template(text)
        except template.TemplateError as exc:
            raise TemplateError(f"invalid route template '{text}': {exc}") from None
        segments = tuple(_segment(seg) for seg in parsed)
        params = tuple(p for seg in segments for p in seg.parts if isinstance(p, Param))
        return cls(text, segments, template.precedence(parsed), params)

    @cached_property
    def _plan(self) -> tuple[tuple[int, str, Param | None, Segment], ...]:
        """Per segment: (kind, folded literal, parameter, segment); kinds 0 literal,
        1 parameter, 2 catch-all, 3 complex."""
        plan: list[tuple[int, str, Param | None, Segment]] = []
        for seg in self.segments:
            lit = seg.simple_literal
            param = seg.simple_param
            if lit is not None:
                plan.append((0, lit.lower(), None, seg))
            elif param is not None:
                plan.append((2 if param.catch_all else 1, "", param, seg))
            else:
                plan.append((3, "", None, seg))
        return tuple(plan)

    @property
    def constraint_errors(self) -> tuple[str, ...]:
        """Constraints that fail the endpoint matcher's build (every request 500)."""
        return tuple(u for p in self.params for u in p.unresolved)

    @cached_property
    def first_literal(self) -> str | None:
        """The folded first segment when it is a plain literal (for the endpoint index)."""
        plan = self._plan
        return plan[0][1] if plan and plan[0][0] == 0 else None

    def match(self, path_segments: Sequence[str]) -> dict[str, str] | None:
        """Route values when the (decoded) path matches, else None."""
        values: dict[str, str] = {}
        n_path = len(path_segments)
        plan = self._plan
        if n_path > len(plan) and not (plan and plan[-1][0] == 2):
            return None
        for i, (kind, lit, param, seg) in enumerate(plan):
            if kind == 0:
                if i >= n_path or path_segments[i].lower() != lit:
                    return None
                continue
            if kind == 2:
                assert param is not None
                rest = "/".join(path_segments[i:])
                if rest or param.default is not None:
                    value = rest or (param.default or "")
                    if param.checks and not param.accepts(value):
                        return None
                    values[param.name] = value
                return values
            if kind == 1:
                assert param is not None
                if i >= n_path or path_segments[i] == "":
                    if param.optional:
                        continue
                    if param.default is not None:
                        values[param.name] = param.default
                        continue
                    return None
                if param.checks and not param.accepts(path_segments[i]):
                    return None
                values[param.name] = path_segments[i]
                continue
            if i >= n_path or seg.regex is None:
                return None
            m = seg.regex.match(path_segments[i])
            if m is None and seg.short is not None:
                m = seg.short.match(path_segments[i])
            if m is None:
                return None
            for n, part in enumerate(seg.parts):
                if isinstance(part, Param):
                    v = m.groupdict().get(f"p{n}")
                    if v is None:
                        continue
                    if not part.accepts(v):
                        return None
                    values[part.name] = v
        return values

    @cached_property
    def _bind_plan(self) -> tuple[tuple[str | None, str | None, str, Segment], ...]:
        """Per segment: (literal, folded name of a lone parameter, its default, segment)."""
        out = []
        for seg in self.segments:
            param = seg.simple_param
            out.append((seg.simple_literal, param.name.lower() if param else None,
                        (param.default or "") if param else "", seg))
        return tuple(out)

    def bind(self, values: Mapping[str, str]) -> str:
        """The path this template produces from route values (YARP's PathPattern)."""
        folded = {k.lower(): v for k, v in values.items()}
        out: list[str] = []
        omissible: list[bool] = []
        for literal, name, default, seg in self._bind_plan:
            if literal is not None:
                out.append(literal)
                omissible.append(False)
            elif name is not None:
                out.append(folded.get(name, default))
                omissible.append(True)
            else:
                out.append("".join(part if isinstance(part, str)
                                   else folded.get(part.name.lower(), part.default or "")
                                   for part in seg.parts))
                omissible.append(False)
        while out and omissible[-1] and out[-1] == "":
            out.pop()  # an omitted optional or empty catch-all at the end
            omissible.pop()
        return "/" + "/".join(out)


def split_path(path: str) -> list[str]:
    """Path segments as the matcher sees them (a trailing slash is ignored)."""
    body = path[1:] if path.startswith("/") else path
    if not body:
        return []
    parts = body.split("/")
    if parts[-1] == "":
        parts.pop()
    return parts


# -- match conditions ----------------------------------------------------------------------

QUERY_MODES = ("exact", "contains", "notcontains", "prefix", "exists")
HEADER_MODES = ("exactheader", "headerprefix", "contains", "notcontains", "exists",
                "notexists")


@dataclass(frozen=True)
class ValueMatch:
    """A YARP header or query-parameter match."""

    name: str
    mode: str  # folded
    values: tuple[str, ...]
    case_sensitive: bool

    def _cmp(self, a: str) -> str:
        return a if self.case_sensitive else a.lower()

    def test(self, present: list[str] | None) -> bool:
        mode = self.mode
        if mode == "notexists":
            return present is None
        if present is None:
            return False
        if mode == "exists":
            return True
        wanted = [self._cmp(v) for v in self.values]
        got = [self._cmp(v) for v in present]
        if mode in ("exact", "exactheader"):
            return any(g == w for g in got for w in wanted)
        if mode in ("prefix", "headerprefix"):
            return any(g.startswith(w) for g in got for w in wanted)
        if mode == "contains":
            return any(w in g for g in got for w in wanted)
        if mode == "notcontains":
            return all(w not in g for g in got for w in wanted)
        return False


def _host_matches(pattern: str, host: str) -> bool:
    p_host, _, p_port = pattern.lower().partition(":")
    h_host, _, h_port = host.lower().partition(":")
    if p_port and p_port != "*" and p_port != h_port:
        return False
    if p_host in ("", "*"):
        return True
    if p_host.startswith("*."):
        return h_host.endswith(p_host[1:])
    return p_host == h_host


# -- transforms ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Transform:
    kind: str  # the spec name
    value: str
    extra: Mapping[str, str] = field(default_factory=dict)  # companions, by spec spelling
    template: RouteTemplate | None = None


def compile_transform(raw: Mapping[str, Any], where: str) -> Transform:
    """One element of a route's Transforms, validated as YARP does at start-up.

    The checks are `gwctl.yarp.transforms.check`, the ones ``route-transform`` reports.
    """
    items = {str(k): ("" if v is None else v) for k, v in raw.items()}
    if any(not isinstance(v, str) for v in items.values()):
        raise ConfigError(f"{where}: a transform's values must be strings")
    errors = transforms.check(items)
    spec = transforms.claim(items)
    if errors or spec is None:
        raise ConfigError(f"{where}: {errors[0][0] if errors else 'unknown transform'}")
    folded = {k.lower(): k for k in items}
    value = str(items[folded[spec.key.lower()]])
    companions = {c.lower(): c for c in (*spec.one_of, *spec.optional)}
    extra = {companions[k]: str(items[key]) for k, key in folded.items() if k in companions}
    if "When" in extra:
        extra["When"] = {w.lower(): w for w in transforms.WHEN}[extra["When"].lower()]
    compiled = None
    if spec.value in ("template", "path"):
        value = transforms.path_string(value)
    if spec.value == "template":
        compiled = RouteTemplate.parse(value)
    return Transform(spec.key, value, extra, compiled)


@dataclass
class ForwardRequest:
    """The request YARP sends to the destination (after transforms)."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]  # lower-case names
    body: bytes = b""


def apply_request_transforms(transforms: Sequence[Transform], req: ForwardRequest,
                             route_values: Mapping[str, str], *, client_ip: str, host: str,
                             scheme: str, path_base: str) -> None:
    folded_values = {k.lower(): v for k, v in route_values.items()}
    forwarded_default = True
    for t in transforms:
        kind, value, extra = t.kind, t.value, t.extra
        if kind == "PathPattern" and t.template is not None:
            req.path = t.template.bind(route_values)
        elif kind == "PathPrefix":
            req.path = value.rstrip("/") + req.path
        elif kind == "PathRemovePrefix":
            if value and req.path.lower().startswith(value.lower()):
                rest = req.path[len(value):]
                if rest == "" or rest.startswith("/"):
                    req.path = rest or "/"
        elif kind == "PathSet":
            req.path = value or "/"
        elif kind in ("QueryValueParameter", "QueryRouteParameter"):
            # {"QueryValueParameter": NAME, "Set": VALUE}; {"QueryRouteParameter": NAME,
            # "Set": ROUTE VALUE KEY}
            name = value
            given = extra.get("Set", extra.get("Append", ""))
            new: str | None = given
            if kind == "QueryRouteParameter":
                new = folded_values.get(given.lower())
                if new is None:
                    continue
            if "Set" in extra:
                req.query = [(k, v) for k, v in req.query if k.lower() != name.lower()]
            req.query.append((name, new or ""))
        elif kind == "QueryRemoveParameter":
            req.query = [(k, v) for k, v in req.query if k.lower() != value.lower()]
        elif kind == "HttpMethodChange":
            if req.method.upper() == value.upper():
                req.method = extra["Set"].upper()
        elif kind in ("RequestHeader", "RequestHeaderRouteValue"):
            name = value.lower()
            new_value = (extra.get("Set") or extra.get("Append") or "")
            if kind == "RequestHeaderRouteValue":
                new_value = folded_values.get(new_value.lower(), "")
            if "Append" in extra and name in req.headers:
                req.headers[name] = req.headers[name] + "," + new_value
            else:
                req.headers[name] = new_value
        elif kind == "RequestHeaderRemove":
            req.headers.pop(value.lower(), None)
        elif kind == "RequestHeaderOriginalHost":
            pass  # the emulated destinations do not look at Host
        elif kind == "X-Forwarded":
            forwarded_default = False
            prefix = extra.get("HeaderPrefix", "X-Forwarded-").lower()
            parts = {"For": client_ip, "Proto": scheme, "Host": host, "Prefix": path_base}
            for key, header_value in parts.items():
                action = extra.get(key, value)
                name = prefix + key.lower()
                if action == "Set":
                    req.headers[name] = header_value
                elif action == "Append":
                    old = req.headers.get(name)
                    req.headers[name] = f"{old},{header_value}" if old else header_value
                elif action == "Remove":
                    req.headers.pop(name, None)
    if forwarded_default:
        req.headers["x-forwarded-for"] = client_ip
        req.headers["x-forwarded-proto"] = scheme
        req.headers["x-forwarded-host"] = host
        req.headers["x-forwarded-prefix"] = path_base


def apply_response_transforms(transforms: Sequence[Transform], status: int,
                              headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    success = status < 400
    for t in transforms:
        if t.kind not in ("ResponseHeader", "ResponseHeaderRemove"):
            continue
        when = t.extra.get("When", "Success")
        if (when == "Success" and not success) or (when == "Failure" and success):
            continue
        name = t.value
        if t.kind == "ResponseHeaderRemove":
            headers = [(k, v) for k, v in headers if k.lower() != name.lower()]
        elif "Set" in t.extra:
            headers = [(k, v) for k, v in headers if k.lower() != name.lower()]
            headers.append((name, t.extra["Set"]))
        else:
            headers.append((name, t.extra.get("Append", "")))
    return headers


# -- endpoints and selection ---------------------------------------------------------------


@dataclass
class Endpoint:
    """A YARP route, or one of the gateway's own controller actions (``internal``)."""

    id: str
    template: RouteTemplate
    order: int = 0
    methods: frozenset[str] | None = None
    hosts: tuple[str, ...] = ()
    headers: tuple[ValueMatch, ...] = ()
    query: tuple[ValueMatch, ...] = ()
    cluster_id: str | None = None
    transforms: tuple[Transform, ...] = ()
    internal: str | None = None  # name of the internal handler
    sort_key: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        self.sort_key = (self.order, self.template.precedence, 0 if self.hosts else 1,
                         0 if self.methods else 1, -len(self.headers), -len(self.query))


@dataclass
class Selection:
    endpoint: Endpoint | None
    values: dict[str, str]
    status: int = 200  # 404 none, 405 wrong method, 500 ambiguous
    allow: tuple[str, ...] = ()
    ambiguous: tuple[str, ...] = ()


def sort_endpoints(endpoints: list[Endpoint]) -> list[Endpoint]:
    return sorted(endpoints, key=lambda e: e.sort_key)


class EndpointTable:
    """Endpoints in selection order, indexed by a template's literal first segment.

    A request can only match endpoints whose first segment is its own first segment or
    not a literal; each index entry is already merged and sorted, so selection scans a
    handful of candidates instead of every route.
    """

    def __init__(self, endpoints: list[Endpoint]) -> None:
        self.endpoints = sort_endpoints(endpoints)
        self.wild = [e for e in self.endpoints if e.template.first_literal is None]
        self.by_first: dict[str, list[Endpoint]] = {}
        for e in self.endpoints:
            key = e.template.first_literal
            if key is not None:
                self.by_first.setdefault(key, [])
        for key in self.by_first:
            self.by_first[key] = [e for e in self.endpoints
                                  if e.template.first_literal in (key, None)]

    def candidates(self, segments: Sequence[str]) -> list[Endpoint]:
        if not segments:
            return self.wild
        return self.by_first.get(segments[0].lower(), self.wild)

    def __len__(self) -> int:
        return len(self.endpoints)

    def __iter__(self) -> Iterator[Endpoint]:
        return iter(self.endpoints)


def select(endpoints: Sequence[Endpoint] | EndpointTable, method: str, segments: Sequence[str],
           host: str, header_lookup: Callable[[str], list[str] | None],
           query_lookup: Callable[[str], list[str] | None]) -> Selection:
    """Pick the endpoint for a request; a plain list must be sorted with `sort_endpoints`."""
    if isinstance(endpoints, EndpointTable):
        endpoints = endpoints.candidates(segments)
    best: Endpoint | None = None
    best_values: dict[str, str] = {}
    ties: list[str] = []
    allow: set[str] = set()
    method_only_miss = False
    method_u = method.upper()
    for ep in endpoints:
        if best is not None and ep.sort_key != best.sort_key:
            break
        values = ep.template.match(segments)
        if values is None:
            continue
        if ep.hosts and not any(_host_matches(p, host) for p in ep.hosts):
            continue
        if any(not m.test(header_lookup(m.name)) for m in ep.headers):
            continue
        if any(not m.test(query_lookup(m.name)) for m in ep.query):
            continue
        if ep.methods is not None and method_u not in ep.methods:
            method_only_miss = True
            allow.update(ep.methods)
            continue
        if best is None:
            best, best_values = ep, values
        else:
            ties.append(ep.id)
    if best is None:
        if method_only_miss:
            return Selection(None, {}, 405, tuple(sorted(allow)))
        return Selection(None, {}, 404)
    if ties:
        return Selection(None, {}, 500, ambiguous=(best.id, *ties))
    return Selection(best, best_values)
