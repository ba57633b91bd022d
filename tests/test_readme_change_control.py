"""The README's "Change control" commands, run as written against the simulator (`.sim/`
is this test's site), with a fixed clock outside the site's maintenance window."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml
from readme_lines import run_gwctl_line, section_commands
from test_deploy import CORS, files

from gwctl.deploy import audit
from gwctl.ops.eventlog import read_entries

if TYPE_CHECKING:
    from collections.abc import Callable

    from gwctl.sim.server import SimSite

ROOT = Path(__file__).resolve().parent.parent
#: Wednesday 13:00 in Copenhagen: outside "0 22 * * 1-5"
NOON = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_the_readme_fleet_snippet_is_valid() -> None:
    text = (ROOT / "README.md").read_text().split("## Change control:", 1)[1]
    snippet = yaml.safe_load(text.split("```yaml", 1)[1].split("```", 1)[0])
    site = snippet["sites"]["demo"]
    assert site["change_ref_required"] is True
    assert site["maintenance_windows"] == [
        {"cron": "0 22 * * 1-5", "duration": "4h", "timezone": "Europe/Copenhagen"}]


def test_change_control_commands_do_their_work(
        sim_factory: Callable[..., SimSite], tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    site: SimSite = sim_factory(version="2025 R1")
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".sim").symlink_to(site.state_dir)
    log = tmp_path / "audit.jsonl"
    monkeypatch.setenv("GWCTL_AUDIT_LOG", str(log))
    monkeypatch.setattr("gwctl.cli.change_policy.utc_now", lambda: NOON)
    doc = yaml.safe_load(site.fleet_path.read_text())
    (site_doc,) = doc["sites"].values()
    site_doc["settings"] = {"cors": CORS, "nlog": {"min_level": "Warn"}}
    site_doc["change_ref_required"] = True
    site_doc["maintenance_windows"] = [
        {"cron": "0 22 * * 1-5", "duration": "4h", "timezone": "Europe/Copenhagen"}]
    (tmp_path / ".sim" / "fleet.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))

    commands = section_commands("Change control:")
    assert [c.split()[1] for c in commands] == [
        "apply", "upgrade-plan", "plan", "sim", "apply", "reconcile", "reconcile", "rollback"]
    outputs = []
    snapshots = []  # demo-ms's files after each command
    for command in commands:
        outputs.append(run_gwctl_line(command, tmp_path, capsys))
        snapshots.append(files(site, "demo-ms"))
    (first, upgrade, plan, sim_up, saved, check, reconcile, rollback) = outputs
    assert first[0] == 0 and "demo/demo-ms: changed" in first[1], first
    managed = snapshots[0]
    assert b'minlevel="Warn"' in (managed["nlog.config"] or b"")
    assert upgrade[0] == 0 and "# Upgrade plan" in (tmp_path / "upgrade.md").read_text()
    assert plan[0] == 0, plan
    assert sim_up[0] == 0 and sim_up[1].startswith("demo-ms: now 2025 R2 (25.2.")
    assert sim_up[1].endswith("; nlog.config reset to the release default\n")
    assert snapshots[3]["nlog.config"] != managed["nlog.config"]
    assert snapshots[3]["appsettings.Production.json"] == managed["appsettings.Production.json"]
    assert saved[0] == 1 and snapshots[4] == snapshots[3]
    assert ("! demo/demo-ms (demo-ms): refused, not as planned: the gateway was upgraded "
            "since the plan was made (planned on 25.1.") in saved[1]
    assert check[0] == 2 and "nlog.config: not what gwctl wrote" in check[1], check
    assert snapshots[5] == snapshots[3]
    assert reconcile[0] == 0, reconcile
    assert "WARNING: site demo is outside its maintenance windows" in reconcile[1]
    assert snapshots[6] == managed
    assert rollback[0] == 0 and rollback[1].startswith("demo/demo-ms: rolled back"), rollback
    # back to the nlog.config reconcile replaced (the backups are chosen by time, so a run
    # this fast also takes back the first apply's override: not asserted here)
    assert snapshots[7]["nlog.config"] == snapshots[3]["nlog.config"]

    records = audit.read(log)
    assert [(r["action"], r["change_ref"]) for r in records] == [
        ("apply", "CHG-1233"), ("apply", "CHG-1234"), ("reconcile", "CHG-1234"),
        ("rollback", "CHG-1234")]
    assert records[2]["outside_window"] == "restore logging after the upgrade"
    ids = [e["event_id"] for e in read_entries(site.host_root("demo-ms"))
           if e["source"] == "gwctl"]
    assert ids == [1000, 1000, 1003, 1001]  # the second: the refused saved plan (Warning)
