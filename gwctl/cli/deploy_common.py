"""What diff, apply, import and rollback share: fleet + inventory -> targets."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gwctl.cli.common import add_fleet_option

if TYPE_CHECKING:
    from gwctl.deploy.gateway_plan import GatewayPlan
    from gwctl.fleet.model import Fleet, Gateway
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


def add_workers_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=int, default=32, metavar="N",
                   help="hosts contacted at the same time (default 32)")


def add_selection_options(p: argparse.ArgumentParser) -> None:
    add_fleet_option(p)
    add_inventory_options(p)
    group = p.add_mutually_exclusive_group()
    group.add_argument("--gateway", metavar="NAME", help="only this gateway (NAME or SITE/NAME)")
    group.add_argument("--site", metavar="NAME", help="only this site's gateways")
    add_workers_option(p)


@dataclass
class Selection:
    fleet: Fleet
    targets: list[Target]
    missing: list[tuple[Gateway, str]]
    problems: list[Problem]


def select(ns: argparse.Namespace) -> Selection | None:
    """Validate the fleet, read the inventory, pair; None (after reporting) on errors."""
    from gwctl import api
    from gwctl.cli.common import report
    from gwctl.hosts.inventory import load_inventory
    from gwctl.hosts.targets import pair, select_gateways
    from gwctl.problems import has_errors

    result = api.validate(ns.fleet)
    if result.fleet is None or has_errors(result.problems):
        report(result.problems, "text", ok_message="")
        return None
    gateways = select_gateways(result.fleet, gateway=ns.gateway, site=ns.site)
    hosts = load_inventory(ns.inventory, vault_password_file=ns.vault_password_file,
                           no_ntlm=ns.no_ntlm)
    targets, missing = pair(result.fleet, gateways, hosts)
    return Selection(result.fleet, targets, missing, result.problems)


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
