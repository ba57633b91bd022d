"""What diff, apply, import and rollback share: fleet + inventory -> targets."""

from __future__ import annotations

import argparse
import shutil
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from gwctl.cli.common import add_fleet_option
from gwctl.errors import EXIT_DRIFT, EXIT_FAILED, EXIT_OK, InputError

if TYPE_CHECKING:
    from gwctl.deploy.gateway_plan import GatewayPlan
    from gwctl.fleet.model import Fleet, Gateway
    from gwctl.hosts.inventory import InventoryHost
    from gwctl.hosts.targets import Target
    from gwctl.problems import Problem


def add_inventory_options(p: argparse.ArgumentParser, *, required: bool = True,
                          help: str = "Ansible inventory (INI or YAML); host names are "
                                      "gateway names") -> None:
    p.add_argument("-i", "--inventory", required=required, metavar="PATH", help=help)
    p.add_argument("--vault-password-file", metavar="FILE",
                   help="Ansible Vault password file (default: $ANSIBLE_VAULT_PASSWORD_FILE)")
    p.add_argument("--no-ntlm", action="store_true",
                   help="refuse NTLM: hosts whose transport is or falls back to ntlm fail "
                        "with a message instead of logging on (Kerberos or certificates only)")
    p.add_argument("--configuration-name", metavar="NAME",
                   help="connect to this PowerShell session configuration (the JEA endpoint "
                        "of 'gwctl host-setup') over PSRP and call only its functions; "
                        "overrides ansible_psrp_configuration_name; never falls back to WinRS "
                        "or the default endpoint (docs/jea.md)")


