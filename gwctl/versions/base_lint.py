"""The overrides against the *target* release's ``appsettings.json``, before an upgrade.

The installer of the target release writes its own ``appsettings.json`` (gwctl's bundled
reference base for that release, `gwctl.render.bases`); the gateway then merges the
unchanged ``appsettings.Production.json`` over it with .NET's rules (keys
case-insensitive, arrays merged by index, nothing deleted). What was right over the old
base can be wrong over the new one:

- ``override-wrong`` (error): a partial override of a stock route or cluster that the
  target no longer ships -- the merged object has only the overridden fields (a route
  without ``ClusterId`` or ``Match``, a cluster without destinations); a route or cluster
  of the fleet's own whose id the target ships as a stock one -- the target's keys the
  override does not set are merged into it (a stock transform, say); or an array the
  override writes with fewer elements than the target's base, whose remaining elements
  stay in place (merged by index);
- ``override-unknown`` (warning): a key under an object the current base has and the
  target's does not: the release dropped or renamed it, and nothing reads the value;
- ``override-redundant`` (info): the target's base already holds the same value, so the
  override changes nothing there (and pins it should a later release change it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from gwctl.fleet.model import Gateway
from gwctl.fleet.secrets import Secret
from gwctl.netjson.config import FlatConfig, fold
from gwctl.render.appsettings import render_appsettings
from gwctl.render.bases import reference_base
from gwctl.versions.release import Version

Level = Literal["error", "warning", "info"]

#: (override section prefix, fleet settings pointer) for locating a key in the fleet
_SETTINGS_POINTERS = (("reverseproxy:routes:", "/reverse_proxy/routes/"),
                      ("reverseproxy:clusters:", "/reverse_proxy/clusters/"),
                      ("logging:loglevel:", "/logging/levels/"))
#: what a stock object needs in full: without it, the merged object is broken
_REQUIRED = {"reverseproxy:routes": ("ClusterId", "Match"),
             "reverseproxy:clusters": ("Destinations",)}


@dataclass(frozen=True)
class BaseProblem:
    code: str
    level: Level
    gateway: str
    key: str
    message: str
    pointer: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.code, "level": self.level, "gateway": self.gateway,
                "key": self.key, "message": self.message, "path": self.pointer}


def flatten_override(node: Any, prefix: str = "") -> dict[str, str | None]:
    """The rendered override as .NET flattens it; a secret is a value like any other."""
    out: dict[str, str | None] = {}
    if isinstance(node, dict):
        for k, v in node.items():
            out.update(flatten_override(v, f"{prefix}{k}:"))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.update(flatten_override(v, f"{prefix}{i}:"))
    elif isinstance(node, Secret):
        out[prefix[:-1]] = "(secret)"
    elif isinstance(node, bool):
        out[prefix[:-1]] = "True" if node else "False"
    else:
        out[prefix[:-1]] = None if node is None else str(node)
    return out


def _parents(key: str) -> list[str]:
    parts = key.split(":")
    return [":".join(parts[:i]) for i in range(1, len(parts))]


def _has_prefix(base: FlatConfig, prefix: str) -> bool:
    p = fold(prefix) + ":"
    return fold(prefix) in base.entries or any(k.startswith(p) for k in base.entries)


def _locate(gw: Gateway, key: str) -> str:
    folded = fold(key)
    for section, settings in _SETTINGS_POINTERS:
        if folded.startswith(section):
            item = key.split(":")[2]
            return gw.setting_pointer_in_file(settings + item)
    return gw.setting_pointer_in_file("")


def lint_against(gw: Gateway, current: FlatConfig, target_base: FlatConfig,
                 target: Version) -> list[BaseProblem]:
    """Problems of `gw`'s override (rendered for `target`) over `target_base`."""
    override = flatten_override(render_appsettings(gw))
    problems: list[BaseProblem] = []
    seen_objects: set[str] = set()
    for key, value in override.items():
        parts = key.split(":")
        head = fold(":".join(parts[:2]))
        if head in _REQUIRED and len(parts) > 2:
            obj = ":".join(parts[:3])
            if fold(obj) in seen_objects:
                continue
            if not _has_prefix(current, obj) and _has_prefix(target_base, obj):
                seen_objects.add(fold(obj))
                own = {fold(k) for k in override}
                gained = [e.key for e in target_base
                          if fold(e.key).startswith(fold(obj) + ":") and fold(e.key) not in own
                          and e.value is not None]
                if gained:
                    problems.append(BaseProblem(
                        "override-wrong", "error", gw.id, obj,
                        f"{obj} is the fleet's own, but {target} ships a stock object of "
                        f"that id: its {', '.join(k[len(obj) + 1:] for k in gained)} would "
                        "be merged into it; rename it or declare those keys",
                        _locate(gw, key)))
                continue
            if _has_prefix(current, obj) and not _has_prefix(target_base, obj):
                seen_objects.add(fold(obj))
                lacking = [f for f in _REQUIRED[head]
                           if not any(fold(k).startswith(fold(f"{obj}:{f}"))
                                      for k in override)]
                if lacking:
                    problems.append(BaseProblem(
                        "override-wrong", "error", gw.id, obj,
                        f"{obj} overrides part of a stock object that {target} no longer "
                        f"ships: the merged object lacks {', '.join(lacking)}; declare it "
                        "in full or remove the override", _locate(gw, key)))
                continue
        missing_parent = next((p for p in _parents(key)
                               if _has_prefix(current, p) and not _has_prefix(target_base, p)),
                              None)
        if missing_parent is not None:
            problems.append(BaseProblem(
                "override-unknown", "warning", gw.id, key,
                f"{key}: {target}'s appsettings.json has no {missing_parent} (the release "
                "dropped or renamed it); nothing reads this value", _locate(gw, key)))
            continue
        if key in target_base and target_base.get(key) == value and value != "(secret)":
            problems.append(BaseProblem(
                "override-redundant", "info", gw.id, key,
                f"{key} = {value!r} is already the value in {target}'s appsettings.json",
                _locate(gw, key)))
    problems.extend(_short_arrays(gw, override, target_base, target))
    return problems


def _short_arrays(gw: Gateway, override: dict[str, str | None], target_base: FlatConfig,
                  target: Version) -> list[BaseProblem]:
    counts: dict[str, int] = {}
    for key in override:
        parts = key.split(":")
        for i, part in enumerate(parts[1:], start=1):
            if part.isdigit():
                array = ":".join(parts[:i])
                counts[array] = max(counts.get(array, 0), int(part) + 1)
    out = []
    for array, n in counts.items():
        if _has_prefix(target_base, f"{array}:{n}"):
            out.append(BaseProblem(
                "override-wrong", "error", gw.id, array,
                f"{array}: the override writes {n} element(s) but {target}'s "
                f"appsettings.json has more; arrays merge by index, so its elements from "
                f"{n} on stay in the running configuration", _locate(gw, array)))
    return out


def lint_gateway(ms_url: str, gw: Gateway, current: Version,
                 target: Version) -> list[BaseProblem]:
    """`gw` (declared or installed on `current`) moved to `target`."""
    import dataclasses

    now = reference_base(current, ms_url, gw.root_url)
    then = reference_base(target, ms_url, gw.root_url)
    return lint_against(dataclasses.replace(gw, version=target), now, then, target)
