"""Backup sets and the apply's one writing command (issue 11).

An apply's backups share one id chosen by the engine, so rollback restores the set of the
most recent apply and never mixes two applies made seconds apart; each backup checks the
file is still what the plan read before it copies anything, so the lost-update check
runs on the host under the lock; and the command that carries them with the writes is
sent again only when it provably stopped at its lock_acquire.
"""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

import pytest

from gwctl.deploy.hostlock import LOCK_PATH, HostLock, with_host_lock
from gwctl.deploy.results import GatewayResult
from gwctl.errors import GwctlError, OperationError, TransportError
from gwctl.hosts.inventory import InventoryHost
from gwctl.hosts.targets import Target
from gwctl.ops.batch import Step
from gwctl.ops.pyimpl import DirectoryHost
from gwctl.transport.base import Transport
from gwctl.transport.local import LocalTransport

if TYPE_CHECKING:
    from gwctl.sim.server import SimSite

GW_DIR = r"C:\Program Files\Milestone\XProtect API Gateway"
PRODUCTION = GW_DIR + r"\appsettings.Production.json"
NLOG = GW_DIR + r"\nlog.config"
BACKUPS = r"C:\ProgramData\gwctl\backups"
SET_A = "20250601T120000000000Z"
SET_B = "20250601T120001000000Z"


@pytest.fixture
def host(tmp_path: Path) -> DirectoryHost:
    root = tmp_path / "host"
    (root / "C" / "Program Files" / "Milestone" / "XProtect API Gateway").mkdir(parents=True)
    return DirectoryHost(root)


def backup(host: DirectoryHost, path: str, **extra: Any) -> dict[str, Any]:
    return host.run("backup", {"path": path, "backup_dir": BACKUPS, "keep": 10, **extra})


def refused(host: DirectoryHost, path: str, **extra: Any) -> OperationError:
    with pytest.raises(OperationError) as caught:
        backup(host, path, **extra)
    return caught.value


def backup_names(host: DirectoryHost) -> list[str]:
    folder = host.map_path(BACKUPS)
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_backup_refuses_a_file_that_is_not_what_the_plan_read(host: DirectoryHost) -> None:
    host.map_path(PRODUCTION).write_bytes(b'{"CORS": {}}')
    error = refused(host, PRODUCTION, backup_id=SET_A, expected_sha256=sha(b"{}"))
    assert error.code == "conflict"
    assert error.detail == {"expected": sha(b"{}"), "current": sha(b'{"CORS": {}}')}
    assert refused(host, NLOG, expected_sha256=sha(b"{}")).detail["current"] == "absent"
    # nothing copied, not even the backup directory
    assert backup_names(host) == []
    taken = backup(host, PRODUCTION, backup_id=SET_A, expected_sha256=sha(b'{"CORS": {}}'))
    assert taken["backup_id"] == SET_A and taken["sha256"] == sha(b'{"CORS": {}}')
    assert backup(host, NLOG, backup_id=SET_A, expected_sha256="absent")["absent"] is True


def test_one_chosen_id_names_every_file_of_an_apply(host: DirectoryHost) -> None:
    host.map_path(PRODUCTION).write_bytes(b"{}")
    assert backup(host, PRODUCTION, backup_id=SET_A.lower())["backup_id"] == SET_A
    assert backup(host, NLOG, backup_id=SET_A)["backup_path"] == \
        BACKUPS + r"\nlog.config." + SET_A + ".absent"
    listed = host.run("list_backups", {"path": PRODUCTION, "backup_dir": BACKUPS})["backups"]
    assert [(b["backup_id"], b["verified"]) for b in listed] == [(SET_A, True)]
    assert backup_names(host) == ["appsettings.Production.json." + SET_A + ".bak",
                                  "gwctl-manifest.json", "nlog.config." + SET_A + ".absent"]


