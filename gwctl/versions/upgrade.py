"""Upgrade plans: the ordered steps that bring each site to a target release.

The order is the manual's (Upgrade › Upgrading the API Gateway): the management server
host first — its co-located gateway is upgraded with it by the XProtect VMS Products
installer — then every gateway on another host, right after, with the API Gateway
installer from the management server's download page. Between steps the plan lists the
checks to run; a component already on the target release makes its step *done*, so a
half-upgraded site shows only what remains.

What blocks a site's plan:

- a downgrade (a component newer than the target), or a target before 2022 R1 (the
  gateway requires VMS 2022 R1 or later);
- a mandatory gateway missing at the target: none at all from 2023 R3, none on the
  management server host from 2024 R2;
- configuration the target cannot read: a feature the target lacks (TURN before 2023
  R3, ...), or a raw ``appsettings`` key in a shape the target renamed (gwctl does not
  rewrite raw keys).

The overrides are also linted against the target's bundled ``appsettings.json``
(`gwctl.versions.base_lint`): an override that becomes wrong over it blocks; one that
becomes unknown (a warning) or redundant (info) is listed under the site's
``base_problems``.

What is only a note: settings gwctl models and re-renders in the target's shape (the
2023 R1/R2 single-STUN ``WebRTC:STUN:Hostname:Address`` becomes ``WebRTC:iceServers`` from
2023 R3), and declared versions the fleet file must be updated to.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from gwctl.fleet.model import Gateway
from gwctl.render.appsettings import render_appsettings
from gwctl.versions.base_lint import BaseProblem, lint_gateway
from gwctl.versions.boundaries import (
    COLOCATED_MANDATORY_SINCE,
    GATEWAY_MIN,
    MANDATORY_GATEWAY_SINCE,
)
from gwctl.versions.features import gateway_stage, supports
from gwctl.versions.release import Version
from gwctl.versions.requirements import missing, rendered_requirements, requirements
from gwctl.versions.state import GatewayState, SiteState

Status = Literal["done", "todo"]



@dataclass
class Component:
    kind: Literal["management_server", "gateway"]
    name: str
    host: str
    current: Version | None
    source: str
    colocated: bool = False

    def done(self, target: Version) -> bool:
        return self.current is not None and self.current.same_release(target)

    def label(self) -> str:
        if self.kind == "management_server":
            return f"management server {self.host}"
        return f"gateway {self.name} ({self.host}{', co-located' if self.colocated else ''})"

    def to_json(self, target: Version) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "host": self.host,
                "current": self.current.name if self.current else None,
                "current_full": self.current.full if self.current else None,
                "source": self.source, "colocated": self.colocated,
                "target": target.name, "done": self.done(target)}


@dataclass(frozen=True)
class Check:
    """A check to run: a command (None: a manual check) and what it must show."""

    command: str | None
    expect: str

    def text(self) -> str:
        return f"{self.command} — {self.expect}" if self.command else self.expect

    def markdown(self) -> str:
        return f"`{self.command}` — {_md(self.expect)}" if self.command else _md(self.expect)

    def to_json(self) -> dict[str, Any]:
        return {"command": self.command, "expect": self.expect}


@dataclass(frozen=True)
class FleetUpdate:
    """A change to the fleet file: set `path` (dotted) to `value`."""

    path: str
    value: str
    note: str = ""

    def text(self) -> str:
        return f"set {self.path}: \"{self.value}\"" + (f" ({self.note})" if self.note else "")

    def markdown(self) -> str:
        return f"set `{self.path}: \"{self.value}\"`" + (f" ({_md(self.note)})"
                                                         if self.note else "")

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "value": self.value, "note": self.note}


@dataclass
class Step:
    order: int
    status: Status
    title: str
    components: list[Component]
    how: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    def to_json(self, target: Version) -> dict[str, Any]:
        return {"order": self.order, "status": self.status, "title": self.title,
                "components": [c.to_json(target) for c in self.components],
                "how": list(self.how), "checks": [c.to_json() for c in self.checks]}


@dataclass(frozen=True)
class Block:
    code: str
    message: str
    subject: str
    pointer: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "subject": self.subject,
                "path": self.pointer}


@dataclass
class SitePlan:
    site: str
    target: Version
    management_server: Component
    steps: list[Step] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fleet_updates: list[FleetUpdate] = field(default_factory=list)
    final_checks: list[Check] = field(default_factory=list)
    #: warnings and infos of the overrides over the target's appsettings.json
    base_problems: list[BaseProblem] = field(default_factory=list)

    @property
    def todo(self) -> list[Step]:
        return [s for s in self.steps if s.status == "todo"]

    @property
    def status(self) -> str:
        if self.blocks:
            return "blocked"
        if self.todo:
            return "todo"
        return "fleet-update" if self.fleet_updates else "done"

    def to_json(self) -> dict[str, Any]:
        return {"site": self.site, "status": self.status,
                "management_server": self.management_server.to_json(self.target),
                "steps": [s.to_json(self.target) for s in self.steps],
                "blocks": [b.to_json() for b in self.blocks], "notes": list(self.notes),
                "fleet_updates": [u.to_json() for u in self.fleet_updates],
                "final_checks": [c.to_json() for c in self.final_checks],
                "base_problems": [p.to_json() for p in self.base_problems]}


@dataclass
class UpgradePlan:
    target: Version
    sites: list[SitePlan]
    #: versions come from discovery (else from the fleet's declarations)
    discovered: bool
    fleet_path: str
    inventory_path: str | None

    @property
    def blocked(self) -> bool:
        return any(s.blocks for s in self.sites)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1, "target": self.target.name, "target_product": self.target.product,
            "versions_from": "discovery" if self.discovered else "fleet",
            "fleet": self.fleet_path, "inventory": self.inventory_path,
            "sites": [s.to_json() for s in self.sites],
            "summary": {
                "sites": len(self.sites),
                "blocked": sum(bool(s.blocks) for s in self.sites),
                "steps_todo": sum(len(s.todo) for s in self.sites),
                "steps_done": sum(len(s.steps) - len(s.todo) for s in self.sites),
            },
        }


# -- building --------------------------------------------------------------------------


@dataclass(frozen=True)
class Commands:
    """How to spell the check commands in the plan."""

    fleet: str
    inventory: str | None

    def gwctl(self, command: str, *extra: str) -> str:
        inv = self.inventory or "INVENTORY"
        args = ["gwctl", command, "-f", self.fleet, "-i", inv, *extra]
        return " ".join(shlex.quote(a) if a not in ("INVENTORY",) else a for a in args)


def _component(g: GatewayState) -> Component:
    source = "installed" if g.discovered is not None else (
        "unknown" if g.found is not None and g.found.error else
        ("declared" if g.explicit else "the management server's"))
    current = g.discovered if g.discovered is not None else (
        None if g.found is not None and g.found.error and g.found.installed is not False
        else g.declared)
    return Component("gateway", g.gateway.name, g.gateway.host, current, source, g.colocated)


def _download_page(state: SiteState) -> str:
    scheme = "https" if state.ms.encryption else "http"
    return f"{scheme}://{state.ms.host}/installation/Admin/default-en-US.htm"


def _uris_check(url: str, target: Version) -> Check:
    return Check(f"curl -s {shlex.quote(url + '/.well-known/uris')}",
                 f"answers 200 with \"ProductVersion\": \"{target.product}.*\"")


def plan_site(state: SiteState, target: Version, commands: Commands) -> SitePlan:
    ms = state.ms
    ms_current = state.ms_version
    ms_comp = Component("management_server", "management server", ms.host, ms_current,
                        "installed" if state.ms_discovered else "declared")
    plan = SitePlan(state.name, target, ms_comp)
    present = state.present
    colocated = [g for g in present if g.colocated]
    remote = [g for g in present if not g.colocated]
    _blocks(state, target, plan)
    _config_blocks_and_notes(state, target, plan)

    # step 1: the management server host, with its co-located gateway(s)
    comps = [ms_comp, *(_component(g) for g in colocated)]
    done = all(c.done(target) for c in comps)
    names = ", ".join(g.gateway.name for g in colocated)
    if ms_comp.done(target) and not done:
        title = (f"Upgrade the co-located gateway(s) {names} on {ms.host} to {target} "
                 f"(the management server is already on {target})")
        how = [f"run the XProtect VMS Products installer of {target} on {ms.host} again with "
               f"the API Gateway selected (a co-located gateway is upgraded with the "
               f"management server)"]
    else:
        title = (f"Upgrade the management server on {ms.host} "
                 + ("" if done else f"from {ms_current.name} ") + f"to {target}"
                 + (f" — its co-located gateway(s) {names} are upgraded with it" if names
                    else ""))
        how = [f"run the XProtect VMS Products installer of {target} on {ms.host}"]
        if not colocated and target.release_key >= COLOCATED_MANDATORY_SINCE.release_key:
            how.append("select the API Gateway in the installer: a gateway on the management "
                       f"server host is mandatory from {COLOCATED_MANDATORY_SINCE}")
    for g in colocated:
        if gateway_stage(g.version) == "prerelease":
            how.insert(0, f"first uninstall the 2021 R2 pre-release of the API Gateway on "
                          f"{g.gateway.host}")
    check_url = (colocated[0] if colocated else (present[0] if present else None))
    checks = []
    if check_url is not None:
        checks.append(_uris_check(_url(check_url), target))
    checks.append(Check(commands.gwctl("versions", "--site", state.name),
                        f"shows the management server{' and ' + names if names else ''} on "
                        f"{target}"))
    plan.steps.append(Step(1, "done" if done else "todo", title, comps, how, checks))

    # then every remote gateway, right after
    for i, g in enumerate(remote, start=2):
        comp = _component(g)
        how = []
        if gateway_stage(g.version) == "prerelease":
            how.append(f"uninstall the 2021 R2 pre-release of the API Gateway on "
                       f"{g.gateway.host} first")
        how.append(f"on {g.gateway.host}, run the API Gateway installer of {target} from the "
                   f"management server's download page ({_download_page(state)}), right "
                   f"after the management server upgrade")
        current = comp.current.name if comp.current else "an unknown version"
        since = "" if comp.done(target) else f"from {current} "
        checks = [_uris_check(_url(g), target),
                  Check(commands.gwctl("versions", "--site", state.name),
                        f"shows {g.gateway.name} on {target}")]
        plan.steps.append(Step(i, "done" if comp.done(target) else "todo",
                               f"Upgrade gateway {g.gateway.name} on {g.gateway.host} "
                               f"{since}to {target}", [comp], how, checks))

    # the fleet file follows the hosts
    if not ms.version.same_release(target):
        plan.fleet_updates.append(FleetUpdate(
            f"sites.{state.name}.management_server.version", target.name))
    for g in state.gateways:
        if g.explicit and not g.declared.same_release(target):
            plan.fleet_updates.append(FleetUpdate(
                f"sites.{state.name}.gateways.{g.gateway.name}.version", target.name,
                "or remove it: a gateway defaults to the management server's version"))
    plan.final_checks = [
        Check(commands.gwctl("check-versions", "--site", state.name), "exits 0"),
        Check(commands.gwctl("diff", "--site", state.name),
              f"shows only the expected re-rendering for {target}"),
        Check(commands.gwctl("apply", "--site", state.name),
              f"pushes the configuration rendered for {target}"),
    ]
    if plan.todo and len(plan.steps) > 1:
        plan.notes.append(
            "until every step is done, gwctl apply refuses gateways whose version differs "
            "from the management server's (override: --allow-version-mismatch)")
    return plan


def _url(g: GatewayState) -> str:
    return g.gateway.url


def _blocks(state: SiteState, target: Version, plan: SitePlan) -> None:
    minimum = GATEWAY_MIN
    if target.release_key < minimum.release_key:
        plan.blocks.append(Block(
            "below-minimum", f"target {target} is older than {minimum}: the API Gateway "
            f"requires XProtect VMS {minimum} or later", state.name))
    ms_current = state.ms_version
    if ms_current.release_key > target.release_key:
        plan.blocks.append(Block(
            "downgrade", f"the management server {state.ms.host} is on {ms_current.name}, "
            f"newer than the target {target}: downgrades are not supported",
            state.name, state.ms.pointer + "/version"))
    for g in state.present:
        c = _component(g)
        if c.current is not None and c.current.release_key > target.release_key:
            plan.blocks.append(Block(
                "downgrade", f"gateway {g.gateway.name} is on {c.current.name}, newer than "
                f"the target {target}: downgrades are not supported", g.id,
                g.version_pointer))
    if not state.present and target.release_key >= MANDATORY_GATEWAY_SINCE.release_key:
        plan.blocks.append(Block(
            "missing-gateway", f"site {state.name} has no API Gateway, mandatory from "
            f"{MANDATORY_GATEWAY_SINCE}: install one on the management server host "
            f"and declare it in the fleet first", state.name,
            state.site.pointer + "/gateways"))
    elif (state.present and not any(g.colocated for g in state.present)
          and target.release_key >= COLOCATED_MANDATORY_SINCE.release_key):
        plan.blocks.append(Block(
            "missing-colocated-gateway", f"site {state.name} has no API Gateway on the "
            f"management server host {state.ms.host}, mandatory from "
            f"{COLOCATED_MANDATORY_SINCE}: select the API Gateway when upgrading the "
            f"management server and declare it in the fleet (same host, or colocated: true) "
            f"before planning", state.name, state.site.pointer + "/gateways"))


def _at(gw: Gateway, version: Version) -> Gateway:
    return dataclasses.replace(gw, version=version)


def _config_blocks_and_notes(state: SiteState, target: Version, plan: SitePlan) -> None:
    notes: dict[str, list[str]] = {}
    for g in state.present:
        gw = g.gateway
        for bp in lint_gateway(state.ms.url, gw, g.version, target):
            if bp.level == "error":
                plan.blocks.append(Block(bp.code, f"gateway {gw.name}: {bp.message}", gw.id,
                                         bp.pointer))
            else:
                plan.base_problems.append(bp)
        at_target = _at(gw, target)
        rendered_target = render_appsettings(at_target)
        for r in missing(requirements(at_target, rendered_target), target):
            if r.raw:
                plan.blocks.append(Block(
                    "raw-shape", f"gateway {gw.name}: its raw appsettings write {r.what} "
                    f"({r.available()}), which {target} does not read; gwctl does not "
                    f"rewrite raw keys: model it under settings (e.g. webrtc.ice_servers) or "
                    f"remove it", gw.id, gw.setting_pointer_in_file(r.pointer)))
            else:
                plan.blocks.append(Block(
                    "feature-missing", f"gateway {gw.name}: the configuration uses {r.what} "
                    f"({r.available()}), which {target} lacks", gw.id,
                    gw.setting_pointer_in_file(r.pointer)))
        # shapes gwctl re-renders for the target: a note, not a block
        now = rendered_requirements(gw, render_appsettings(gw))
        new_shapes = [r.what for r in rendered_requirements(at_target, rendered_target)
                      if not r.raw and r.met_by(target)]
        for r in now:
            if r.raw or r.met_by(target):
                continue
            text = (f"{r.what}, rendered for {gw.version.name}, is re-rendered for {target}"
                    + (f" as {' and '.join(new_shapes)}" if new_shapes else "")
                    + f" once the fleet declares {target} (then gwctl diff / apply)")
            notes.setdefault(text, []).append(gw.name)
        ice = (gw.settings.get("webrtc") or {}).get("ice_servers") or []
        single_now = any(r.any_of == ("webrtc-stun-single",) and not r.raw for r in now)
        if len(ice) > 1 and single_now and not supports("webrtc-stun-single", target):
            notes.setdefault(
                f"the single-STUN shape carries only the first of the {len(ice)} declared "
                f"ICE servers; for {target} all of them are rendered", []).append(gw.name)
    for text, gws in notes.items():
        plan.notes.append(f"{text} (gateways: {', '.join(gws)})")


def plan_upgrade(states: Sequence[SiteState], target: Version, *, fleet_path: str,
                 inventory_path: str | None, discovered: bool) -> UpgradePlan:
    commands = Commands(fleet_path, inventory_path)
    sites = [plan_site(s, target, commands) for s in states]
    return UpgradePlan(target, sites, discovered, fleet_path, inventory_path)


# -- presenting ------------------------------------------------------------------------


def _mark(status: str) -> str:
    return {"done": "[done]", "todo": "[todo]"}.get(status, f"[{status}]")


def render_text(plan: UpgradePlan) -> str:
    out: list[str] = []
    src = ("installed versions (discovered over the inventory)" if plan.discovered
           else "versions declared in the fleet (no inventory: nothing was discovered)")
    out.append(f"upgrade plan to {plan.target} ({plan.target.product}); {src}")
    for s in plan.sites:
        ms = s.management_server
        current = ms.current.name if ms.current else "?"
        out.append("")
        out.append(f"site {s.site}: management server {ms.host} on {current} ({ms.source})"
                   f" — {s.status}")
        if s.blocks:
            out.append("  BLOCKED:")
            for b in s.blocks:
                out.append(f"    x {b.message} [{b.code}]")
        todo = len(s.todo)
        out.append(f"  steps ({todo} to do, {len(s.steps) - todo} done):")
        for step in s.steps:
            out.append(f"    {step.order}. {_mark(step.status)} {step.title}")
            if step.status == "todo":
                for h in step.how:
                    out.append(f"         how: {h}")
                for c in step.checks:
                    out.append(f"         then check: {c.text()}")
        if s.fleet_updates:
            out.append("  fleet file:")
            for u in s.fleet_updates:
                out.append(f"    - {u.text()}")
        if s.todo or s.fleet_updates:
            out.append("  when every step is done:")
            for c in s.final_checks:
                out.append(f"    - {c.text()}")
        if s.base_problems:
            out.append(f"  overrides over {plan.target}'s appsettings.json:")
            for bp in s.base_problems:
                out.append(f"    {bp.level}: gateway {bp.gateway}: {bp.message} [{bp.code}]")
        for n in s.notes:
            out.append(f"  note: {n}")
    blocked = sum(bool(s.blocks) for s in plan.sites)
    todo = sum(len(s.todo) for s in plan.sites)
    out.append("")
    out.append(f"{len(plan.sites)} site(s): {todo} step(s) to do, {blocked} blocked")
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(plan: UpgradePlan) -> str:
    src = ("installed versions, discovered over the inventory "
           f"`{plan.inventory_path}`" if plan.discovered
           else "versions declared in the fleet (not discovered)")
    out = [f"# Upgrade plan: XProtect VMS and API Gateways to {plan.target}", "",
           f"Generated by `gwctl upgrade-plan` from `{plan.fleet_path}`; {src}.", "",
           "Order (vendor manual, *Upgrade › Upgrading the API Gateway*): the management "
           "server host first (its co-located gateway is upgraded with it), then every "
           "other gateway of the site right after.", ""]
    out.append("| Site | Status | Steps to do | Blocking issues |")
    out.append("|---|---|---|---|")
    for s in plan.sites:
        out.append(f"| `{s.site}` | {s.status} | {len(s.todo)} | {len(s.blocks)} |")
    for s in plan.sites:
        ms = s.management_server
        out += ["", f"## Site `{s.site}`", "",
                f"Management server `{ms.host}`: "
                f"{ms.current.name if ms.current else 'unknown'} ({ms.source}) → "
                f"{plan.target}.", ""]
        if s.blocks:
            out += ["### Blocking issues", ""]
            out += [f"- **{b.code}**: {_md(b.message)}" for b in s.blocks]
            out.append("")
        out += ["### Steps", "",
                "| # | Status | Step | Current → target |", "|---|---|---|---|"]
        for step in s.steps:
            current = ", ".join(
                f"{c.name}: {c.current.name if c.current else '?'}" for c in step.components)
            status = "done" if step.status == "done" else "**to do**"
            out.append(f"| {step.order} | {status} | {_md(step.title)} | "
                       f"{_md(current)} → {plan.target} |")
        for step in s.steps:
            if step.status == "done":
                continue
            out += ["", f"#### Step {step.order}: {step.title}", ""]
            out += [f"- [ ] {h}" for h in step.how]
            out += ["", "Checks before the next step:", ""]
            out += [f"- [ ] {c.markdown()}" for c in step.checks]
        if s.fleet_updates:
            out += ["", "### Fleet file changes", ""]
            out += [f"- [ ] {u.markdown()}" for u in s.fleet_updates]
        if s.todo or s.fleet_updates:
            out += ["", "### Final checks", ""]
            out += [f"- [ ] {c.markdown()}" for c in s.final_checks]
        if s.base_problems:
            out += ["", f"### Overrides over {plan.target}'s appsettings.json", ""]
            out += [f"- **{bp.level}** `{bp.gateway}`: {_md(bp.message)} ({bp.code})"
                    for bp in s.base_problems]
        if s.notes:
            out += ["", "### Notes", ""]
            out += [f"- {_md(n)}" for n in s.notes]
    return "\n".join(out) + "\n"

