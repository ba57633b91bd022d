"""After an XProtect upgrade: read what each gateway host now runs and put back what the
installer reset.

The manual promises only that appsettings.Production.json survives an update; an
installer may replace nlog.config by the release's default, and a repair may remove or
rewrite the overrides. `gwctl reconcile` re-reads every selected host's installed
gateway version (as `gwctl versions` does), reports per gateway what is no longer what
gwctl wrote -- nlog.config replaced, the overrides file missing or changed, an
interrupted activation -- and then re-applies the fleet through `gwctl apply`'s safe
path (site and host locks, backups, atomic writes, recycle, health check, rollback,
version gate, maintenance windows, audit record with action "reconcile").
With --check it only reports: exit 2 when something would be reconciled, 0 when nothing,
1 when a host cannot be read. Without --check the exit code is apply's."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from gwctl.cli.change_policy import add_audit_options, add_window_option
from gwctl.cli.deploy_common import add_selection_options
from gwctl.errors import EXIT_DRIFT, EXIT_FAILED, EXIT_OK

if TYPE_CHECKING:
    from gwctl.deploy.gateway_plan import GatewayPlan
    from gwctl.fleet.model import Gateway


def register(p: argparse.ArgumentParser) -> None:
    add_selection_options(p)
    p.add_argument("--check", action="store_true",
                   help="only report what the upgrade reset; change nothing")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--health-timeout", type=float, default=30.0, metavar="SECONDS",
                   help="how long a gateway may take to answer after a change (default 30)")
    p.add_argument("--allow-version-mismatch", action="store_true",
                   help="as apply: push even where the version gate refuses (e.g. a "
                        "gateway upgraded before its management server)")
    p.add_argument("--lock-timeout", type=float, default=0.0, metavar="SECONDS",
                   help="as apply: wait this long for another run's site lock")
    add_window_option(p)
    add_audit_options(p)


def findings(plan: GatewayPlan) -> list[str]:
    """What is no longer as gwctl wrote it, in an operator's words."""
    from gwctl.render.files import APPSETTINGS, NLOG

    out = []
    if plan.pending is not None:
        out.append(f"an interrupted activation ({plan.pending.describe()}); apply "
                   "completes it")
    for f in plan.files:
        if f.action == "unchanged":
            continue
        if f.name == NLOG:
            out.append("nlog.config: not what gwctl wrote (an installer may have replaced "
                       "it by the release default); apply restores it" if f.action == "update"
                       else "nlog.config: missing; apply writes it")
        elif f.name == APPSETTINGS:
            out.append("appsettings.Production.json: missing (the gateway runs the "
                       "release's defaults); apply writes it" if f.action == "create" else
                       "appsettings.Production.json: changed since gwctl wrote it; apply "
                       "restores it")
        else:
            out.append(f"{f.name}: {f.action}")
    return out


def execute(ns: argparse.Namespace) -> int:
    from gwctl.cli.deploy_common import plan_selection
    from gwctl.deploy.saved_plan import installed_versions
    from gwctl.hosts.targets import open_transport

    found = plan_selection(ns)
    if found is None:
        return EXIT_FAILED
    sel, pairs = found
    versions = installed_versions(sel.targets, open_transport, ns.workers)
    todo = errors = 0
    for gw, plan in pairs:
        print(_headline(gw, plan, versions.get(gw.id)))
        if plan.error:
            errors += 1
            print(f"  cannot be read: {plan.error}")
            continue
        items = findings(plan)
        todo += bool(items)
        for item in items:
            print(f"  {item}")
    if not todo:
        print("nothing to reconcile" + (f" ({errors} host(s) unreadable)" if errors else ""))
        return EXIT_FAILED if errors else EXIT_OK
    print(f"{todo} gateway(s) to reconcile")
    if ns.check:
        return EXIT_FAILED if errors else EXIT_DRIFT
    return _apply(ns)


def _headline(gw: Gateway, plan: GatewayPlan, installed: str | None) -> str:
    from gwctl.versions.release import Version

    text = f"{gw.id} ({plan.host}): installed {installed or 'unreadable'}"
    if installed is not None:
        try:
            release = Version.parse(installed)
        except Exception:  # an unparsable registry value: shown as read
            return text
        if release.release_key != gw.version.release_key:
            text += (f"; the fleet says {gw.version.name}: update its version after the "
                     "upgrade")
    return text


def _apply(ns: argparse.Namespace) -> int:
    """The re-apply: `gwctl apply` itself, with reconcile's selection and options."""
    from gwctl.cli import cmd_apply

    parser = argparse.ArgumentParser(add_help=False)
    cmd_apply.register(parser)
    apply_ns = parser.parse_args(["-f", ns.fleet, "-i", ns.inventory])
    for name, value in vars(ns).items():
        if hasattr(apply_ns, name) and name not in ("plan",):
            setattr(apply_ns, name, value)
    apply_ns.audit_action = "reconcile"
    return cmd_apply.execute(apply_ns)
