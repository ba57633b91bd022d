"""A version the fleet declares differs from the one installed (needs discovery).

gwctl renders each gateway's configuration for its declared version (the 2023 R1/R2
single-STUN shape, CORS, ...) and checks the version rules against it, so a declaration
that no longer matches the host makes both wrong. Checked with ``-i INVENTORY``
(``gwctl check-versions``, ``gwctl versions``): the management server's declared version
against ServerConfig.xml / ``/.well-known/uris`` (and the two sources against each other),
each gateway's explicitly declared version against the installed-products registry, and
every declared gateway against the presence of an installation on its host. Releases are
compared; builds too when the declaration names one (``25.2.5804.1``).

Source: PRODUCT.md › Versions; discovery sources in docs of ``gwctl.versions.discovery``.

PASS (installed 25.2.5804.1)::

    gateways:
      hq-gw2: {host: hq-gw2, version: "2025 R2"}

FAIL (installed 25.2.5804.1)::

    gateways:
      hq-gw2: {host: hq-gw2, version: "2025 R1"}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules.base import FLEET_ONLY, Options
from gwctl.rules.target import FleetScope
from gwctl.versions import checks as versioncheck

ID: Final = versioncheck.DECLARED_VS_DISCOVERED
LEVEL: Final = Level.ERROR
OPTIONS: Final[dict[str, Any]] = {}
MODES: Final = FLEET_ONLY


def check(scope: FleetScope, options: Options) -> Iterator[Problem]:
    yield from versioncheck.scope_problems(ID, scope)
