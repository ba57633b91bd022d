"""Running the semantic rules: ``gwctl validate`` (a fleet) and ``gwctl lint-file`` (live files).

Both entry points return every problem, sorted, and never raise for bad *content*: a file
that does not parse, a rule that meets an input it cannot handle (reported as
``internal-error``) -- all are problems. Only an unreadable file raises `InputError`,
and a wrong argument (an unknown rule id, environment or release) `UsageError`.

Fleet runs apply the fleet's ``rules:`` section (``rule-id: false``, ``{enabled: false,
reason}``, ``{level: warning|error}``, rule options) and inline directives
(``# gwctl: disable=rule-id -- reason`` on the key's line or alone on the line above).
Disabled and suppressed problems stay in the result with ``suppressed`` set to the
reason, so that reports can show what was accepted and why. A problem that several
gateways share (a site-level setting) is reported once, with the other gateways in
``extra["subjects"]``.
"""

from __future__ import annotations

import difflib
import gc
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from gwctl.errors import UsageError
from gwctl.netjson import runtime as dotnet
from gwctl.problems import Level, Location, Problem, pointer
from gwctl.rules import get_rule, host_rule_ids, registry, version_rule_ids
from gwctl.rules._hosts import HostScope
from gwctl.rules._versions import VersionScope
from gwctl.rules.base import BOTH_MODES, GatewayRule, RuleInfo
from gwctl.rules.sources import file_targets, fleet_targets
from gwctl.rules.target import ENVIRONMENTS, FleetScope, Mode, Rendered, Target
from gwctl.versions.dotnet import runtime_for
from gwctl.versions.release import Version

if TYPE_CHECKING:
    from gwctl.fleet.model import Fleet
    from gwctl.iis.hostinfo import HostInfo
    from gwctl.versions.discovery import Discovery

__all__ = ["Rendered", "lint_files", "validate_fleet", "validate_hosts", "validate_versions"]

DEFAULT_RELEASE = "2025 R2"
NO_REASON = "no reason given"


@dataclass
class RuleSetting:
    """A rule as a fleet configures it."""

    enabled: bool = True
    level: Level | None = None
    reason: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


# -- running rules -----------------------------------------------------------------------------


def _internal_error(rule: RuleInfo, exc: Exception, subject: str | None,
                    file: str | None = None) -> Problem:
    # a rule must never take the whole run down: report the input it could not handle
    return Problem("internal-error", Level.ERROR,
                   f"rule {rule.ID} failed on this input ({type(exc).__name__}: {exc}); "
                   "please report this as a gwctl bug", file=file, subject=subject)


Configured = tuple[tuple[GatewayRule, dict[str, Any]], ...]


def _configured(rules: Iterable[GatewayRule], mode: Mode,
                settings: Mapping[str, RuleSetting]) -> Configured:
    """The rules that run in `mode`, each with its options: decided once per run, not
    once per gateway (a fleet has thousands)."""
    out = []
    for rule in rules:
        if mode in getattr(rule, "MODES", BOTH_MODES):
            setting = settings.get(rule.ID)
            out.append((rule, {**rule.OPTIONS, **(setting.options if setting else {})}))
    return tuple(out)


def _run_gateway(rules: Configured, target: Target) -> Iterator[Problem]:
    for rule, options in rules:
        try:
            yield from rule.check(target, options)
        except Exception as exc:
            yield _internal_error(rule, exc, target.subject, getattr(target, "file", None))


def _selected(only: set[str] | None) -> tuple[set[str] | None, tuple[GatewayRule, ...]]:
    reg = registry()
    if only is None:
        return None, reg.gateway
    for rule_id in only:
        get_rule(rule_id)  # UsageError with close matches
    return only, tuple(r for r in reg.gateway if r.ID in only)


# -- fleet configuration -----------------------------------------------------------------------


