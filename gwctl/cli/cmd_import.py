"""Bring an existing, hand-edited gateway under management: read its live
appsettings.Production.json and nlog.config over its inventory connection and print a
fleet YAML document (to stdout) that renders to the same effective configuration.
Secrets are not copied: each one (a TURN credential, a client secret, a connection
string with a password, a URL with one in it, ...) becomes an env: reference, listed at
the top with the key it stands for, to fill in before rendering. Notes
about anything that could not be modelled are printed as YAML comments at the top."""

from __future__ import annotations

import argparse
import sys

from gwctl.cli.deploy_common import add_inventory_options
from gwctl.errors import EXIT_OK


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", required=True, metavar="NAME", help="inventory host to read")
    add_inventory_options(p)
    p.add_argument("--site", metavar="NAME",
                   help="site name (default: the host's gwctl_site, its first group, or "
                        "'imported')")
    p.add_argument("--install-dir", metavar="DIR", help="gateway install directory on the host")


def execute(ns: argparse.Namespace) -> int:
    from gwctl.cli.deploy_common import inventory_host
    from gwctl.deploy.importer import import_host
    from gwctl.hosts.targets import open_transport

    host = inventory_host(ns, ns.host)
    with open_transport(host) as transport:
        text = import_host(transport, host, site=ns.site, install_dir=ns.install_dir)
    sys.stdout.write(text)
    return EXIT_OK
