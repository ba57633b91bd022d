"""Show, per site, the versions the fleet declares next to the versions installed, and
the version rules' findings (``gwctl rules`` lists them: version-*).

Discovery only reads. Each gateway host answers the ``read_versions`` operation over its
transport: the API Gateway's DisplayVersion in the installed-products registry, and the
management server's ``ServerConfig.xml`` ``/server/version`` when that file is on the host
(which also proves the gateway co-located). The management server's version also comes
from ``GET {gateway}/.well-known/uris`` (``ProductVersion``, no credentials). Hosts are
contacted concurrently (--workers) with bounded timeouts; an unreachable host is reported
and never stops the others.

Exit 0 when the report was made, even with findings (``gwctl check-versions`` is the
gate); 1 when the fleet or the inventory cannot be read."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gwctl.cli.common import add_fleet_option
from gwctl.cli.deploy_common import add_inventory_options, add_limit_option, add_workers_option
from gwctl.errors import EXIT_FAILED, EXIT_OK, UsageError
from gwctl.output.reporters import FORMATS

if TYPE_CHECKING:
    from gwctl.fleet.model import Fleet
    from gwctl.hosts.inventory import InventoryHost
    from gwctl.problems import Problem
    from gwctl.versions.discovery import Discovery, HttpSettings
    from gwctl.versions.state import GatewayState, SiteState


def add_discovery_options(p: argparse.ArgumentParser, *, inventory_required: bool) -> None:
    """Options shared by versions, check-versions and upgrade-plan."""
    add_inventory_options(
        p, required=inventory_required,
        help="Ansible inventory (host names are gateway names); "
             + ("discovery reads the installed versions through it" if inventory_required
                else "with it, installed versions are discovered; without it, the "
                     "declared versions are used"))
    p.add_argument("--site", action="append", metavar="NAME",
                   help="only this site (repeatable)")
    add_limit_option(p)
    add_workers_option(p)
    p.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS",
                   help="HTTP timeout for /.well-known/uris (default 5; WinRM timeouts come "
                        "from the inventory)")
    p.add_argument("--insecure-tls", action="store_true",
                   help="do not verify the gateways' TLS certificates when reading "
                        "/.well-known/uris")


def load_fleet(path: str) -> tuple[Fleet | None, list[Problem]]:
    """Schema-check and build the fleet (version commands need no other rule)."""
    from gwctl import api
    from gwctl.problems import has_errors

    result = api.load(path)
    if result.fleet is None or has_errors(result.problems):
        return None, result.problems
    return result.fleet, result.problems


def http_settings(ns: argparse.Namespace) -> HttpSettings:
    from gwctl.versions.discovery import HttpSettings

    if ns.timeout <= 0:
        raise UsageError("--timeout must be positive")
    return HttpSettings(connect_timeout_s=min(3.0, ns.timeout), timeout_s=ns.timeout,
                        verify_tls=not ns.insecure_tls)


@dataclass
class Scope:
    """What a version command looks at: --site and --limit resolved against the fleet."""

    #: site names, None for every site
    sites: list[str] | None
    #: the gateway ids --limit chose (only their hosts are contacted), None for all
    only: set[str] | None
    hosts: list[InventoryHost]


def resolve_scope(ns: argparse.Namespace, fleet: Fleet) -> Scope:
    from gwctl.hosts.inventory import load_inventory
    from gwctl.hosts.selection import choose

    for name in ns.site or ():
        fleet.site(name)
    hosts = (load_inventory(ns.inventory, vault_password_file=ns.vault_password_file,
                             no_ntlm=ns.no_ntlm,
                             configuration_name=ns.configuration_name)
             if ns.inventory else [])
    if not ns.limit:
        return Scope(list(ns.site) if ns.site else None, None, hosts)
    chosen = choose(fleet, hosts, sites=ns.site or (), limit=ns.limit)
    return Scope(list(dict.fromkeys(gw.site_name for gw in chosen)),
                 {gw.id for gw in chosen}, hosts)


def run_discovery(ns: argparse.Namespace, fleet: Fleet, scope: Scope) -> Discovery:
    from gwctl.versions.discovery import discover

    return discover(fleet, scope.hosts, sites=scope.sites, workers=ns.workers,
                    http=http_settings(ns), only=scope.only)


def version_problems(fleet: Fleet, discovery: Discovery | None,
                     scope: Scope) -> list[Problem]:
    """The version rules' problems, with the fleet's ``rules:`` settings and inline
    suppressions applied; with --limit, those about the chosen gateways and their sites."""
    from gwctl.hosts.selection import split_problems
    from gwctl.rules.runner import validate_versions

    problems = validate_versions(fleet, discovery, sites=scope.sites)
    if scope.only is None:
        return problems
    chosen = [gw for gw in fleet.gateways() if gw.id in scope.only]
    return split_problems(problems, chosen)[0]


def _gw_row(g: GatewayState) -> tuple[str, ...]:
    declared = g.declared.name + ("" if g.explicit else " (site)")
    f = g.found
    if f is None:
        installed = "-"
    elif f.installed is False:
        installed = "not installed"
    elif g.discovered is not None:
        installed = g.discovered.name + (f" ({g.discovered.full})"
                                         if g.discovered.build is not None else "")
    else:
        installed = "unknown"
    mark = ""
    if g.discovered is not None and not g.discovered.same_release(g.declared):
        mark = "≠ declared"
    return (g.gateway.name, g.gateway.host, "yes" if g.colocated else "no", declared,
            installed, mark)


def print_text(states: Sequence[SiteState], problems: Sequence[Problem],
               discovery: Discovery | None) -> None:
    from gwctl.output.reporters import report_text

    out = sys.stdout
    for s in states:
        ms = s.ms
        reading = s.ms_reading
        found = (f"installed {_full(reading.version)} from {reading.describe()}"
                 if reading is not None and reading.version is not None
                 else "installed version unknown" if s.found is not None else "")
        out.write(f"site {s.name}: management server {ms.host} declared {ms.version}"
                  + (f", {found}" if found else "") + "\n")
        head = ("GATEWAY", "HOST", "CO-LOCATED", "DECLARED", "INSTALLED", "")
        rows = [head, *(_gw_row(g) for g in s.gateways)]
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        for r in rows:
            out.write("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))
                      .rstrip() + "\n")
        for g in s.gateways:
            if g.found is not None and g.found.error:
                out.write(f"  ! {g.gateway.name}: {g.found.error}\n")
        if not s.gateways:
            out.write("  (no gateways)\n")
    if discovery is not None:
        gws = sum(len(sd.gateways) for sd in discovery.sites.values())
        out.write(f"discovered {gws} gateway host(s) in {discovery.elapsed_s:.2f} s\n")
    out.write("\n")
    report_text(sorted(problems, key=lambda p: p.sort_key()), out,
                ok_message="no version problems")


def print_markdown(states: Sequence[SiteState], problems: Sequence[Problem]) -> None:
    """One table per site for a pull-request comment, then the findings' table."""
    from gwctl.output.reporters import md_cell, report_markdown

    out = sys.stdout
    for s in states:
        reading = s.ms_reading
        installed = (_full(reading.version) if reading is not None
                     and reading.version is not None else "unknown")
        out.write(f"#### site `{md_cell(s.name)}`: management server `{md_cell(s.ms.host)}` "
                  f"declared {s.ms.version}, installed {installed}\n\n")
        if not s.gateways:
            out.write("(no gateways)\n\n")
            continue
        out.write("| gateway | host | co-located | declared | installed | |\n"
                  "|---|---|---|---|---|---|\n")
        for g in s.gateways:
            name, host, colocated, declared, inst, mark = _gw_row(g)
            if g.found is not None and g.found.error:
                mark = (mark + " " if mark else "") + f"⚠️ {g.found.error}"
            out.write(f"| `{md_cell(name)}` | `{md_cell(host)}` | {colocated} | "
                      f"{md_cell(declared)} | {md_cell(inst)} | {md_cell(mark)} |\n")
        out.write("\n")
    report_markdown(sorted(problems, key=lambda p: p.sort_key()), out,
                    ok_message="no version problems")


