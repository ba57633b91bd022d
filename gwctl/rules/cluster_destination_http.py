"""An ``http://`` destination on a gateway whose management server uses encryption.

"If you set up the management server with encryption, you must also set up all API
Gateway instances that connect to the management server with encryption" (manual). A
destination over plain http sends bearer tokens and user data unencrypted between the
gateway and the server behind it. In fleet mode the site's ``management_server.encryption``
decides; in ``lint-file`` the files themselves (the ``managementserver`` cluster's address
in the override or ``--base``).

PASS::

    management_server: {host: ms1, version: "2025 R2", encryption: true}
    ...
    clusters: {vendor: {Destinations: {primary: {Address: "https://vendor.example.com/"}}}}

FAIL::

    management_server: {host: ms1, version: "2025 R2", encryption: true}
    ...
    clusters: {vendor: {Destinations: {primary: {Address: "http://vendor.example.com/"}}}}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules import _cfg, _yarp_routes
from gwctl.rules.base import Options
from gwctl.rules.cluster_destination_address import destinations
from gwctl.rules.target import Target

ID: Final = "cluster-destination-http"
LEVEL: Final = Level.ERROR
OPTIONS: Final[dict[str, Any]] = {}


def check(target: Target, options: Options) -> Iterator[Problem]:
    if target.view is None or target.encryption is not True:
        return
    for cid, name, dest in destinations(target):
        address = (_cfg.text(_cfg.get(dest, "Address")) or "").strip()
        if address.lower().startswith("http://"):
            message = (f"cluster {cid!r}, destination {name!r} uses {address!r}, but the "
                       "management server uses encryption: tokens would cross the network "
                       "unencrypted; use https")
            yield from target.report(ID, LEVEL, message,
                                     (*_yarp_routes.CLUSTERS, cid, "Destinations", name, "Address"))
