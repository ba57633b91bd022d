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
  site it started is stopped at teardown. ``kerberos_keytab=PATH`` makes its WinRM
  endpoint accept Kerberos too.
- ``kdc``: a real MIT KDC on loopback for the session (`tests/kdc.py`: principals,
  keytabs, ``kinit``); skips the test, saying why, when the KDC binaries or the kerberos
  extra are missing. ``krb_env``: MIT krb5 pointed at it for one test (monkeypatched
  ``KRB5_CONFIG``, a private ``KRB5CCNAME`` whose path it returns).
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

    def make(*, wsman: bool = True, state_dir: Path | None = None,
             kerberos_keytab: Path | None = None, ansible_modules: bool = False,
             **spec: Any) -> SimSite:
        directory = state_dir or tmp_path / f"sim{next(counter)}"
        site = SimSite.create(directory, SiteSpec(**spec), wsman=wsman,
                              kerberos_keytab=kerberos_keytab,
                              ansible_modules=ansible_modules)
        started.append(site)
        return site.start()

    yield make
    for site in reversed(started):
        site.stop()


@pytest.fixture
def sim_site(sim_factory: Callable[..., SimSite]) -> SimSite:
    return sim_factory()


@pytest.fixture(scope="session")
def kdc() -> Iterator[Any]:
    import kdc as kdc_module

    why = kdc_module.missing()
    if why is not None:
        pytest.skip(why)
    realm = kdc_module.Kdc.start()
    try:
        yield realm
    finally:
        realm.stop()


@pytest.fixture
def krb_env(kdc: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    ccache = tmp_path / "krb5-ccache"
    for name, value in kdc.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{ccache}")
    return ccache


@pytest.fixture(autouse=True)
def _private_audit_log(tmp_path_factory: pytest.TempPathFactory,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    """apply, rollback and unlock append to an audit log: never the user's own
    ($XDG_STATE_HOME) from a test. Tests that read it set GWCTL_AUDIT_LOG themselves."""
    log_dir = tmp_path_factory.mktemp("audit")
    monkeypatch.setenv("GWCTL_AUDIT_LOG", str(log_dir / "audit.jsonl"))
