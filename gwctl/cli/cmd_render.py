"""Render every gateway's files into OUT/<site>/<gateway>/: appsettings.Production.json
(strict JSON, only the sections the fleet declares) and nlog.config (when the fleet
declares nlog settings). Validation runs first; nothing is written when it finds errors.
Secret references are resolved, so the output directory holds secrets: files are
written readable by their owner only (mode 0600), never through a symbolic link; a
warning names the output directory (or a site or gateway directory in it) that others
can enter, list or write. Keep the directory out of version control."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gwctl.cli.common import add_fleet_option, report
from gwctl.errors import EXIT_OK


def register(p: argparse.ArgumentParser) -> None:
    add_fleet_option(p)
    p.add_argument("-o", "--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--gateway", metavar="NAME", help="only this gateway (NAME or SITE/NAME)")
    p.add_argument("--mask-secrets", action="store_true",
                   help="write secrets masked instead of resolved (for review artefacts)")


def execute(ns: argparse.Namespace) -> int:
    from gwctl import api
    from gwctl.fleet.secrets import SecretResolver
    from gwctl.problems import has_errors
    from gwctl.render.files import render_gateway, write_all

    result = api.validate(ns.fleet)
    if result.fleet is None or has_errors(result.problems):
        return report(result.problems, "text", ok_message="")
    fleet = result.fleet
    gateways = [fleet.gateway(ns.gateway)] if ns.gateway else list(fleet.gateways())
    resolver = None if ns.mask_secrets else SecretResolver(fleet.base_dir)
    out = Path(ns.out)
    # render everything before writing anything: a secret that cannot be resolved for the
    # last gateway must not leave a half-written output directory
    rendered = [(gw, render_gateway(gw, resolver)) for gw in gateways]
    count = write_all(out, rendered)
    if resolver is not None:
        from gwctl.render.files import shared_directories

        for path, why in shared_directories(out):
            print(f"warning: {path} is {why}: the rendered files hold secrets; keep them in "
                  "a directory only you can enter (chmod 700)", file=sys.stderr)
    report(result.problems, "text", ok_message="")
    print(f"rendered {count} files for {len(rendered)} gateways into {out}", file=sys.stderr)
    return EXIT_OK
