"""YARP routes as the gateway ranks them: match criteria, ``Order``, who outranks whom.

Endpoints are ranked by ``Order`` (default 0), then by template precedence
(`gwctl.yarp.template`), then by how many method, host, header and query
matchers they carry; two candidates that tie and both match throw
``AmbiguousMatchException`` (HTTP 500).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NamedTuple

from gwctl.rules import _cfg
from gwctl.rules._cfg import Key
from gwctl.rules._memo import by_identity
from gwctl.yarp.template import (
    Segment,
    TemplateError,
    compare_precedence,
    constraint_problems,
    covers_path,
    normalise,
    parse_template,
    precedence,
)

ROUTES: Key = ("ReverseProxy", "Routes")
CLUSTERS: Key = ("ReverseProxy", "Clusters")

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
        #: constraints the endpoint matcher cannot build (every request answers 500)
        self.constraint_errors = (constraint_problems(self.segments)
                                  if self.segments is not None else [])
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
        facts = by_identity(target.shared, "route-facts")
        cached = [Route(rid, (*ROUTES, rid), data, rid.lower() in stock,
                        facts.get(data, RouteFacts))
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


def match_key(target: Any, route: Route) -> Key:
    """Where to report a finding about what a route matches: its Path, else the route."""
    path = (*route.key, "Match", "Path")
    return path if target.in_override(path) else route.key