def workers_count(text: str) -> int:
    """argparse type of --workers: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_workers_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=workers_count, default=32, metavar="N",
                   help="hosts contacted at the same time (default 32, at least 1)")


def add_limit_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--limit", metavar="PATTERN",
                   help="only the gateways this Ansible host pattern selects: inventory "
                        "hosts and groups, fleet sites, globs, '!' exclusions, '&' "
                        "intersections, e.g. 'north:!north-gw3'")


def add_selection_options(p: argparse.ArgumentParser, *, required: bool = True) -> None:
    add_fleet_option(p, required=required)
    add_inventory_options(p, required=required)
    p.add_argument("--gateway", action="append", default=[], metavar="NAME",
                   help="this gateway (NAME or SITE/NAME); repeatable, adds up with --site")
    p.add_argument("--site", action="append", default=[], metavar="NAME",
                   help="this site's gateways; repeatable")
    add_limit_option(p)
    add_workers_option(p)


@dataclass
class Selection:
    fleet: Fleet
    targets: list[Target]
    missing: list[tuple[Gateway, str]]
    problems: list[Problem]
    #: errors elsewhere in the fleet: reported, not blocking the selection
    outside: list[Problem] = field(default_factory=list)
    #: the whole inventory (site locks live on a site's anchor host, selected or not)
    hosts: list[InventoryHost] = field(default_factory=list)


def select(ns: argparse.Namespace) -> Selection | None:
    """Validate the fleet, read the inventory, choose and pair; None (after reporting)
    when errors concern the selected gateways."""
    from gwctl import api
    from gwctl.cli.common import report
    from gwctl.hosts.inventory import load_inventory
    from gwctl.hosts.selection import choose, split_problems
    from gwctl.hosts.targets import pair
    from gwctl.problems import has_errors

    result = api.validate(ns.fleet)
    if result.fleet is None:
        report(result.problems, "text", ok_message="")
        return None
    hosts = load_inventory(ns.inventory, vault_password_file=ns.vault_password_file,
                           no_ntlm=ns.no_ntlm,
                           configuration_name=ns.configuration_name)
    gateways = choose(result.fleet, hosts, gateways=ns.gateway, sites=ns.site,
                      limit=ns.limit)
    inside, outside = split_problems(result.problems, gateways)
    if has_errors(inside):
        report(inside + outside, "text", ok_message="")
        return None
    if outside:
        report_outside(outside)
    targets, missing = pair(result.fleet, gateways, hosts)
    return Selection(result.fleet, targets, missing, inside, outside, hosts)


def report_outside(problems: Sequence[Problem]) -> None:
    """Errors outside the selection, on stderr: they do not block it, but nobody should
    miss them."""
    from gwctl.output.reporters import report_text

    print(f"note: {len(problems)} error(s) outside the selected gateways, not blocking "
          "this run:", file=sys.stderr)
    report_text(sorted(problems, key=lambda p: p.sort_key()), sys.stderr)


def plan_selection(ns: argparse.Namespace
                   ) -> tuple[Selection, list[tuple[Gateway, GatewayPlan]]] | None:
    """`select`, then plan every selected gateway concurrently: (gateway, plan) pairs in
    selection order, then those without an inventory host, whose plan carries why.
    None (after reporting) when the selection failed."""
    from gwctl.deploy.fleet_plan import Planner
    from gwctl.deploy.gateway_plan import GatewayPlan
    from gwctl.fleet.secrets import SecretResolver

    sel = select(ns)
    if sel is None:
        return None
    planner = Planner(sel.fleet, SecretResolver(sel.fleet.base_dir), workers=ns.workers)
    plans = planner.plan_all(sel.targets, progress_printer(len(sel.targets)))
    pairs = [(t.gateway, p) for t, p in zip(sel.targets, plans, strict=True)]
    pairs += [(gw, GatewayPlan(gw.id, "-", error=why)) for gw, why in sel.missing]
    return sel, pairs


def plan_exit_code(plans: Sequence[GatewayPlan], detailed: bool) -> int:
    """1 when a gateway could not be planned or its plan cannot take effect (a host
    condition apply cannot fix, `GatewayPlan.blockers`); with --detailed-exitcode 2 on
    drift. Blocked is not 2: a pipeline that applies on 2 would run an apply that must
    refuse."""
    if any(p.error or p.blockers for p in plans):
        return EXIT_FAILED
    if detailed and any(p.changed for p in plans):
        return EXIT_DRIFT
    return EXIT_OK


def inventory_host(ns: argparse.Namespace, name: str) -> InventoryHost:
    """The inventory host `name` (commands that work on one host)."""
    from gwctl.hosts.inventory import load_inventory

    hosts = load_inventory(ns.inventory, vault_password_file=ns.vault_password_file,
                           no_ntlm=ns.no_ntlm,
                           configuration_name=ns.configuration_name)
    for host in hosts:
        if host.name == name:
            return host
    raise InputError(f"no host {name!r} in the inventory", file=ns.inventory)


def progress_printer(total: int) -> Callable[[GatewayPlan], None]:
    """A one-line progress display on a terminal; silent when stderr is not one."""
    done = [0]

    def show(item: GatewayPlan) -> None:
        done[0] += 1
        if sys.stderr.isatty():
            name = item.gateway
            sys.stderr.write(f"\r[{done[0]}/{total}] {name:<40.40}")
            if done[0] == total:
                sys.stderr.write("\r" + " " * 60 + "\r")
            sys.stderr.flush()

    return show


class StepDisplay:
    """What apply's gateways are doing now. On a terminal (stderr): one live status line,
    each gateway in flight with its step (recycling, waiting for the health check, ...),
    redrawn in place, never in the way of the lines printed above it. Otherwise plain
    lines, one per step, to `plain` -- what a CI log keeps."""

    def __init__(self, plain: TextIO, *, live: bool | None = None) -> None:
        self.plain = plain
        self.live = sys.stderr.isatty() if live is None else live
        self._lock = threading.Lock()
        self._doing: dict[str, str] = {}

    def step(self, gateway: str, doing: str) -> None:
        with self._lock:
            if self.live:
                self._doing[gateway] = doing
                self._draw()
            else:
                # deeper than the outcome lines ("  site/gw: changed") they lead to
                print(f"    {gateway}: {doing}", file=self.plain, flush=True)

    def line(self, text: str, *, finished: str | None = None) -> None:
        """Print `text` as a line of its own; `finished` names a gateway that is done."""
        with self._lock:
            if finished is not None:
                self._doing.pop(finished, None)
            if self.live:
                sys.stderr.write("\r\033[K")
                sys.stderr.flush()
            print(text, file=self.plain, flush=True)
            if self.live:
                self._draw()

    def close(self) -> None:
        with self._lock:
            self._doing.clear()
            if self.live:
                sys.stderr.write("\r\033[K")
                sys.stderr.flush()

    def _draw(self) -> None:
        if not self._doing:
            sys.stderr.write("\r\033[K")
        else:
            width = max(20, shutil.get_terminal_size().columns - 1)
            text = "; ".join(f"{g}: {d}" for g, d in self._doing.items())
            sys.stderr.write("\r\033[K" + text[:width])
        sys.stderr.flush()
