"""How many remote commands a gateway costs, counted by the simulator's WS-Management
endpoint over real WinRM (each one a PowerShell start on a Windows host).

Apply sends the steps that belong together as one batch (docs/remote-operations.md,
"Batches"): the plan's read takes the installed versions with the files (the version
gate asks nothing more), so a gateway with nothing to change costs that one command and
a changed one three, counted end to end: the lock, the backups (which check the plan's
read on the host), the record, the writes and the recycle travel as one; the audit event
of `gwctl apply` goes with the command that marks the activation done and releases the
lock.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from remote_counter import RemoteCounter

from gwctl.ops.eventlog import read_entries

if TYPE_CHECKING:
    from gwctl.sim.server import SimSite

pytestmark = pytest.mark.timeout(300)

PLAN = "stat+read_versions"  # files, host facts, activation record, installed versions
# lock, backup, record, appsettings, recycle
APPLY = ["lock_acquire+backup+write_file+write_file+recycle_app_pool"]
DONE = "write_file+lock_release"  # record done, unlock


def test_gwctl_apply_costs_three_commands_per_changed_gateway(
        sim_site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from test_deploy import CORS, files, gwctl, write_fleet

    fleet = write_fleet(sim_site, tmp_path / "fleet.yaml", site_settings={"cors": CORS})
    before = files(sim_site, "demo-gw1")
    counter = RemoteCounter(sim_site)
    args = ("apply", "-f", str(fleet), "-i", str(sim_site.inventory_path), "--yes")
    code, out = gwctl(capsys, *args)
    assert code == 0, out
    assert "demo/demo-gw1  demo-gw1  changed" in out, out
    assert files(sim_site, "demo-gw1") != before
    seen = counter.take()
    # the plan's read (versions included), then the apply itself; the audit record
    # reaches the host's event log in the last command
    assert seen["demo-gw1"] == [PLAN, *APPLY, DONE + "+write_event"], seen
    assert len(seen["demo-gw1"]) == 3
    # the management server's host also carries the site lock (one command each way)
    assert seen["demo-ms"] == ["lock_acquire", PLAN, *APPLY, DONE + "+write_event",
                               "lock_release"], seen
    events = [e for e in read_entries(sim_site.host_root("demo-gw1")) if e["source"] == "gwctl"]
    assert len(events) == 1 and json.loads(events[0]["message"])["hosts"][0]["outcome"] \
        == "changed"

    code, out = gwctl(capsys, *args)
    assert code == 0 and "nothing to apply" in out, out
    seen = counter.take()
    assert seen["demo-gw1"] == [PLAN], seen
    assert seen["demo-ms"] == ["lock_acquire", PLAN, "lock_release"], seen


def test_rollback_costs_three_commands(sim_site: SimSite, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from test_deploy import CORS, files, gwctl, write_fleet

    fleet = write_fleet(sim_site, tmp_path / "fleet.yaml", site_settings={"cors": CORS})
    before = files(sim_site, "demo-gw1")
    code, out = gwctl(capsys, "apply", "-f", str(fleet), "-i", str(sim_site.inventory_path),
                      "--yes", "--gateway", "demo-gw1")
    assert code == 0, out
    counter = RemoteCounter(sim_site)
    code, out = gwctl(capsys, "rollback", "-f", str(fleet), "-i",
                      str(sim_site.inventory_path), "--gateway", "demo-gw1")
    assert code == 0, out
    assert files(sim_site, "demo-gw1") == before
    # its audit event goes with the command that marks it done and releases the lock
    assert counter.take()["demo-gw1"] == [
        "lock_acquire+stat+list_backups+list_backups+read_versions",
        "write_file+backup+restore+recycle_app_pool",
        "write_file+lock_release+write_event"]
    events = [e for e in read_entries(sim_site.host_root("demo-gw1")) if e["source"] == "gwctl"]
    assert [e["event_id"] for e in events] == [1000, 1001]


def test_the_role_costs_three_commands_per_changed_gateway(
        sim_site: SimSite, tmp_path: Path) -> None:
    from test_ansible_role import CORS, host_files, playbook, recap, set_settings

    set_settings(sim_site.fleet_path, {"cors": CORS})
    before = host_files(sim_site, "demo-gw1")
    home = tmp_path / "home"
    home.mkdir()
    counter = RemoteCounter(sim_site)
    r = playbook(sim_site, "site.yml", home)
    assert r.returncode == 0, r.stdout + r.stderr
    assert recap(r.stdout)["demo-gw1"]["changed"] == 1
    assert host_files(sim_site, "demo-gw1") != before
    seen = counter.take()
    # through the task's own Ansible winrm connection: the same engine, the same commands
    # (the audit event rides on the last one, as for gwctl apply); site.yml holds the site
    # lock on the management server's host around the play
    assert seen["demo-gw1"] == [PLAN, *APPLY, DONE + "+write_event"], seen
    assert len(seen["demo-gw1"]) == 3
    assert seen["demo-ms"] == ["lock_acquire", PLAN, *APPLY, DONE + "+write_event",
                               "lock_release"], seen

    r = playbook(sim_site, "site.yml", home)
    assert r.returncode == 0, r.stdout + r.stderr
    assert recap(r.stdout)["demo-gw1"]["changed"] == 0
    seen = counter.take()
    assert seen == {"demo-ms": ["lock_acquire", PLAN, "lock_release"], "demo-gw1": [PLAN]}, seen
