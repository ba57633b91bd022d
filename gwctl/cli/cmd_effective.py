"""Show the configuration a gateway will actually run with: its base appsettings.json
(the host's file via --base, else gwctl's bundled reference base for the gateway's
version) with the rendered appsettings.Production.json layered on top, merged as
Microsoft.Extensions.Configuration does (keys ignore case, arrays merge by index, the
later file wins). Values are strings, as the gateway sees them; secrets are masked."""

from __future__ import annotations

import argparse
import json
import sys

from gwctl.cli.common import add_fleet_option


def register(p: argparse.ArgumentParser) -> None:
    add_fleet_option(p)
    p.add_argument("--gateway", required=True, metavar="NAME", help="NAME or SITE/NAME")
    p.add_argument("--base", metavar="FILE", help="the host's appsettings.json")
    p.add_argument("--section", metavar="KEY", help="only this section, e.g. ReverseProxy:Routes")
    p.add_argument("--format", choices=("json", "flat"), default="json",
                   help="nested JSON (default) or one 'Key:Path = value' line per key, with "
                        "the file each value comes from")


def execute(ns: argparse.Namespace) -> int:
    from gwctl import api
    from gwctl.cli.common import report
    from gwctl.output import redact
    from gwctl.problems import has_errors
    from gwctl.textio import read_text

    result = api.load(ns.fleet)
    if result.fleet is None or has_errors(result.problems):
        return report(result.problems, "text", ok_message="")
    fleet = result.fleet
    gw = fleet.gateway(ns.gateway)
    base_text = read_text(ns.base) if ns.base else None
    eff = api.effective(fleet, gw, base_text, ns.base)
    if ns.format == "flat":
        prefix = (ns.section.lower() + ":") if ns.section else ""
        for key, entry in eff.entries.items():
            if key.startswith(prefix) or key == prefix[:-1]:
                src = entry.file or "?"
                spelled = eff._spelling[key]
                value = redact.mask_value(spelled, entry.value)
                sys.stdout.write(f"{spelled} = {value!r}  # {src}\n")
        return 0
    tree = redact.mask_tree(eff.tree(ns.section or ""), (ns.section or "").rsplit(":", 1)[-1])
    sys.stdout.write(json.dumps(tree, indent=2, ensure_ascii=False) + "\n")
    return 0