def _close(rule_id: str) -> str:
    from gwctl.rules import rule_ids

    close = difflib.get_close_matches(rule_id, rule_ids(), n=2, cutoff=0.6)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def _rule_settings(fleet: Fleet) -> tuple[dict[str, RuleSetting], list[Problem]]:
    from gwctl.rules import rule_ids

    known = set(rule_ids())
    settings: dict[str, RuleSetting] = {}
    problems: list[Problem] = []

    def problem(rule: str, level: Level, message: str, ptr: str) -> None:
        problems.append(Problem(rule, level, message, path=ptr)
                        .at(fleet.source.locate(ptr)))

    for rule_id, raw in (fleet.rule_config or {}).items():
        ptr = pointer("rules", rule_id)
        if rule_id not in known:
            problem("rule-config", Level.ERROR, f"unknown rule {rule_id!r}{_close(rule_id)}",
                    ptr)
            continue
        setting = RuleSetting()
        if isinstance(raw, bool):
            setting.enabled = raw
        elif isinstance(raw, dict):
            setting.enabled = bool(raw.get("enabled", True))
            if raw.get("level") in ("error", "warning"):
                setting.level = Level(raw["level"])
            reason = raw.get("reason")
            setting.reason = str(reason) if reason else None
            defaults = get_rule(rule_id).OPTIONS
            for name, value in raw.items():
                if name in ("enabled", "level", "reason"):
                    continue
                if name not in defaults:
                    have = ", ".join(defaults) or "none"
                    problem("rule-config", Level.ERROR, f"rule {rule_id} has no option "
                            f"{name!r} (options: {have})", pointer("rules", rule_id, name))
                elif not _same_type(defaults[name], value):
                    problem("rule-config", Level.ERROR, f"option {name!r} of rule {rule_id} "
                            f"must be a {type(defaults[name]).__name__}",
                            pointer("rules", rule_id, name))
                else:
                    setting.options[name] = value
        if not setting.enabled and not setting.reason:
            problem("suppression-without-reason", Level.WARNING,
                    f"rule {rule_id} is disabled without a reason: add reason: '...'", ptr)
        settings[rule_id] = setting
    return settings, problems


def _same_type(default: Any, value: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, int | float):
        return isinstance(value, int | float)
    return isinstance(value, type(default))


# -- finishing: levels, suppressions, duplicates across gateways -------------------------------


def _configure(problems: Iterable[Problem],
               settings: Mapping[str, RuleSetting]) -> Iterator[Problem]:
    for p in problems:
        s = settings.get(p.rule)
        if s is not None:
            if s.level is not None:
                p = replace(p, level=s.level)
            if not s.enabled:
                p = replace(p, suppressed=f"disabled in rules: {s.reason or NO_REASON}")
        yield p


def _merge_subjects(problems: Iterable[Problem]) -> list[Problem]:
    """One problem per place and message; the gateways that share it go to ``extra``."""
    first: dict[tuple[Any, ...], int] = {}
    subjects: dict[int, list[str]] = {}
    out: list[Problem] = []
    for p in problems:
        key = (p.rule, p.level, p.file, p.line, p.column, p.path, p.message, p.suppressed)
        at = first.get(key)
        if at is None:
            first[key] = len(out)
            out.append(p)
            if p.subject is not None:
                subjects[len(out) - 1] = [p.subject]
        elif p.subject is not None:
            subjects.setdefault(at, []).append(p.subject)
    for i, names in subjects.items():
        if len(names) > 1:
            out[i] = replace(out[i], extra={**out[i].extra, "subjects": names})
    return out


def _inline(fleet: Fleet, problems: list[Problem], report_unused: bool) -> list[Problem]:
    """Apply ``# gwctl: disable=...`` directives; report reasonless and unused ones."""
    directives = [(src.file, target_line, sup) for src in fleet.source.files
                  for target_line, sup in src.suppressions.items()]
    if not directives:
        return problems
    used: set[tuple[str, int]] = set()
    out = []
    for p in problems:
        if p.file is not None and p.line is not None:
            sup = fleet.source.suppression_at(Location(p.file, p.line, p.column))
            if sup is not None and (p.rule in sup.rules or "all" in sup.rules):
                used.add((p.file, sup.line))
                if p.suppressed is None:  # a rule disabled in rules: keeps that reason
                    p = replace(p, suppressed=sup.reason or NO_REASON)
        out.append(p)
    from gwctl.rules import rule_ids

    known = set(rule_ids()) | {"all"}
    for file, _target, sup in directives:
        where = Location(file, sup.line, None)
        unknown = sorted(r for r in sup.rules if r not in known)
        for rule_id in unknown:
            out.append(Problem("rule-config", Level.ERROR, f"inline directive names unknown "
                               f"rule {rule_id!r}{_close(rule_id)}").at(where))
        if sup.reason is None:
            out.append(Problem("suppression-without-reason", Level.WARNING,
                               "inline suppression without a reason: add '-- why' after the "
                               "rule id").at(where))
        if report_unused and not unknown and (file, sup.line) not in used:
            out.append(Problem("unused-suppression", Level.WARNING,
                               f"directive disable={','.join(sorted(sup.rules))} suppresses "
                               "nothing on the line it applies to").at(where))
    return out


# -- entry points ------------------------------------------------------------------------------


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while rules run.

    Rules allocate many small, acyclic objects; with a large fleet in memory every
    collection of the oldest generation walks the whole fleet, which costs more than the
    rules themselves. Reference counting still frees everything; the collector is
    restored (and catches up) when the run ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def validate_fleet(fleet: Fleet, *, only: set[str] | None = None,
                   rendered: Mapping[str, Rendered] | None = None,
                   scope: FleetScope | None = None) -> list[Problem]:
    """Every semantic rule over every gateway of `fleet` plus the fleet-wide rules.

    `fleet` must come from a schema-valid document (`gwctl.api.load`). `only` limits the
    run to those rule ids. `rendered` (gateway id -> `Rendered`) reuses files the caller
    rendered already; other gateways are rendered here. `scope` replaces the plain
    `FleetScope` of the fleet-wide rules (e.g. one carrying discovered versions).
    """
    with _gc_paused():
        return _validate_fleet(fleet, only, rendered, scope)


