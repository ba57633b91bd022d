"""A gateway's URL is ``http://`` although its management server uses encryption.

"If you set up the management server with encryption, you must also set up all API
Gateway instances that connect to the management server with encryption" (manual,
Server certificates and host names). gwctl derives a gateway's URL from the site
(``https://HOST/api`` with encryption); this rule catches an explicit ``url:`` that
says otherwise -- clients would send credentials and tokens in clear text.

PASS::

    management_server: {host: ms1, version: "2025 R2", encryption: true}
    gateways:
      gw2: {host: gw2.example.com}

FAIL::

    management_server: {host: ms1, version: "2025 R2", encryption: true}
    gateways:
      gw2: {host: gw2.example.com, url: "http://gw2.example.com/api"}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules.base import Options
from gwctl.rules.target import FleetScope

ID: Final = "gateway-url-http"
LEVEL: Final = Level.ERROR
OPTIONS: Final[dict[str, Any]] = {}


def check(scope: FleetScope, options: Options) -> Iterator[Problem]:
    for site in scope.fleet.sites:
        if not site.management_server.encryption:
            continue
        for gw in site.gateways:
            if gw.url.lower().startswith("http://"):
                message = (f"gateway {gw.id} is reached over {gw.url!r}, but the management "
                           "server uses encryption: every gateway must use https")
                yield from scope.report(ID, LEVEL, message, gw.pointer + "/url", subject=gw.id)
