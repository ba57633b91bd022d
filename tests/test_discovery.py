"""Discovery over real WinRM (pywinrm, NTLM) against emulated hosts on loopback.

Two harnesses: bench/discover.py's `emulated_fleet` (many small hosts, fault cases) and
the simulator (`sim_factory`, tests/conftest.py) for a whole emulated site.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from gwctl.versions.discovery import (
    SOURCE_REGISTRY,
    SOURCE_SERVER_CONFIG,
    SOURCE_WELL_KNOWN,
    HttpSettings,
    discover,
    read_well_known,
)
from gwctl.versions.release import Version

pytestmark = pytest.mark.timeout(90)

ROOT = Path(__file__).resolve().parent.parent


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gwctl_bench_discover",
                                                  ROOT / "bench" / "discover.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bench = _bench()


@pytest.fixture
def emulated(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    stack: list[Any] = []

    def make(**kw: Any) -> Any:
        cm = bench.emulated_fleet(tmp_path / f"e{len(stack)}", **kw)
        stack.append(cm)
        return cm.__enter__()

    yield make
    for cm in reversed(stack):
        cm.__exit__(None, None, None)


def test_reads_every_source(emulated: Callable[..., Any]) -> None:
    emu = emulated(gateways=4, per_site=2, latency_ms=0,
                   gateway_versions={"site000-gw1": "25.1.5600.1", "site001-gw1": None})
    d = discover(emu.fleet, emu.hosts, workers=4)
    s0, s1 = d.sites["site000"], d.sites["site001"]
    g0 = s0.gateways["site000/site000-gw0"]
    assert g0.version == Version(2025, 2, 5700, 1) and g0.reading is not None
    assert g0.reading.source == SOURCE_REGISTRY and g0.host == "site000-gw0"
    assert g0.installed and g0.server_config_found and g0.install_dir_exists
    assert s0.gateways["site000/site000-gw1"].version == Version(2025, 1, 5600, 1)
    assert s0.gateways["site000/site000-gw1"].server_config_found is False
    absent = s1.gateways["site001/site001-gw1"]
    assert absent.installed is False and absent.version is None and absent.error is None
    # ServerConfig.xml first, then /.well-known/uris; both agree
    assert [r.source for r in s0.readings] == [SOURCE_SERVER_CONFIG, SOURCE_WELL_KNOWN]
    assert s0.management_server is not None
    assert s0.management_server.source == SOURCE_SERVER_CONFIG
    assert s0.management_server_version == Version(2025, 2, 5700, 1)
    assert s0.disagreements() == []
    doc = json.loads(json.dumps(d.to_json()))
    assert doc["sites"][0]["gateways"][0]["source"] == "registry"
    assert doc["sites"][0]["readings"][0]["path"].endswith("ServerConfig.xml")


def test_unreachable_and_uninventoried_hosts_are_reported_not_fatal(
        emulated: Callable[..., Any]) -> None:
    emu = emulated(gateways=4, per_site=4, latency_ms=0,
                   unreachable=("site000-gw2",), uninventoried=("site000-gw3",))
    d = discover(emu.fleet, emu.hosts, workers=4)
    gws = d.sites["site000"].gateways
    assert list(gws) == [f"site000/site000-gw{i}" for i in range(4)]
    down = gws["site000/site000-gw2"]
    assert not down.reachable and down.error and down.version is None
    missing = gws["site000/site000-gw3"]
    assert missing.host is None and "no inventory host" in (missing.error or "")
    assert gws["site000/site000-gw1"].version is not None


def test_concurrency_is_bounded(emulated: Callable[..., Any]) -> None:
    emu = emulated(gateways=12, per_site=12, latency_ms=30)
    d = discover(emu.fleet, emu.hosts, workers=3)
    assert all(g.version for g in d.sites["site000"].gateways.values())
    _, peak = emu.counters()
    assert 1 <= peak <= 3
    assert d.workers == 3


def test_well_known_errors(emulated: Callable[..., Any]) -> None:
    emu = emulated(gateways=1, per_site=1, latency_ms=0)
    url = emu.hosts[0].vars["gwctl_gateway_url"]
    with HttpSettings(timeout_s=2).client() as client:
        ok = read_well_known(client, url)
        assert ok.version == Version(2025, 2, 5700, 1) and ok.raw == "25.2.5700.1"
        bad = read_well_known(client, url.replace("site000", "nosite"))
        assert bad.version is None and bad.error == "HTTP 503"
        closed = read_well_known(client, f"http://127.0.0.1:{bench._closed_port()}/api")
        assert closed.version is None and closed.error and "Connect" in closed.error


def test_ms_version_from_well_known_when_no_colocated_host(
        emulated: Callable[..., Any]) -> None:
    emu = emulated(gateways=3, per_site=3, latency_ms=0, unreachable=("site000-gw0",))
    d = discover(emu.fleet, emu.hosts, workers=2)
    s = d.sites["site000"]
    assert s.management_server is not None
    assert s.management_server.source == SOURCE_WELL_KNOWN


def test_discovery_needs_no_inventory_for_well_known(emulated: Callable[..., Any]) -> None:
    emu = emulated(gateways=2, per_site=2, latency_ms=0)
    d = discover(emu.fleet, None, workers=2)
    s = d.sites["site000"]
    # without an inventory the gateways' URLs are the fleet's (not reachable here)
    assert all(g.host is None for g in s.gateways.values())
    assert s.management_server_version is None


# -- against the simulator ---------------------------------------------------------------


def test_simulated_site(sim_factory: Callable[..., Any]) -> None:
    from gwctl import api
    from gwctl.hosts.inventory import load_inventory

    site = sim_factory(site="hq", version="2024 R2", gateways=3,
                       gateway_versions={"hq-gw2": "2024 R1"})
    fleet = api.load(site.fleet_path).fleet
    assert fleet is not None
    hosts = load_inventory(str(site.inventory_path))
    d = discover(fleet, hosts, workers=4)
    s = d.sites["hq"]
    versions = {gid: g.version.name if g.version else None for gid, g in s.gateways.items()}
    assert versions == {"hq/hq-ms": "2024 R2", "hq/hq-gw1": "2024 R2", "hq/hq-gw2": "2024 R1"}
    assert s.gateways["hq/hq-ms"].server_config_found is True
    assert s.gateways["hq/hq-gw1"].server_config_found is False
    assert s.management_server_version is not None
    assert s.management_server_version.name == "2024 R2"
    assert {r.source for r in s.readings} == {SOURCE_SERVER_CONFIG, SOURCE_WELL_KNOWN}
    assert s.disagreements() == []
