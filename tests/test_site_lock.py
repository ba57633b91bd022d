"""The site lock: two applies on one site -- exactly one proceeds; the other is refused
naming the holder, or waits (--lock-timeout) and then finds nothing left to do;
`gwctl unlock --site-lock` removes a lock left behind."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from test_deploy import CORS, ORIGIN, files, gwctl, write_fleet

from gwctl.cli.main import main
from gwctl.deploy.hostlock import owner_name
from gwctl.deploy.sitelock import SITE_LOCK_PATH, SiteLocks
from gwctl.hosts.inventory import load_inventory
from gwctl.hosts.targets import open_transport

if TYPE_CHECKING:
    from gwctl.sim.server import SimSite

PROD = "appsettings.Production.json"


def _site_lock_file(site: SimSite) -> Path:
    # the anchor is the gateway co-located with the management server
    return site.host_root("demo-ms") / "C" / "ProgramData" / "gwctl" / "site.lock"


def _hold(site: SimSite, fleet: Path, owner: str) -> SiteLocks:
    from gwctl import api

    loaded = api.load(fleet)
    assert loaded.fleet is not None
    hosts = load_inventory(str(site.inventory_path))
    return SiteLocks(loaded.fleet, ["demo"], hosts, open_transport, owner)


def test_second_apply_is_refused_naming_the_holder(
        sim_site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fleet = write_fleet(sim_site, tmp_path / "fleet.yaml", site_settings={"cors": CORS})
    inv = str(sim_site.inventory_path)
    before = {n: files(sim_site, n) for n in ("demo-ms", "demo-gw1")}
    with _hold(sim_site, fleet, "alice@ci-runner-1 pid 4242"):
        assert _site_lock_file(sim_site).exists()
        # a different selection of the same site meets the same lock
        code, out = gwctl(capsys, "apply", "-f", str(fleet), "-i", inv, "--yes",
                          "--gateway", "demo-gw1")
        assert code == 1
        assert "site demo is locked by alice@ci-runner-1 pid 4242 (until " in out
        assert "lock on host demo-ms" in out
        assert "gwctl unlock --host demo-ms --site-lock" in out
        assert {n: files(sim_site, n) for n in before} == before
    assert not _site_lock_file(sim_site).exists()


def test_concurrent_applies_one_proceeds_the_other_waits_or_is_refused(
        sim_site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    fleet = write_fleet(sim_site, tmp_path / "fleet.yaml", site_settings={"cors": CORS})
    inv = str(sim_site.inventory_path)
    sim_site.set_fault("demo-ms", "slow-recycle", 3)
    first: list[int] = []
    runner = threading.Thread(target=lambda: first.append(main(
        ["apply", "-f", str(fleet), "-i", inv, "--yes", "--canary", "0"])))
    runner.start()
    lock = _site_lock_file(sim_site)
    deadline = time.monotonic() + 20
    while not lock.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert lock.exists(), "the first apply never took the site lock"

    refused = main(["apply", "-f", str(fleet), "-i", inv, "--yes"])
    assert refused == 1
    out, err = capsys.readouterr()
    assert f"site demo is locked by {owner_name()} (until " in out + err

    waited = main(["apply", "-f", str(fleet), "-i", inv, "--yes", "--lock-timeout", "60"])
    runner.join(timeout=60)
    assert first == [0] and waited == 0
    out, err = capsys.readouterr()
    assert "nothing to apply" in out  # it planned only after the first run had finished
    assert any("site demo is locked by" in r.getMessage() and "waiting up to 60 s" in
               r.getMessage() for r in caplog.records)
    for name in ("demo-ms", "demo-gw1"):
        assert ORIGIN.encode() in (files(sim_site, name)[PROD] or b"")
    assert not lock.exists()


def test_unlock_site_lock(sim_site: SimSite, tmp_path: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    fleet = write_fleet(sim_site, tmp_path / "fleet.yaml")
    inv = str(sim_site.inventory_path)
    locks = _hold(sim_site, fleet, "bob@laptop pid 7")
    locks.__enter__()  # and never released: the run "died" on another controller
    code, out = gwctl(capsys, "unlock", "--host", "demo-ms", "-i", inv, "--site-lock",
                      "--yes")
    assert code == 0, out
    assert "demo-ms: site lock held by bob@laptop pid 7 since " in out
    assert "site lock of bob@laptop pid 7 removed" in out
    assert not _site_lock_file(sim_site).exists()
    code, out = gwctl(capsys, "unlock", "--host", "demo-ms", "-i", inv, "--site-lock",
                      "--yes")
    assert code == 0 and "not locked (no site lock)" in out
    assert SITE_LOCK_PATH.endswith("site.lock")
