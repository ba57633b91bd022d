"""The manual's troubleshooting chapter, as checks against one live gateway host.

Reads only. Each line is a check with PASS, FAIL, WARN, INFO or SKIP, what was found and,
when something is wrong, the cause and remedy with the manual's section: answering
(502/503 means the gateway does not start), app-pool (IIS state), live-files (the host's
appsettings.json, appsettings.Production.json and nlog.config linted as the gateway reads
them, as gwctl lint-file does), log-errors (recent ERROR/FATAL lines of the gateway's NLog
log, and a hint when the log level hides them), cors, ice-servers and one ice line per
configured STUN/TURN server (reached with the live configuration's credentials), the mDNS
hint, version (installed gateway against its management server), certificate (https
gateways: expiry and host name), and from the host's Application event log (last 24 h):
gwctl-changes (the host's last gwctl audit records: when, action, who, change ref,
outcome) and startup-errors (the ASP.NET Core Module's start-up failures since the last
recycle, with the gateway's exception), the host conditions (environment, app-offline,
log-directory-access, stdout-log, rapid-fail, hosting), and iis-errors (the 5xx answers of
the last 24 h in the newest IIS W3C log of the gateway's site, W3SVC<id>: count, first and
last, top URLs, status.substatus and Win32 status, naming the file). The gateway's URL is
the host's gwctl_gateway_url, or the fleet's with -f. Exit 0 when no check failed, 1 otherwise."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from gwctl.cli.deploy_common import add_inventory_options
from gwctl.errors import EXIT_FAILED, EXIT_OK

if TYPE_CHECKING:
    from collections.abc import Callable

    from gwctl.problems import Problem


def register(p: argparse.ArgumentParser) -> None:
    add_inventory_options(p)
    p.add_argument("--gateway", required=True, metavar="HOST", help="the inventory host")
    p.add_argument("-f", "--fleet", metavar="PATH",
                   help="fleet file: the gateway's URL, install directory and release")
    p.add_argument("--insecure", action="store_true",
                   help="do not verify TLS certificates when calling the gateway")
    p.add_argument("--output", choices=("text", "json"), default="text")


def _linter(environment: str, version: str | None) -> Callable[[dict[str, bytes]],
                                                                list[Problem]]:
    """Lint live files as ``gwctl lint-file --base appsettings.json`` would."""
    import dataclasses
    import tempfile
    from pathlib import Path

    from gwctl.rules.runner import lint_files

    def lint(files: dict[str, bytes]) -> list[Problem]:
        with tempfile.TemporaryDirectory(prefix="gwctl-doctor-") as tmp:
            paths = {}
            for name, data in files.items():
                path = Path(tmp) / name
                path.write_bytes(data)
                paths[name] = str(path)
            base = paths.pop("appsettings.json", None)
            if not paths:
                return []
            problems = lint_files(list(paths.values()), base=base, environment=environment,
                                  version=version)
            names = {str(Path(p)): Path(p).name for p in [*paths.values(), base or ""]}
            return [dataclasses.replace(p, file=names.get(p.file or "", p.file))
                    for p in problems]

    return lint


def execute(ns: argparse.Namespace) -> int:
    from gwctl.cli.cmd_probe import gateway_location
    from gwctl.cli.deploy_common import inventory_host
    from gwctl.doctor.checks import DoctorOptions, diagnose
    from gwctl.verify.run import document

    host = inventory_host(ns, ns.gateway)
    url, install_dir, version = gateway_location(ns, host)
    report = diagnose(host.name, host, url, install_dir,
                      DoctorOptions(verify_tls=not ns.insecure),
                      lint=_linter("production", version.name if version else None),
                      expected_ms=version)
    if ns.output == "json":
        sys.stdout.write(json.dumps(document([report]), indent=2) + "\n")
    else:
        print(f"{report.gateway} ({report.url}): {'ok' if report.ok else 'problems found'}")
        for check in report.checks:
            print(check.line())
    return EXIT_OK if report.ok else EXIT_FAILED
