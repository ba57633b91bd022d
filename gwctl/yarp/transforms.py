"""YARP's route transforms: which ones load, and what each one's values must be.

A transform is a dictionary whose keys compare ignoring case
(microsoft/reverse-proxy src/ReverseProxy/Configuration/ConfigProvider/
ConfigurationConfigProvider.cs, ``CreateTransforms``). ``TransformBuilder``
(src/ReverseProxy/Transforms/Builder/TransformBuilder.cs) offers it to each factory in
turn; the first factory that knows one of its keys claims it and must find exactly its
companion keys, or the configuration is refused and the gateway does not start.
Per factory (src/ReverseProxy/Transforms/*TransformFactory.cs):

* path values need no leading ``/`` -- ``PathTransformFactory.MakePathString`` adds it;
  a ``PathPattern`` is parsed as a route template when the configuration is applied;
* ``X-Forwarded`` and ``Forwarded`` actions (``Off|Set|Append|Remove``) are parsed
  case-sensitively (``Enum.Parse`` without ignoreCase);
* ``When`` (``Always|Success|Failure``) compares ignoring case;
* the ``*Copy`` and ``RequestHeaderOriginalHost`` values are ``bool.Parse``d.

`check` is the one implementation: the rule ``route-transform`` reports its findings and
the simulator refuses to start on them, then applies the transform as `TRANSFORMS` says.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from gwctl.yarp.template import TemplateError, parse_template

FORWARDED_ACTIONS = ("Off", "Set", "Append", "Remove")
WHEN = ("Always", "Success", "Failure")
NODE_FORMATS = frozenset(f.lower() for f in (
    "None", "Random", "RandomAndPort", "RandomAndRandomPort", "Unknown", "UnknownAndPort",
    "UnknownAndRandomPort", "Ip", "IpAndPort", "IpAndRandomPort"))
_FORWARDED_TOKENS = frozenset({"for", "by", "host", "proto"})


@dataclass(frozen=True)
class TransformSpec:
    key: str
    #: companion keys that may appear (besides the key)
    optional: tuple[str, ...] = ()
    #: exactly one of these must appear
    one_of: tuple[str, ...] = ()
    #: what the key's value is: any | path | template | bool | action | forwarded
    value: str = "any"


#: in YARP's factory order: the first factory that knows a key claims the transform
SPECS = (
    TransformSpec("X-Forwarded", optional=("HeaderPrefix", "For", "Prefix", "Host", "Proto"),
                  value="action"),
    TransformSpec("Forwarded", optional=("Action", "ForFormat", "ByFormat"),
                  value="forwarded"),
    TransformSpec("ClientCert"),
    TransformSpec("HttpMethodChange", one_of=("Set",)),
    TransformSpec("PathSet", value="path"), TransformSpec("PathPrefix", value="path"),
    TransformSpec("PathRemovePrefix", value="path"),
    TransformSpec("PathPattern", value="template"),
    TransformSpec("QueryValueParameter", one_of=("Append", "Set")),
    TransformSpec("QueryRouteParameter", one_of=("Append", "Set")),
    TransformSpec("QueryRemoveParameter"),
    TransformSpec("RequestHeadersCopy", value="bool"),
    TransformSpec("RequestHeaderOriginalHost", value="bool"),
    TransformSpec("RequestHeader", one_of=("Set", "Append")),
    TransformSpec("RequestHeaderRouteValue", one_of=("Set", "Append")),
    TransformSpec("RequestHeaderRemove"), TransformSpec("RequestHeadersAllowed"),
    TransformSpec("ResponseHeadersCopy", value="bool"),
    TransformSpec("ResponseTrailersCopy", value="bool"),
    TransformSpec("ResponseHeader", optional=("When",), one_of=("Set", "Append")),
    TransformSpec("ResponseTrailer", optional=("When",), one_of=("Set", "Append")),
    TransformSpec("ResponseHeaderRemove", optional=("When",)),
    TransformSpec("ResponseTrailerRemove", optional=("When",)),
    TransformSpec("ResponseHeadersAllowed"), TransformSpec("ResponseTrailersAllowed"),
)
TRANSFORMS: dict[str, TransformSpec] = {s.key.lower(): s for s in SPECS}
_ORDER_OF = {s.key.lower(): i for i, s in enumerate(SPECS)}
_ALLOWED = {s.key.lower(): frozenset({s.key.lower(), *(k.lower() for k in s.optional),
                                      *(k.lower() for k in s.one_of)}) for s in SPECS}

#: (message, offending key as written) -- the key None when the transform as a whole
Finding = tuple[str, str | None]


def path_string(value: str) -> str:
    """``PathTransformFactory.MakePathString``: the value with its leading '/'."""
    return value if not value or value.startswith("/") else "/" + value


def claim(t: Mapping[str, str | None]) -> TransformSpec | None:
    """The spec of the factory that claims `t` (None: no factory knows any of its keys)."""
    claimed = [k.lower() for k in t if k.lower() in _ORDER_OF]
    return TRANSFORMS[min(claimed, key=_ORDER_OF.__getitem__)] if claimed else None


def check(t: Mapping[str, str | None]) -> list[Finding]:
    """Why YARP refuses transform `t` (values as the configuration holds them)."""
    keys = {k.lower(): k for k in t}
    spec = claim(t)
    if spec is None:
        shown = ", ".join(t) or "no keys"
        close = _close_key(next(iter(t), ""))
        hint = f" (did you mean {close}?)" if close else ""
        return [(f"unknown transform ({shown}){hint}", next(iter(t), None))]
    errors: list[Finding] = []
    extra = [keys[k] for k in keys if k not in _ALLOWED[spec.key.lower()]]
    if extra:
        errors.append((f"{spec.key} transform does not take {', '.join(extra)} (allowed with "
                       f"it: {', '.join(spec.optional + spec.one_of) or 'nothing'})", extra[0]))
    if spec.one_of:
        present = [k for k in spec.one_of if k.lower() in keys]
        if len(present) != 1:
            need = "only one of" if present else "one of"
            errors.append((f"{spec.key} transform needs {need} {' or '.join(spec.one_of)}",
                           spec.key))
    value = t[keys[spec.key.lower()]] or ""
    if spec.value == "bool" and value.strip().lower() not in ("true", "false"):
        errors.append((f"{spec.key} must be true or false, not {value!r}", spec.key))
    elif spec.value == "template":
        try:
            parse_template(path_string(value))
        except TemplateError as exc:
            errors.append((f"PathPattern {value!r} is not a route template: {exc}",
                           keys[spec.key.lower()]))
    elif spec.value == "action":
        for k in ("X-Forwarded", "For", "Prefix", "Host", "Proto"):
            if k.lower() in keys:
                v = t[keys[k.lower()]] or ""
                if v not in FORWARDED_ACTIONS:
                    hint = (f" (YARP reads it case-sensitively: write {v.capitalize()!r})"
                            if v.capitalize() in FORWARDED_ACTIONS else "")
                    errors.append((f"{k} must be exactly Off, Set, Append or Remove, not "
                                   f"{v!r}{hint}", keys[k.lower()]))
    elif spec.value == "forwarded":
        errors += _forwarded(t, keys, value)
    when = keys.get("when")
    if when is not None and (t[when] or "").lower() not in {w.lower() for w in WHEN}:
        errors.append((f"When must be Always, Success or Failure, not {t[when]!r}", when))
    return errors


def _forwarded(t: Mapping[str, str | None], keys: dict[str, str], value: str) -> list[Finding]:
    errors: list[Finding] = []
    bad = [x for x in re.split(r"[, ]+", value) if x and x.lower() not in _FORWARDED_TOKENS]
    if bad:
        errors.append((f"Forwarded takes for, by, host, proto; not {', '.join(bad)}",
                       keys["forwarded"]))
    action = keys.get("action")
    if action is not None and (t[action] or "") not in FORWARDED_ACTIONS:
        errors.append(("Action must be exactly Off, Set, Append or Remove", action))
    for k in ("forformat", "byformat"):
        if k in keys and (t[keys[k]] or "").lower() not in NODE_FORMATS:
            errors.append((f"{keys[k]} {t[keys[k]]!r} is not a node format", keys[k]))
    return errors


def _close_key(key: str) -> str | None:
    found = difflib.get_close_matches(key.lower(), list(TRANSFORMS), n=1, cutoff=0.75)
    return TRANSFORMS[found[0]].key if found else None