def _full(v: Any) -> str:
    return f"{v.name} ({v.full})" if v.build is not None else str(v.name)


def states_json(states: Sequence[SiteState]) -> list[dict[str, Any]]:
    out = []
    for s in states:
        reading = s.ms_reading
        out.append({
            "site": s.name,
            "management_server": {
                "host": s.ms.host, "declared": s.ms.version.name,
                "discovered": reading.version.name if reading and reading.version else None,
                "product_version": reading.raw if reading else None,
                "source": reading.source if reading else None,
                "readings": [r.to_json() for r in s.found.readings] if s.found else [],
                "effective": s.ms_version.name,
            },
            "gateways": [{
                "gateway": g.gateway.name, "id": g.id, "host": g.gateway.host,
                "inventory_host": g.found.host if g.found else None,
                "colocated": g.colocated, "colocated_reason": g.colocation.why,
                "declared": g.declared.name, "declared_explicitly": g.explicit,
                "discovered": g.discovered.name if g.discovered else None,
                "product_version": (g.found.reading.raw
                                    if g.found and g.found.reading else None),
                "installed": g.installed,
                "effective": g.version.name,
                "error": g.found.error if g.found else None,
                "warnings": list(g.found.warnings) if g.found else [],
            } for g in s.gateways],
        })
    return out


def register(p: argparse.ArgumentParser) -> None:
    add_fleet_option(p)
    add_discovery_options(p, inventory_required=True)
    p.add_argument("--output", choices=FORMATS, default="text",
                   help="report format: text, json (stable), github (annotations), sarif "
                        "(code scanning: the findings) or markdown (a pull-request comment: "
                        "the version table and the findings)")


def execute(ns: argparse.Namespace) -> int:
    from gwctl.cli.common import report
    from gwctl.output.reporters import json_document
    from gwctl.versions.state import site_states

    fleet, load_problems = load_fleet(ns.fleet)
    if fleet is None:
        report(load_problems, ns.output, ok_message="")
        return EXIT_FAILED
    scope = resolve_scope(ns, fleet)
    discovery = run_discovery(ns, fleet, scope)
    problems = version_problems(fleet, discovery, scope)
    states = site_states(fleet, discovery, scope.sites)
    if ns.output == "json":
        ordered = sorted(problems, key=lambda p: p.sort_key())
        doc = json_document(ordered, sites=states_json(states),
                            discovery={"elapsed_ms": round(discovery.elapsed_s * 1000, 1),
                                       "workers": discovery.workers})
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    elif ns.output == "markdown":
        print_markdown(states, problems)
    elif ns.output in ("sarif", "github"):
        # the formats code scanning and annotations read carry the findings only; the
        # exit code stays 0 here (check-versions is the gate)
        report(problems, ns.output, ok_message="")
    else:
        print_text(states, problems, discovery)
    return EXIT_OK
