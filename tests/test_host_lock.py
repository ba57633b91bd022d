"""The host lock's safety valves (issue 10): a lifetime cap whatever the lock file says,
taking over exactly a holder proven dead, the stale-owner check, and `gwctl unlock`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from gwctl.cli.main import main
from gwctl.deploy.hostlock import LOCK_PATH, holder_is_dead, owner_name
from gwctl.errors import OperationError
from gwctl.ops.pyimpl import DirectoryHost

if TYPE_CHECKING:
    from gwctl.sim.server import SimSite

START = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def host(tmp_path: Path, clock: Clock) -> DirectoryHost:
    return DirectoryHost(tmp_path, clock=clock)


def acquire(host: DirectoryHost, owner: str, **extra: Any) -> dict[str, Any]:
    return host.run("lock_acquire", {"path": LOCK_PATH, "owner": owner, "ttl_seconds": 60,
                                     **extra})


def refused(host: DirectoryHost, owner: str, **extra: Any) -> OperationError:
    with pytest.raises(OperationError) as caught:
        acquire(host, owner, **extra)
    return caught.value


def plant(host: DirectoryHost, record: dict[str, Any]) -> Path:
    """A lock record as gwctl signs it (with this host's key), whatever it says."""
    from gwctl.ops.hostkey import host_key, mac

    key = host_key(host.map_path)
    from gwctl.ops.hostfiles import parse_utc, utc_text

    times = [utc_text(parse_utc(record[k])) for k in ("acquired_at", "expires_at")]
    signed = {**record, "mac": mac(key, "lock", record["token"], record["owner"], *times)}
    path = host.map_path(LOCK_PATH)
    path.write_text(json.dumps(signed))
    return path


def test_a_far_future_expiry_is_capped_at_a_day(host: DirectoryHost, clock: Clock) -> None:
    path = plant(host, {"token": "a" * 32, "owner": "planted", "acquired_at":
                        "2025-06-01T12:00:00.000000Z", "expires_at": "2099-01-01T00:00:00Z"})
    mtime = START.timestamp()
    os.utime(path, (mtime, mtime))
    error = refused(host, "ci")
    assert error.code == "locked"
    assert error.detail["expires_at"] == "2025-06-02T12:00:00.000000Z"
    clock.now = START + timedelta(days=1, seconds=1)
    assert acquire(host, "ci")["owner"] == "ci"


def test_a_backdated_acquired_at_does_not_beat_the_cap_of_the_file_time(
        host: DirectoryHost, clock: Clock) -> None:
    path = plant(host, {"token": "a" * 32, "owner": "planted", "acquired_at":
                        "2099-01-01T00:00:00.000000Z", "expires_at": "2099-01-02T00:00:00Z"})
    os.utime(path, (START.timestamp(), START.timestamp()))
    assert refused(host, "ci").detail["expires_at"] == "2025-06-02T12:00:00.000000Z"


def test_ttl_above_a_day_is_refused(host: DirectoryHost) -> None:
    error = refused(host, "ci", ttl_seconds=86401)
    assert error.code == "bad_params" and "86400" in error.message


def test_take_over_needs_the_exact_holder(host: DirectoryHost) -> None:
    held = acquire(host, "dead@ctl pid 1")
    wrong = {"owner": "dead@ctl pid 1", "acquired_at": "2025-06-01T11:59:59.000000Z"}
    assert refused(host, "next", take_over=wrong).code == "locked"
    other = {"owner": "someone else", "acquired_at": held["acquired_at"]}
    assert refused(host, "next", take_over=other).code == "locked"
    mine = acquire(host, "next", take_over={"owner": held["owner"],
                                            "acquired_at": held["acquired_at"]})
    assert mine["owner"] == "next" and mine["token"] != held["token"]


@pytest.mark.parametrize("bad", [
    "dead@ctl pid 1", {"owner": "x"}, {"owner": "", "acquired_at": "t"},
    {"owner": "x", "acquired_at": "t", "token": "y"}, {"owner": 1, "acquired_at": "t"},
])
def test_take_over_must_name_a_holder(host: DirectoryHost, bad: Any) -> None:
    assert refused(host, "next", take_over=bad).code == "bad_params"


def test_take_over_parameter_is_declared_by_the_powershell_script() -> None:
    from gwctl.ops import read_script

    text = read_script("lock_acquire")
    assert "'take_over'" in text and "$MaxLockSeconds = 86400" in text


def exited_pid() -> int:
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    return int(child.stdout)


def test_only_a_gone_process_of_this_controller_is_dead() -> None:
    here = socket.gethostname()
    assert holder_is_dead(f"ci@{here} pid {exited_pid()}")
    assert not holder_is_dead(owner_name())  # this very process
    assert not holder_is_dead(f"ci@{here} pid {os.getppid()}")  # alive
    assert not holder_is_dead(f"ci@other-controller pid {exited_pid()}")
    assert not holder_is_dead("an unknown holder")
    assert not holder_is_dead(None)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out + err


def foreign_lock(sim_site: SimSite, name: str) -> None:
    """A live lock of another controller's run on host `name`, valid for an hour."""
    DirectoryHost(sim_site.host_root(name)).run("lock_acquire", {
        "path": LOCK_PATH, "owner": "ci@runner-7 pid 4711", "ttl_seconds": 3600})


def changed_fleet(sim_site: SimSite, tmp_path: Path) -> Path:
    import yaml

    doc = yaml.safe_load(sim_site.fleet_path.read_text())
    (site,) = doc["sites"].values()
    site["settings"] = {"logging": {"levels": {"Yarp": "Information"}}}
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(yaml.safe_dump(doc))
    return fleet


def test_unlock_removes_a_left_lock_and_apply_proceeds(
        sim_site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inventory = str(sim_site.inventory_path)
    fleet = str(changed_fleet(sim_site, tmp_path))
    lock = sim_site.host_root("demo-gw1") / "C" / "ProgramData" / "gwctl" / "apply.lock"
    code, out = run(capsys, "unlock", "--host", "demo-gw1", "-i", inventory, "--yes")
    assert (code, out) == (0, "demo-gw1: not locked\n")
    # a run of another controller that will not come back
    foreign_lock(sim_site, "demo-gw1")
    code, out = run(capsys, "unlock", "--host", "demo-gw1", "-i", inventory, "--yes")
    assert code == 0, out
    assert "demo-gw1: locked by ci@runner-7 pid 4711 since " in out
    assert out.endswith("demo-gw1: lock of ci@runner-7 pid 4711 removed\n")
    assert not lock.exists()
    code, out = run(capsys, "apply", "-f", fleet, "-i", inventory, "--gateway", "demo-gw1",
                    "--yes")
    assert code == 0 and "demo/demo-gw1: changed" in out, out
    assert b'"Yarp": "Information"' in sim_site.production_path("demo-gw1").read_bytes()


def test_unlock_without_a_terminal_needs_yes(
        sim_site: SimSite, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "unlock", "--host", "demo-gw1", "-i", str(sim_site.inventory_path))
    assert code == 64 and "pass --yes" in out


def test_a_lock_file_gwctl_did_not_write_blocks_nothing(
        sim_site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fleet = changed_fleet(sim_site, tmp_path)
    lock = sim_site.host_root("demo-gw1") / "C" / "ProgramData" / "gwctl" / "apply.lock"
    now = datetime.now(UTC)
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text(json.dumps({  # well-formed, unsigned: planted
        "token": "c" * 32, "owner": "mallory",
        "acquired_at": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "expires_at": (now + timedelta(hours=20)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}))
    code, out = run(capsys, "apply", "-f", str(fleet), "-i", str(sim_site.inventory_path),
                    "--gateway", "demo-gw1", "--yes")
    assert code == 0 and "demo/demo-gw1: changed" in out, out
    assert not lock.exists()


def test_apply_refuses_a_live_foreign_lock_naming_unlock(
        sim_site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fleet = changed_fleet(sim_site, tmp_path)
    foreign_lock(sim_site, "demo-gw1")
    code, out = run(capsys, "apply", "-f", str(fleet), "-i", str(sim_site.inventory_path),
                    "--gateway", "demo-gw1", "--yes")
    assert code == 1
    assert "host is locked by ci@runner-7 pid 4711 (until " in out
    assert "'gwctl unlock' removes the lock" in out
    before = sim_site.production_path("demo-gw1")
    assert not before.exists() or b"Information" not in before.read_bytes()