def _validate_fleet(fleet: Fleet, only: set[str] | None, rendered: Mapping[str, Rendered] | None,
                    scope: FleetScope | None) -> list[Problem]:
    selected, gateway_rules = _selected(only)
    settings, problems = _rule_settings(fleet)
    shared: dict[Any, Any] = {}
    raw: list[Problem] = []
    configured = _configured(gateway_rules, "fleet", settings)
    for item in fleet_targets(fleet, rendered, shared):
        if isinstance(item, Problem):
            raw.append(item)
        else:
            raw.extend(_run_gateway(configured, item))
    fleet_scope = scope if scope is not None else FleetScope(fleet)
    for rule in registry().fleet:
        if selected is not None and rule.ID not in selected:
            continue
        setting = settings.get(rule.ID)
        options = {**rule.OPTIONS, **(setting.options if setting else {})}
        try:
            raw.extend(rule.check(fleet_scope, options))
        except Exception as exc:
            raw.append(_internal_error(rule, exc, None))
    problems.extend(_merge_subjects(_configure(raw, settings)))
    problems = _inline(fleet, problems, report_unused=selected is None)
    if selected is not None:
        problems = [p for p in problems if p.rule in selected or p.rule == "internal-error"]
    return sorted(problems, key=Problem.sort_key)


def validate_versions(fleet: Fleet, discovery: Discovery | None = None, *,
                      sites: Iterable[str] | None = None) -> list[Problem]:
    """The version rules only (``version-*``), as `validate_fleet` runs them: the fleet's
    ``rules:`` settings and inline directives apply. With `discovery`, installed versions
    win over declared ones and only the discovered sites are checked; `sites` limits the
    run to those sites."""
    return validate_fleet(fleet, only=set(version_rule_ids()),
                          scope=VersionScope(fleet, discovery, sites))


def validate_hosts(fleet: Fleet, hosts: Mapping[str, HostInfo]) -> list[Problem]:
    """The host rules (``host-*``) on what ``read_host`` found (gateway id -> facts), as
    `validate_fleet` runs them: the fleet's ``rules:`` settings and inline directives
    apply. Gateways without facts are not judged."""
    return validate_fleet(fleet, only=set(host_rule_ids()), scope=HostScope(fleet, hosts))


def lint_files(paths: list[str], *, base: str | None, environment: str = "production",
               version: str | None = None, nlog_version: int = 5,
               kind: str | None = None, only: set[str] | None = None,
               dotnet_version: int | None = None) -> list[Problem]:
    """Lint live gateway files exactly as the gateway reads them.

    ``appsettings*.json`` files are layered over `base` (the host's appsettings.json), else
    over the bundled reference base of `version` (default 2025 R2); ``*.config`` and
    ``*.xml`` files are nlog.config files. `kind` (``appsettings`` or ``nlog``) overrides
    the choice by file name for every path. `dotnet_version` is the gateway's .NET
    runtime, which decides what a JSON ``null`` is (`gwctl.netjson.runtime`); default: the
    runtime of `version` (`gwctl.versions.dotnet`).
    """
    if environment not in ENVIRONMENTS:
        raise UsageError(f"unknown environment {environment!r} (one of "
                         f"{', '.join(ENVIRONMENTS)})")
    if kind not in (None, "appsettings", "nlog"):
        raise UsageError(f"unknown file kind {kind!r} (appsettings or nlog)")
    if nlog_version not in (5, 6):
        raise UsageError(f"NLog version must be 5 or 6, not {nlog_version}")
    try:
        release = Version.parse(version or DEFAULT_RELEASE)
    except Exception as exc:
        raise UsageError(str(getattr(exc, "message", exc))) from None
    if dotnet_version is None:
        dotnet_version = runtime_for(release)
    elif dotnet_version not in dotnet.SUPPORTED:
        raise UsageError(f".NET version must be one of "
                         f"{', '.join(map(str, dotnet.SUPPORTED))}, not {dotnet_version}")
    selected, gateway_rules = _selected(only)
    built = file_targets(paths, base=base, environment=environment, version=release,
                         nlog_version=nlog_version, kind=kind, runtime=dotnet_version)
    problems = list(built.problems)
    configured = _configured(gateway_rules, "file", {})
    for target in built.targets:
        problems.extend(_run_gateway(configured, target))
    if selected is not None:
        problems = [p for p in problems if p.rule in selected or p.rule == "internal-error"]
    return sorted(problems, key=Problem.sort_key)
