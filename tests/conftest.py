"""Shared pytest fixtures.

Simulator (`gwctl.sim`), served in-process on random loopback ports, started in well under
a second and stopped (ports released) after the test:

- ``sim_site``: a default site ``demo`` (management server 2025 R2, gateways ``demo-ms``
  on the management server host and ``demo-gw1``) in a temporary state directory. It is a
  `gwctl.sim.server.SimSite`: ``.gateway_url(name)`` (``http://127.0.0.1:PORT/api``),
  ``.wsman_url(name)``, ``.state_dir``, ``.host_root(name)``, ``.install_dir(name)``,
  ``.production_path(name)``, ``.recycle(name)``, ``.set_fault(name, "latency:50")``,
  ``.clear_faults(name)``, ``.set_pool_state(name, "Stopped")``, ``.inventory_path``,
  ``.fleet_path``, ``.users`` (IDP users), ``.windows_admin``, ``.wsman`` (the
  `WsmanServer`, for WinRM fault injection), ``.status()``.
- ``sim_factory``: ``sim_factory(site="hq", version="2024 R2", gateways=3,
  gateway_versions={"hq-gw1": "2024 R1"}, faults={"hq-gw2": ["latency:20"]},
  wsman=False, ...)`` starts a site built from `gwctl.sim.state.SiteSpec` fields; every
  site it started is stopped at teardown.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from gwctl.sim.server import SimSite


@pytest.fixture
def sim_factory(tmp_path: Path) -> Iterator[Callable[..., SimSite]]:
    from gwctl.sim.server import SimSite
    from gwctl.sim.state import SiteSpec

    started: list[SimSite] = []
    counter = itertools.count(1)

    def make(*, wsman: bool = True, state_dir: Path | None = None, **spec: Any) -> SimSite:
        directory = state_dir or tmp_path / f"sim{next(counter)}"
        site = SimSite.create(directory, SiteSpec(**spec), wsman=wsman)
        started.append(site)
        return site.start()

    yield make
    for site in reversed(started):
        site.stop()


@pytest.fixture
def sim_site(sim_factory: Callable[..., SimSite]) -> SimSite:
    return sim_factory()
