"""Prove each selected gateway works for the people using it.

Per gateway, each check prints a line -- PASS, FAIL or SKIP, its time, and for a failure
what to do: well-known (answers, with the management server's product version the fleet
declares), gateway-version (the installed gateway, read over WinRM, on its management
server's release), token (an
IDP token for --health-user; password from $GWCTL_HEALTH_PASSWORD, never printed),
rest-read (GET /rest/v1/sites), one cors line per declared origin (real preflights for the
calls a browser client makes, judged as a browser judges them, and a simple request), a
check that an undeclared origin is refused, webrtc-signalling (session, ICE candidates,
answer), webrtc-ws-signalling (the same over {api}/ws/webrtc/v1, JSON-RPC; skipped before
2025 R1), and one ice line per configured STUN/TURN server (STUN binding; TURN allocation
with the configured credentials). Without --health-user the token, REST and signalling
checks are skipped. A host's inventory variables gwctl_health_user and
gwctl_health_password (Ansible Vault welcome) win over --health-user and the environment.
Exit 0 when no check failed, 1 otherwise; --output json is stable."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gwctl.cli.deploy_common import add_selection_options
from gwctl.errors import EXIT_FAILED, EXIT_OK

if TYPE_CHECKING:
    from gwctl.fleet.model import Fleet
    from gwctl.hosts.targets import Target
    from gwctl.verify.result import GatewayReport
    from gwctl.verify.run import VerifyOptions


def add_verify_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--health-user", metavar="USER",
                   help="XProtect basic user for the token, REST and signalling checks "
                        "(password from $GWCTL_HEALTH_PASSWORD)")
    p.add_argument("--client-id", default="GrantValidatorClient", metavar="ID",
                   help="IDP client id for the token (default GrantValidatorClient)")
    p.add_argument("--insecure", action="store_true",
                   help="do not verify the gateways' (and stuns:/turns: servers') TLS certificates")


def register(p: argparse.ArgumentParser) -> None:
    add_selection_options(p)
    add_verify_options(p)
    p.add_argument("--output", choices=("text", "json"), default="text")


def options_from(ns: argparse.Namespace) -> VerifyOptions:
    from gwctl.output import redact
    from gwctl.verify.run import VerifyOptions

    password = os.environ.get("GWCTL_HEALTH_PASSWORD")
    if password:
        redact.register(password)
    return VerifyOptions(user=ns.health_user, password=password, client_id=ns.client_id,
                         verify_tls=not ns.insecure)


def for_host(opts: VerifyOptions, target: Target) -> VerifyOptions:
    """`opts` with the host's own health credentials (`health_credentials`)."""
    import dataclasses

    from gwctl.deploy.health import health_credentials

    user, password = health_credentials(target.host.vars, opts.user, opts.password)
    if (user, password) == (opts.user, opts.password):
        return opts
    return dataclasses.replace(opts, user=user, password=password)


def run_verify(fleet: Fleet, targets: Sequence[Target], opts: VerifyOptions,
               workers: int) -> list[GatewayReport]:
    from gwctl.fleet.secrets import SecretResolver
    from gwctl.hosts.fanout import fan_out
    from gwctl.verify.run import verify_gateway

    resolver = SecretResolver(fleet.base_dir)

    def one(i: int) -> GatewayReport:
        report, _ = verify_gateway(fleet, targets[i], resolver, for_host(opts, targets[i]))
        return report

    return fan_out(one, len(targets), workers=workers)


def print_reports(reports: Sequence[GatewayReport], output: str) -> None:
    from gwctl.verify.run import document

    if output == "json":
        sys.stdout.write(json.dumps(document(list(reports)), indent=2) + "\n")
        return
    for report in reports:
        print(f"{report.gateway} ({report.url}): {'ok' if report.ok else 'FAILED'}")
        for check in report.checks:
            print(check.line())
    failed = [r for r in reports if not r.ok]
    print(f"{len(reports) - len(failed)} of {len(reports)} gateway(s) verified"
          + (f"; failed: {', '.join(r.gateway for r in failed)}" if failed else ""))


def execute(ns: argparse.Namespace) -> int:
    from gwctl.cli.deploy_common import select

    sel = select(ns)
    if sel is None:
        return EXIT_FAILED
    for gw, why in sel.missing:
        print(f"! {gw.id}: {why}", file=sys.stderr)
    reports = run_verify(sel.fleet, sel.targets, options_from(ns), ns.workers)
    print_reports(reports, ns.output)
    return EXIT_OK if all(r.ok for r in reports) and not sel.missing else EXIT_FAILED
