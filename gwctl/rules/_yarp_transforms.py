"""YARP route transforms: which ones the gateway accepts, and merges that change them.

Transforms are dictionaries whose keys compare ignoring case; each must be claimed by one
transform factory with exactly its companion keys, and ``ForwardedTransformActions``
values (``Off|Set|Append|Remove``) are parsed case-sensitively. Path values need no
leading ``/`` (``PathTransformFactory.MakePathString`` adds it, microsoft/reverse-proxy
src/ReverseProxy/Transforms/PathTransformFactory.cs); a ``PathPattern`` is parsed as a
route template when the configuration is applied; ``When`` compares ignoring case
(src/ReverseProxy/Transforms/ResponseTransformFactory.cs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gwctl.rules import _cfg
from gwctl.rules._route_template import TemplateError, parse_template
from gwctl.rules._yarp_routes import ROUTES, RouteFacts, override_route_ids

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
    if spec.key == "PathPattern":
        # parsed when the configuration is applied (PathTransformFactory, after
        # MakePathString adds a missing leading '/'): a broken pattern stops the gateway
        try:
            parse_template(value if value.startswith("/") else "/" + value)
        except TemplateError as exc:
            errors.append((f"PathPattern {value!r} is not a route template: {exc}",
                           keys[spec.key.lower()]))
    elif spec.key == "X-Forwarded":
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


def transform_errors(facts: RouteFacts) -> list[tuple[int, list[tuple[str, str | None]]]]:
    """(index, errors) of the route's invalid transforms, computed once per route object."""
    found: list[tuple[int, list[tuple[str, str | None]]]] | None = facts.memo.get("transforms")
    if found is None:
        found = [(i, errors) for i, t in enumerate(facts.transforms)
                 if (errors := check_transform(t))]
        facts.memo["transforms"] = found
    return found
