"""How many remote commands a gateway costs, counted by the simulator's WS-Management
endpoint over real WinRM (each one a PowerShell start on a Windows host).

Apply sends the steps that belong together as one batch (docs/remote-operations.md,
"Batches"): a changed gateway costs three commands once it is planned and its version
checked, and a gateway with nothing to change costs the plan's one read.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from gwctl.ops.wire import split_stdin

if TYPE_CHECKING:
    from gwctl.sim.server import SimSite

pytestmark = pytest.mark.timeout(300)

APPLY = ["lock_acquire+stat+backup",
         "write_file+write_file+recycle_app_pool",  # record, appsettings, recycle
         "write_file+lock_release"]  # record done, unlock


class CommandCounter:
    """Wraps the endpoint's command handlers: the operations of every command each host
    was asked to start, in order."""

    def __init__(self, site: SimSite) -> None:
        self.lock = threading.Lock()
        self.commands: dict[str, list[str]] = defaultdict(list)
        inner = site.wsman.resolver

        def resolve(host: str) -> Any:
            handler = inner(host)
            return None if handler is None else _Counted(self, host.lower(), handler)

        site.wsman.resolver = resolve

    def take(self) -> dict[str, list[str]]:
        with self.lock:
            seen, self.commands = dict(self.commands), defaultdict(list)
        return seen


class _Counted:
    def __init__(self, counter: CommandCounter, host: str, handler: Any) -> None:
        self.counter, self.host, self.handler = counter, host, handler

    def run(self, command: str, arguments: list[str], stdin: bytes) -> Any:
        header, _ = split_stdin(stdin)
        what = ("+".join(s["op"] for s in header["batch"]) if header.get("batch")
                else str(header.get("op")))
        with self.counter.lock:
            self.counter.commands[self.host].append(what)
        return self.handler.run(command, arguments, stdin)


def test_gwctl_apply_costs_three_commands_per_changed_gateway(
        sim_site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from test_deploy import CORS, files, gwctl, write_fleet

    fleet = write_fleet(sim_site, tmp_path / "fleet.yaml", site_settings={"cors": CORS})
    before = files(sim_site, "demo-gw1")
    counter = CommandCounter(sim_site)
    args = ("apply", "-f", str(fleet), "-i", str(sim_site.inventory_path), "--yes")
    code, out = gwctl(capsys, *args)
    assert code == 0, out
    assert "demo/demo-gw1  demo-gw1  changed" in out, out
    assert files(sim_site, "demo-gw1") != before
    seen = counter.take()
    # the plan's read, the version gate's read, then the apply itself
    assert seen["demo-gw1"] == ["stat", "read_versions", *APPLY], seen
    # the management server's host also carries the site lock (one command each way)
    assert seen["demo-ms"] == ["lock_acquire", "stat", "read_versions", *APPLY,
                               "lock_release"], seen

    code, out = gwctl(capsys, *args)
    assert code == 0 and "nothing to apply" in out, out
    seen = counter.take()
    assert seen["demo-gw1"] == ["stat"], seen
    assert seen["demo-ms"] == ["lock_acquire", "stat", "lock_release"], seen


def test_rollback_costs_three_commands(sim_site: SimSite, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from test_deploy import CORS, files, gwctl, write_fleet

    fleet = write_fleet(sim_site, tmp_path / "fleet.yaml", site_settings={"cors": CORS})
    before = files(sim_site, "demo-gw1")
    code, out = gwctl(capsys, "apply", "-f", str(fleet), "-i", str(sim_site.inventory_path),
                      "--yes", "--gateway", "demo-gw1")
    assert code == 0, out
    counter = CommandCounter(sim_site)
    code, out = gwctl(capsys, "rollback", "-f", str(fleet), "-i",
                      str(sim_site.inventory_path), "--gateway", "demo-gw1")
    assert code == 0, out
    assert files(sim_site, "demo-gw1") == before
    assert counter.take()["demo-gw1"] == [
        "lock_acquire+stat+list_backups+list_backups",
        "write_file+backup+restore+recycle_app_pool",
        "write_file+lock_release"]


def test_the_role_costs_three_commands_per_changed_gateway(
        sim_site: SimSite, tmp_path: Path) -> None:
    from test_ansible_role import CORS, host_files, playbook, recap, set_settings

    set_settings(sim_site.fleet_path, {"cors": CORS})
    before = host_files(sim_site, "demo-gw1")
    home = tmp_path / "home"
    home.mkdir()
    counter = CommandCounter(sim_site)
    r = playbook(sim_site, "site.yml", home)
    assert r.returncode == 0, r.stdout + r.stderr
    assert recap(r.stdout)["demo-gw1"]["changed"] == 1
    assert host_files(sim_site, "demo-gw1") != before
    seen = counter.take()
    # through the task's own Ansible winrm connection: the same engine, the same commands
    for host in ("demo-ms", "demo-gw1"):
        assert seen[host] == ["stat", "read_versions", *APPLY], seen

    r = playbook(sim_site, "site.yml", home)
    assert r.returncode == 0, r.stdout + r.stderr
    assert recap(r.stdout)["demo-gw1"]["changed"] == 0
    assert counter.take() == {"demo-ms": ["stat"], "demo-gw1": ["stat"]}