def test_a_chosen_id_must_come_after_every_listed_backup(host: DirectoryHost) -> None:
    host.map_path(PRODUCTION).write_bytes(b"{}")
    backup(host, PRODUCTION, backup_id=SET_B)
    # the same id twice for one file, or an id before the newest set, of any file
    for path, wanted in ((PRODUCTION, SET_B), (PRODUCTION, SET_A), (NLOG, SET_A)):
        error = refused(host, path, backup_id=wanted)
        assert error.code == "out_of_order", (path, wanted)
        assert error.detail == {"backup_id": wanted, "newest": SET_B}
        assert f"backup id {wanted} does not come after the newest backup {SET_B}" \
            in error.message
    assert backup(host, NLOG, backup_id=SET_B)["backup_id"] == SET_B
    assert len(backup_names(host)) == 3


def test_a_file_gwctl_never_listed_blocks_no_chosen_id(host: DirectoryHost) -> None:
    host.map_path(PRODUCTION).write_bytes(b"{}")
    backup(host, PRODUCTION, backup_id=SET_A)
    planted = host.map_path(BACKUPS) / "nlog.config.29991231T235959999999Z.bak"
    planted.write_bytes(b"<nlog/>")
    assert backup(host, PRODUCTION, backup_id=SET_B)["backup_id"] == SET_B
    manifest = json.loads((host.map_path(BACKUPS) / "gwctl-manifest.json").read_bytes())
    assert planted.name not in manifest["backups"]


@pytest.mark.parametrize("wanted", ["2025", SET_A + "\n", "20251301T120000000000Z",
                                    "\uff12" + SET_A[1:], 20250601, ""])
def test_a_malformed_chosen_id_is_refused(host: DirectoryHost, wanted: Any) -> None:
    assert refused(host, PRODUCTION, backup_id=wanted).code == "bad_params"
    assert backup_names(host) == []


def test_retention_keeps_the_newest_sets_by_id(host: DirectoryHost) -> None:
    host.map_path(PRODUCTION).write_bytes(b"{}")
    ids = [f"2025060{d}T120000000000Z" for d in range(1, 6)]
    for wanted in ids:
        host.run("backup", {"path": PRODUCTION, "backup_dir": BACKUPS, "keep": 2,
                            "backup_id": wanted})
    listed = host.run("list_backups", {"path": PRODUCTION, "backup_dir": BACKUPS})["backups"]
    assert [b["backup_id"] for b in listed] == [ids[4], ids[3]]


def test_the_powershell_backup_declares_the_same_guards() -> None:
    from gwctl.ops import read_script

    script = read_script("backup")
    assert "Fail 'out_of_order'" in script and "Fail 'conflict'" in script
    # the refusals come before the backup directory is created or anything copied
    assert script.index("Fail 'out_of_order'") < script.index("Protect-Directory $dir")
    assert script.index("Fail 'conflict'") < script.index("Protect-Directory $dir")


# -- the lock's command is never sent twice when it writes ---------------------------------


class Recording(Transport):
    """A directory host's transport that records every command and breaks the exchange of
    the ones `broken` names (by their position, from 1), after the host ran them or
    before it did."""

    def __init__(self, host: LocalTransport, sent: list[list[str]],
                 broken: dict[int, str]) -> None:
        self.inner, self.sent, self.broken, self.name = host, sent, broken, host.name

    def run(self, op: str, params: Any, payload: bytes | None = None) -> dict[str, Any]:
        self._send([op])
        return self.inner.run(op, params, payload)

    def run_batch(self, steps: Sequence[Step]) -> list[dict[str, Any]]:
        when = self._send([s.op for s in steps])
        if when == "before":
            raise TransportError(f"{self.name}: connection reset (test)")
        answers = self.inner.run_batch(steps)
        if when == "after":
            raise TransportError(f"{self.name}: connection reset after the command (test)")
        return answers

    def _send(self, ops: list[str]) -> str | None:
        self.sent.append(ops)
        return self.broken.get(len(self.sent))


@pytest.fixture
def lock_host(tmp_path: Path) -> DirectoryHost:
    root = tmp_path / "h"
    (root / "C" / "ProgramData").mkdir(parents=True)
    return DirectoryHost(root)


