"""Lint live gateway files exactly as the gateway reads them: appsettings*.json
(comments and trailing commas accepted, as the gateway's parser accepts them; duplicate
keys ignoring case rejected, as the gateway refuses to start with them) and nlog.config.
With --base the host's appsettings.json is layered underneath for the effective checks;
without it gwctl's bundled reference base for --version is used."""

from __future__ import annotations

import argparse

from gwctl.cli.common import add_output_option, report, report_unreadable
from gwctl.errors import InputError
from gwctl.netjson import runtime as dotnet


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="appsettings*.json and/or nlog.config files")
    p.add_argument("--base", metavar="FILE", help="the host's appsettings.json")
    p.add_argument("--environment", choices=("production", "test", "development"),
                   default="production", help="policy environment (default: production)")
    p.add_argument("--version", dest="gw_version", metavar="RELEASE",
                   help="gateway release, e.g. '2025 R2' (default: 2025 R2)")
    p.add_argument("--nlog-version", type=int, choices=(5, 6), default=5,
                   help="NLog major version of the gateway (default: 5)")
    p.add_argument("--dotnet-version", type=int, choices=dotnet.SUPPORTED,
                   help=".NET major version of the gateway: 10 keeps JSON null as null and "
                        "reads [] as \"\" (default: the one --version runs, per gwctl's "
                        "table: 8 for 2025 R2)")
    p.add_argument("--kind", choices=("appsettings", "nlog"),
                   help="read every FILE as this kind (default: by file name: "
                        "appsettings*.json, *.config/*.xml)")
    p.add_argument("--only", action="append", metavar="RULE",
                   help="run only this rule (repeatable)")
    add_output_option(p)


def execute(ns: argparse.Namespace) -> int:
    from gwctl.rules.runner import lint_files

    try:
        problems = lint_files(list(ns.files), base=ns.base, environment=ns.environment,
                              version=ns.gw_version, nlog_version=ns.nlog_version,
                              kind=ns.kind, dotnet_version=ns.dotnet_version,
                              only=set(ns.only) if ns.only else None)
    except InputError as exc:
        return report_unreadable(exc, ns.output)
    return report(problems, ns.output, ok_message=f"{len(ns.files)} file(s): ok")
