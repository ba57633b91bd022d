"""Bring existing, hand-edited gateways under management: read each host's live
appsettings.Production.json and nlog.config over its inventory connection and turn them
into fleet YAML that renders to the same effective configuration.

Hosts: --host NAME (repeatable) or --limit PATTERN (Ansible's host patterns over the
inventory: groups, globs, '!' exclusions). A gateway's ``host`` in the fleet is the name
the inventory knows it by (or its ``gwctl_host``, an FQDN), never the connection address
(``ansible_host``); a gateway on the management server's host (its ServerConfig.xml is
there) is marked ``colocated: true``.

Without --into, the fleet document is printed (stdout). With --into PATH (a fleet file,
or a directory of them) the gateways are merged into it, keeping its comments, order and
quoting: a gateway already there is replaced where it is written, a new site goes into
the file that holds the sites (in a directory: a new SITE.yaml). The merged fleet is
validated before anything is written; schema errors write nothing. Settings the
fleet's defaults or the site declare apply to an imported gateway too: a warning names
each imported gateway whose rendering they change, and the keys.

Secrets are not copied: each one (a TURN credential, a client secret, a connection
string with a password, a URL with one in it, ...) becomes an env: reference, listed in
a comment above its gateway with the key it stands for, to fill in before rendering.
Notes about anything that could not be modelled are comments there too."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from gwctl.cli.deploy_common import add_inventory_options, add_limit_option, add_workers_option
from gwctl.errors import EXIT_FAILED, EXIT_OK, UsageError

if TYPE_CHECKING:
    from gwctl.deploy.importer import ImportedGateway
    from gwctl.fleet.model import Fleet
    from gwctl.hosts.inventory import InventoryHost


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", action="append", default=[], metavar="NAME",
                   help="inventory host to read (repeatable)")
    add_limit_option(p)
    add_inventory_options(p)
    p.add_argument("--site", metavar="NAME",
                   help="site name (default: the host's gwctl_site, its first group, or "
                        "'imported')")
    p.add_argument("--install-dir", metavar="DIR", help="gateway install directory on the host")
    p.add_argument("--into", metavar="PATH",
                   help="merge into this fleet file or directory (comments kept) instead of "
                        "printing")
    add_workers_option(p)


def _hosts(ns: argparse.Namespace) -> list[InventoryHost]:
    from gwctl.cli.deploy_common import inventory_host
    from gwctl.hosts.inventory import load_inventory
    from gwctl.hosts.limit import limit_hosts

    if not ns.host and not ns.limit:
        raise UsageError("gwctl import: give --host NAME (repeatable) or --limit PATTERN")
    if ns.limit:
        hosts = load_inventory(ns.inventory, vault_password_file=ns.vault_password_file,
                               no_ntlm=ns.no_ntlm)
        chosen = limit_hosts(hosts, ns.limit)
        extra = [h for name in ns.host for h in hosts if h.name == name and h not in chosen]
        return chosen + extra
    return [inventory_host(ns, name) for name in dict.fromkeys(ns.host)]


def _read_all(ns: argparse.Namespace, hosts: list[InventoryHost]
              ) -> tuple[list[ImportedGateway], list[str], list[str]]:
    """Each host's gateway, hosts read concurrently: (imports in host order, hosts
    skipped for having no gateway, hosts that failed), the last two as messages."""
    from gwctl.deploy.importer import NotAGateway, import_gateway
    from gwctl.errors import GwctlError
    from gwctl.hosts.fanout import fan_out
    from gwctl.hosts.targets import open_transport

    def one(index: int) -> ImportedGateway | tuple[str, str]:
        host = hosts[index]
        try:
            with open_transport(host) as transport:
                return import_gateway(transport, host, site=ns.site,
                                      install_dir=ns.install_dir)
        except NotAGateway as exc:
            return "skipped", str(exc)
        except GwctlError as exc:
            return "failed", f"{host.name}: {exc}"

    results = fan_out(one, len(hosts), workers=ns.workers)
    imports = [r for r in results if not isinstance(r, tuple)]
    skipped = [r[1] for r in results if isinstance(r, tuple) and r[0] == "skipped"]
    failed = [r[1] for r in results if isinstance(r, tuple) and r[0] == "failed"]
    return imports, skipped, failed


def execute(ns: argparse.Namespace) -> int:
    from gwctl.deploy.importer import render_imports
    from gwctl.output.redact import scrub

    hosts = _hosts(ns)
    imports, skipped, failed = _read_all(ns, hosts)
    for why in skipped:
        print(f"skipped {why}", file=sys.stderr)
    if failed:
        # a partial import would look complete in review: all hosts or nothing
        for why in failed:
            print(f"error: {scrub(why)}", file=sys.stderr)
        print(f"error: {len(failed)} of {len(hosts)} host(s) could not be read; nothing "
              "imported", file=sys.stderr)
        return EXIT_FAILED
    if not imports:
        print("error: no gateway imported", file=sys.stderr)
        return EXIT_FAILED
    names = [f"{i.site}/{i.name}" for i in imports]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UsageError(f"two hosts import as the same gateway: {', '.join(twice)} (set "
                         "gwctl_gateway on one of them)")
    if ns.into is None:
        sys.stdout.write(render_imports(imports))
        return EXIT_OK
    return _merge(ns.into, imports)


def _layered_changes(fleet: Fleet, imports: list[ImportedGateway],
                     mss: dict[str, tuple[dict[str, Any], bool]]) -> list[str]:
    """Imported gateways whose rendering the merged fleet changes: its defaults and site
    settings are laid under each gateway's own (the import itself reproduces the host)."""
    from pathlib import Path

    from gwctl.deploy.importer import document_for
    from gwctl.fleet.model import build_fleet
    from gwctl.fleet.source import combine
    from gwctl.fleet.yaml_reader import YamlSource
    from gwctl.netjson.config import flatten_text
    from gwctl.render.files import APPSETTINGS, render_gateway

    out = []
    for i in imports:
        doc = document_for([(i.site, mss[i.site][0], i.name, i.gateway)])
        alone, _ = build_fleet(combine([YamlSource("<imported>", doc)], Path(".")))
        if alone is None:
            continue
        before = {f.name: f.display for f in render_gateway(next(alone.gateways()), None)}
        after = {f.name: f.display for f in render_gateway(fleet.gateway(f"{i.site}/{i.name}"),
                                                           None)}
        if before == after:
            continue
        changed = []
        if before.get(APPSETTINGS) != after.get(APPSETTINGS):
            old = flatten_text(before[APPSETTINGS], file="import").as_dict()
            new = flatten_text(after[APPSETTINGS], file="fleet").as_dict()
            changed += sorted(k for k in {*old, *new} if old.get(k) != new.get(k))
        changed += sorted(name for name in {*before, *after} - {APPSETTINGS}
                          if before.get(name) != after.get(name))
        out.append(f"{i.site}/{i.name}: the fleet's defaults or site settings change what "
                   f"it renders ({', '.join(changed)}); 'gwctl diff' shows it on the host")
    return out