def run_locked(host: DirectoryHost, first: list[Step], broken: dict[int, str]
               ) -> tuple[list[list[str]], GatewayResult, list[str]]:
    target = cast(Target, SimpleNamespace(host=SimpleNamespace(name="h1"), name="h1"))
    sent: list[list[str]] = []
    seen: list[str] = []

    def transports(_: InventoryHost) -> Transport:
        return Recording(LocalTransport("h1", host.root), sent, broken)

    def work(t: Transport, found: list[dict[str, Any]], lock: HostLock) -> None:
        seen.append(f"work with {len(found)} answers")

    def recovered(t: Transport, exc: GwctlError, lock: HostLock) -> None:
        seen.append(f"recover from {type(exc).__name__}")

    result = GatewayResult("demo/h1", "h1", "unchanged")
    with_host_lock(target, transports, "ci@controller pid 1", 60, result, work, first=first,
                   recover=recovered)
    return sent, result, seen


def write_step() -> Step:
    data = b"new"
    return Step("write_file", {"path": r"C:\ProgramData\note.txt", "sha256": sha(data),
                               "expected_sha256": "absent"}, data)


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_broken_exchange_of_a_writing_command_is_never_sent_again(
        lock_host: DirectoryHost, when: str) -> None:
    host = lock_host
    sent, _, seen = run_locked(host, [write_step()], {1: when})
    # one send of the writes; the engine's recovery path has it, then the lock goes
    assert sent == [["lock_acquire", "write_file"], ["lock_release"]], sent
    assert seen == ["recover from TransportError"]
    assert (host.map_path(r"C:\ProgramData\note.txt").exists()) is (when == "after")
    assert not host.map_path(LOCK_PATH).exists()


def test_a_broken_exchange_of_a_read_only_command_is_sent_again(
        lock_host: DirectoryHost) -> None:
    first = [Step("stat", {"paths": [r"C:\ProgramData\note.txt"]})]
    sent, result, seen = run_locked(lock_host, first, {1: "after"})
    # the same token re-acquires the lock it already holds
    assert sent == [["lock_acquire", "stat"], ["lock_acquire", "stat"], ["lock_release"]]
    assert seen == ["work with 1 answers"] and result.outcome == "unchanged"


def test_a_failure_after_the_lock_goes_to_recovery_once(lock_host: DirectoryHost) -> None:
    host = lock_host
    bad = Step("write_file", {"path": r"C:\ProgramData\note.txt", "sha256": sha(b"x"),
                              "expected_sha256": "absent"}, b"not x")
    sent, _, seen = run_locked(host, [bad, write_step()], {})
    assert sent == [["lock_acquire", "write_file", "write_file"], ["lock_release"]]
    assert seen == ["recover from BatchError"]
    assert not host.map_path(r"C:\ProgramData\note.txt").exists()


def test_a_busy_lock_of_a_dead_holder_is_the_one_resend(lock_host: DirectoryHost) -> None:
    """The command stopped at its lock_acquire (the host says so: `locked`, the rest not
    run), so sending it again cannot repeat a write."""
    host = lock_host
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    dead = f"killed@{socket.gethostname()} pid {int(child.stdout)}"
    host.run("lock_acquire", {"path": LOCK_PATH, "owner": dead, "ttl_seconds": 600})
    sent, result, seen = run_locked(host, [write_step()], {})
    assert sent == [["lock_acquire", "write_file"], ["lock_acquire", "write_file"],
                    ["lock_release"]], sent
    assert seen == ["work with 1 answers"]
    assert f"took over the lock of {dead} (process gone)" in result.steps
    assert host.map_path(r"C:\ProgramData\note.txt").read_bytes() == b"new"


def test_a_live_busy_lock_sends_nothing_more(lock_host: DirectoryHost) -> None:
    host = lock_host
    host.run("lock_acquire", {"path": LOCK_PATH, "owner": "ci@runner-7 pid 4711",
                              "ttl_seconds": 600})
    sent, result, seen = run_locked(host, [write_step()], {})
    assert sent == [["lock_acquire", "write_file"]], sent
    assert seen == [] and result.outcome == "failed"
    assert result.detail.startswith("host is locked by ci@runner-7 pid 4711")


