"""Surviving an upgrade, against the simulator: an installer that resets nlog.config is
caught (diff) and reconciled, and a plan made before the upgrade is refused after it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml
from test_deploy import CORS, files, gwctl

from gwctl.deploy import audit

if TYPE_CHECKING:
    from collections.abc import Callable

    from gwctl.sim.server import SimSite

NLOG = "nlog.config"
PROD = "appsettings.Production.json"


@pytest.fixture
def site(sim_factory: Callable[..., SimSite]) -> SimSite:
    s: SimSite = sim_factory(version="2024 R2", gateways=3)
    return s


def fleet_of(site: SimSite, path: Path) -> Path:
    doc = yaml.safe_load(site.fleet_path.read_text())
    (site_doc,) = doc["sites"].values()
    site_doc["management_server"]["version"] = "2024 R2"
    site_doc["settings"] = {"cors": CORS, "nlog": {"min_level": "Warn"}}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_a_plan_made_before_an_upgrade_is_refused_after_it(
        site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fleet = fleet_of(site, tmp_path / "fleet.yaml")
    inv = str(site.inventory_path)
    plan_file = tmp_path / "plan.json"
    assert gwctl(capsys, "plan", "-f", str(fleet), "-i", inv, "-o", str(plan_file))[0] == 0
    doc = json.loads(plan_file.read_text())
    by_gw = {g["gateway"]: g for g in doc["gateways"]}
    assert by_gw["demo/demo-gw1"]["product_version"].startswith("24.2.")
    assert len(by_gw["demo/demo-gw1"]["base_sha256"]) == 64

    # the installer brings demo-gw1 to 2025 R1 (a new base appsettings.json)
    site.upgrade("demo-gw1", "2025 R1")
    before = files(site, "demo-gw1")
    code, out = gwctl(capsys, "apply", str(plan_file), "--yes")
    assert code == 1, out
    assert ("! demo/demo-gw1 (demo-gw1): refused, not as planned: the gateway was upgraded "
            "since the plan was made (planned on 24.2.") in out
    assert ("installed now: 25.1.") in out and "run 'gwctl plan' again" in out
    assert files(site, "demo-gw1") == before
    # the hosts that were not upgraded got exactly the plan
    for name in ("demo-ms", "demo-gw2"):
        assert b"portal.example.com" in (files(site, name)[PROD] or b"")


def test_base_file_changed_without_a_version_change_is_refused_too(
        site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fleet = fleet_of(site, tmp_path / "fleet.yaml")
    inv = str(site.inventory_path)
    plan_file = tmp_path / "plan.json"
    assert gwctl(capsys, "plan", "-f", str(fleet), "-i", inv, "-o", str(plan_file),
                 "--gateway", "demo-gw2")[0] == 0
    base = site.install_dir("demo-gw2") / "appsettings.json"
    # the Server Configurator rewrites the base (here: one more comment line)
    base.write_text("// written by the Server Configurator\n" + base.read_text())
    code, out = gwctl(capsys, "apply", str(plan_file), "--yes")
    assert code == 1, out
    assert ("appsettings.json (the installer's base, merged under the overrides) changed "
            "since the plan was made (an upgrade, a repair or the Server Configurator): "
            "run 'gwctl plan' again") in out


def test_an_upgrade_that_resets_nlog_is_caught_and_reconciled(
        site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "audit.jsonl"
    monkeypatch.setenv("GWCTL_AUDIT_LOG", str(log))
    fleet = fleet_of(site, tmp_path / "fleet.yaml")
    inv = str(site.inventory_path)
    assert gwctl(capsys, "apply", "-f", str(fleet), "-i", inv, "--yes")[0] == 0
    managed = files(site, "demo-gw1")
    assert b'minlevel="Warn"' in (managed[NLOG] or b"")
    result = site.upgrade("demo-gw1", "2025 R1", reset_nlog=True)
    assert result["nlog_reset"] is True
    reset = files(site, "demo-gw1")
    assert reset[NLOG] != managed[NLOG] and reset[PROD] == managed[PROD]

    code, out = gwctl(capsys, "diff", "-f", str(fleet), "-i", inv, "--detailed-exitcode")
    assert code == 2, out
    assert "nlog.config (live)" in out and 'minlevel="Warn"' in out

    code, out = gwctl(capsys, "reconcile", "-f", str(fleet), "-i", inv, "--check")
    assert code == 2, out
    assert ("demo/demo-gw1 (demo-gw1): installed 25.1." in out
            and "nlog.config: not what gwctl wrote (an installer may have replaced it by "
                "the release default); apply restores it" in out)
    assert "demo/demo-gw2 (demo-gw2): installed 24.2." in out
    assert files(site, "demo-gw1") == reset  # --check changes nothing

    code, out = gwctl(capsys, "reconcile", "-f", str(fleet), "-i", inv, "--yes",
                      "--allow-version-mismatch")
    assert code == 0, out
    assert files(site, "demo-gw1") == managed
    assert "demo/demo-gw1: changed" in out
    rec = audit.read(log)[-1]
    assert rec["action"] == "reconcile"
    assert {h["gateway"]: h["outcome"] for h in rec["hosts"]}["demo/demo-gw1"] == "changed"
    code, out = gwctl(capsys, "reconcile", "-f", str(fleet), "-i", inv, "--check")
    assert code == 0 and "nothing to reconcile" in out, out


def test_rollback_refuses_backups_of_another_release_unless_forced(
        site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fleet = fleet_of(site, tmp_path / "fleet.yaml")
    inv = str(site.inventory_path)
    assert gwctl(capsys, "apply", "-f", str(fleet), "-i", inv, "--yes")[0] == 0
    record = json.loads((site.host_root("demo-gw2") / "C" / "ProgramData" / "gwctl"
                         / "activation.json").read_text())
    assert record["product_version"].startswith("2024 R2 (24.2.")
    assert len(record["base_sha256"]) == 64
    applied = files(site, "demo-gw2")
    site.upgrade("demo-gw2", "2025 R1")
    code, out = gwctl(capsys, "rollback", "--gateway", "demo-gw2", "-f", str(fleet), "-i", inv)
    assert code == 1, out
    assert out.startswith("demo/demo-gw2: failed (the backups were taken under 2024 R2 (24.2.")
    assert ("the gateway now runs 2025 R1 (25.1." in out
            and "undo the upgrade instead, or pass --force to restore them anyway" in out)
    assert files(site, "demo-gw2") == applied
    code, out = gwctl(capsys, "rollback", "--gateway", "demo-gw2", "-f", str(fleet), "-i", inv,
                      "--force")
    assert code == 0 and out.startswith("demo/demo-gw2: rolled back"), out
    assert files(site, "demo-gw2") != applied
    # the rollback's own record names the release it ran under: undoing it is not refused
    code, out = gwctl(capsys, "rollback", "--gateway", "demo-gw2", "-f", str(fleet), "-i", inv)
    assert code == 0, out