def _merge(into: str, imports: list[ImportedGateway]) -> int:
    from pathlib import Path

    from gwctl import api
    from gwctl.cli.common import report
    from gwctl.deploy.importer import combine_sites
    from gwctl.fleet.yaml_edit import NewGateway, add_gateways, source_with, write_texts

    target = Path(into)
    mss = combine_sites(imports)
    # a site the fleet declares keeps its management server: no note about guessing it
    declared = set((source_with(target, {}).data.get("sites") or {})
                   if target.exists() else ())
    edit = add_gateways(target, [NewGateway(i.site, mss[i.site][0], i.name, i.gateway,
                                            i.comment_lines(mss[i.site][1]
                                                            or i.site in declared))
                                 for i in imports])
    result = api.validate_document(source_with(target, edit.texts))
    if result.fleet is None:
        # the fleet would not load: write nothing, say why
        report(result.problems, "text", ok_message="")
        print(f"error: {target}: the merged fleet does not load; nothing written",
              file=sys.stderr)
        return EXIT_FAILED
    write_texts(edit.texts)
    for warning in _layered_changes(result.fleet, imports, mss):
        print(f"warning: {warning}", file=sys.stderr)
    for ref in edit.added:
        print(f"added {ref}", file=sys.stderr)
    for ref in edit.replaced:
        print(f"replaced {ref}", file=sys.stderr)
        for line in edit.notes.get(ref, ())[1:]:  # the first says where it came from
            print(f"  {line}", file=sys.stderr)
    for path in edit.texts:
        print(f"wrote {path}", file=sys.stderr)
    # findings the live configuration brings along (a CORS wildcard on the host, say)
    # are the import's news, not its failure to write
    return report(result.problems, "text",
                  ok_message=f"{target}: valid ({len(imports)} gateway(s) imported)")