# -- end to end over WinRM: the sets rollback restores --------------------------------------


def test_rollback_restores_the_set_of_the_latest_apply_only(
        sim_site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two applies seconds apart, the first changing both files, the second only
    appsettings: rollback undoes the second alone (grouping backups by time took the
    first apply's nlog.config backup as well)."""
    from test_deploy import CORS, ORIGIN, files, gwctl, write_fleet

    inv = str(sim_site.inventory_path)
    before = files(sim_site, "demo-gw1")
    first = write_fleet(sim_site, tmp_path / "a.yaml",
                        site_settings={"cors": CORS, "nlog": {"min_level": "Debug"}})
    assert gwctl(capsys, "apply", "-f", str(first), "-i", inv, "--yes",
                 "--gateway", "demo-gw1")[0] == 0
    after_first = files(sim_site, "demo-gw1")
    assert all(after_first[n] != before[n] for n in before), "both files change"
    second = write_fleet(sim_site, tmp_path / "b.yaml", site_settings={
        "cors": {**CORS, "allow_origins": [ORIGIN, "https://b.example"]},
        "nlog": {"min_level": "Debug"}})
    code, out = gwctl(capsys, "apply", "-f", str(second), "-i", inv, "--yes",
                      "--gateway", "demo-gw1")
    assert code == 0, out
    assert files(sim_site, "demo-gw1")["nlog.config"] == after_first["nlog.config"]
    backups = sorted(p.name for p in (sim_site.host_root("demo-gw1") / "C" / "ProgramData"
                                      / "gwctl" / "backups").glob("*.*Z.*"))
    ids = sorted({name.rsplit(".", 2)[1] for name in backups})
    # one id per apply, shared by the files it backed up
    assert len(ids) == 2 and [n for n in backups if ids[1] in n] == [
        f"appsettings.Production.json.{ids[1]}.bak"], backups
    code, out = gwctl(capsys, "rollback", "--gateway", "demo-gw1", "-f", str(second),
                      "-i", inv)
    assert code == 0, out
    assert out.startswith("demo/demo-gw1: rolled back"), out
    assert f"restored appsettings.Production.json from {ids[1]}" in out, out
    assert files(sim_site, "demo-gw1") == after_first


def test_a_conflict_found_under_the_lock_takes_no_backup(
        sim_site: SimSite, tmp_path: Path) -> None:
    from test_deploy import CORS, _plan, files, write_fleet

    from gwctl.deploy.apply import ApplyOptions, apply_gateway
    from gwctl.hosts.targets import open_transport

    fleet = write_fleet(sim_site, tmp_path / "fleet.yaml", site_settings={"cors": CORS})
    target, plan = _plan(sim_site, fleet, "demo-gw1")
    # someone edits the file by hand after the plan was made
    edited = b'{"Logging": {"LogLevel": {"Default": "Warning"}}}'
    sim_site.production_path("demo-gw1").write_bytes(edited)
    home = sim_site.host_root("demo-gw1") / "C" / "ProgramData" / "gwctl"
    folder = home / "backups"
    existing = sorted(folder.iterdir()) if folder.is_dir() else []
    record = home / "activation.json"
    record_before = record.read_bytes() if record.exists() else None
    result = apply_gateway(target, plan, open_transport, ApplyOptions())
    assert result.outcome == "failed"
    assert result.detail == ("appsettings.Production.json changed on the host since the "
                             "plan was made; run diff again"), result.detail
    assert files(sim_site, "demo-gw1")["appsettings.Production.json"] == edited
    # no backup taken, no record written, the lock released
    assert (sorted(folder.iterdir()) if folder.is_dir() else []) == existing
    assert (record.read_bytes() if record.exists() else None) == record_before
    assert not (home / "apply.lock").exists()
    assert "locked" in result.steps and "unlocked" in result.steps
