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
from gwctl.rules import _versions
from gwctl.rules.base import FLEET_ONLY, Options
from gwctl.rules.target import FleetScope
from gwctl.versions.release import Version
from gwctl.versions.state import SiteState, release_label

ID: Final = "version-declared-vs-discovered"
LEVEL: Final = Level.ERROR
OPTIONS: Final[dict[str, Any]] = {}
MODES: Final = FLEET_ONLY


def versions_match(declared: Version, found: Version) -> bool:
    """Same release, and the same build/revision where the declaration gives them."""
    if not declared.same_release(found):
        return False
    if declared.build is not None and declared.build != found.build:
        return False
    return declared.revision is None or declared.revision == found.revision


def check(scope: FleetScope, options: Options) -> Iterator[Problem]:
    for state in _versions.states(scope):
        yield from _site(scope, state)


def _site(scope: FleetScope, state: SiteState) -> Iterator[Problem]:
    if state.found is None:
        return
    reading = state.ms_reading
    ms_ptr = state.ms.pointer + "/version"
    if reading is not None and reading.version is not None and not versions_match(
            state.ms.version, reading.version):
        yield from scope.report(
            ID, LEVEL,
            f"the fleet declares management server {state.ms.host} on {state.ms.version} "
            f"but it runs {release_label(reading.version)} (from {reading.describe()}): "
            f"update sites.{state.name}.management_server.version",
            ms_ptr, subject=state.name,
            extra={"declared": state.ms.version.name, "discovered": reading.version.name,
                   "source": reading.source})
    for other in state.found.disagreements():
        assert other.version is not None and reading is not None
        yield from scope.report(
            ID, LEVEL,
            f"the management server's version sources disagree: {reading.describe()} says "
            f"{release_label(reading.version) if reading.version else '?'}, "
            f"{other.describe()} says {release_label(other.version)}",
            ms_ptr, subject=state.name,
            extra={"sources": [r.to_json() for r in state.found.readings]})
    for g in state.gateways:
        found = g.found
        if found is None:
            continue
        if found.installed is False:
            yield from scope.report(
                ID, LEVEL,
                f"the fleet declares gateway {g.gateway.name} on host {found.host}, but no "
                f"API Gateway is installed there (no 'Milestone XProtect API Gateway' among "
                f"the installed products)",
                g.gateway.pointer, subject=g.id,
                extra={"declared": g.declared.name, "discovered": None})
            continue
        if g.discovered is None or not g.explicit:
            continue
        if not versions_match(g.declared, g.discovered):
            yield from scope.report(
                ID, LEVEL,
                f"the fleet declares gateway {g.gateway.name} on {g.declared} but "
                f"{found.host} has {release_label(g.discovered)} installed: update the "
                f"fleet (rendering and rules follow the declared version)",
                g.version_pointer, subject=g.id,
                extra={"declared": g.declared.name, "discovered": g.discovered.name,
                       "source": "registry"})
