"""``gwctl sim up/status/recycle/fault/down`` as a user runs them: subprocesses, a background
simulator that outlives the CLI, and nothing left behind (process gone, ports free)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gwctl.processes import pid_alive

pytestmark = pytest.mark.timeout(60)


def gwctl(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gwctl.cli.main", *args],
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    d = tmp_path / ".sim"
    yield d
    gwctl("sim", "down", "--state", str(d))  # never leave a simulator behind


def _ports(d: Path) -> list[int]:
    state = json.loads((d / "state.json").read_text("utf-8"))
    ports = [h["port"] for h in state["hosts"].values() if h["port"]]
    proc = state["process"]
    return [*ports, proc["admin_port"], proc["wsman_port"]]


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_help_says_it_is_not_windows() -> None:
    out = gwctl("sim", "--help").stdout
    assert "NOT Windows" in out and "loopback" in out
    assert "not Windows" in gwctl("sim", "up", "--help").stdout


def test_up_status_recycle_fault_down(state_dir: Path) -> None:
    d = str(state_dir)
    up = gwctl("sim", "up", "--site", "demo", "--version", "2025 R2", "--gateways", "2",
               "--state", d, "--fault", "demo-gw1=latency:1")
    assert up.returncode == 0, up.stderr
    assert "not Windows" in up.stdout and "http://127.0.0.1:" in up.stdout
    assert (state_dir / "inventory.yml").is_file() and (state_dir / "fleet.yaml").is_file()
    pid = int((state_dir / "sim.pid").read_text())
    assert pid_alive(pid) and pid != os.getpid()
    ports = _ports(state_dir)
    status = json.loads(gwctl("sim", "status", "--state", d, "--output", "json").stdout)
    assert status["running"] and status["process"]["pid"] == pid
    urls = {g["name"]: g["url"] for g in status["gateways"]}
    assert httpx.get(urls["demo-gw1"] + "/.well-known/uris").status_code == 200
    assert status["gateways"][1]["faults"] == ["latency:1"]

    again = gwctl("sim", "up", "--state", d)
    assert again.returncode == 1 and "already running" in again.stderr

    text = gwctl("sim", "status", "--state", d)
    assert text.returncode == 0 and "demo-gw1" in text.stdout and "ok" in text.stdout

    production = (state_dir / "hosts" / "demo-gw1" / "C" / "Program Files" / "Milestone"
                  / "XProtect API Gateway" / "appsettings.Production.json")
    production.write_text('{"CORS": {"Enabled": true,,}}', "utf-8")
    assert httpx.get(urls["demo-gw1"] + "/.well-known/uris").status_code == 200
    recycled = gwctl("sim", "recycle", "--state", d, "--host", "demo-gw1")
    assert recycled.returncode == 0, recycled.stderr
    assert "503" in recycled.stdout
    assert httpx.get(urls["demo-gw1"] + "/.well-known/uris").status_code == 503
    assert "503" in gwctl("sim", "status", "--state", d).stdout

    fault = gwctl("sim", "fault", "--state", d, "--host", "demo-ms", "5xx-burst:1/502")
    assert fault.returncode == 0 and "5xx-burst:1/502" in fault.stdout
    assert httpx.get(urls["demo-ms"] + "/.well-known/uris").status_code == 502
    assert httpx.get(urls["demo-ms"] + "/.well-known/uris").status_code == 200
    assert gwctl("sim", "fault", "--state", d, "--host", "demo-ms", "bogus").returncode == 64
    assert gwctl("sim", "recycle", "--state", d, "--host", "nope").returncode != 0

    upgraded = gwctl("sim", "upgrade", "--state", d, "--host", "demo-gw1", "--version",
                     "2025 R1")
    assert upgraded.returncode == 0 and "2025 R1" in upgraded.stdout
    assert "does not match" in gwctl("sim", "status", "--state", d).stdout

    down = gwctl("sim", "down", "--state", d)
    assert down.returncode == 0 and "stopped" in down.stdout
    assert not pid_alive(pid)
    assert all(_bindable(p) for p in ports), ports
    assert gwctl("sim", "down", "--state", d).returncode == 0  # idempotent
    assert gwctl("sim", "status", "--state", d).returncode == 1
    assert gwctl("sim", "recycle", "--state", d, "--host", "demo-gw1").returncode == 1

    # while down, a fault is recorded for the next start; the edited file survives
    later = gwctl("sim", "fault", "--state", d, "--host", "demo-gw1", "--clear")
    assert later.returncode == 0 and "next" in later.stdout
    conflict = gwctl("sim", "up", "--state", d, "--gateways", "5")
    assert conflict.returncode == 64 and "--reset" in conflict.stderr
    up2 = gwctl("sim", "up", "--state", d)
    assert up2.returncode == 0, up2.stderr
    pid2 = int((state_dir / "sim.pid").read_text())
    status2 = json.loads(gwctl("sim", "status", "--state", d, "--output", "json").stdout)
    gw1 = status2["gateways"][1]
    assert gw1["serving"].startswith("503") and gw1["faults"] == []
    assert gw1["url"] == urls["demo-gw1"]  # the previous ports are reused when free
    assert gwctl("sim", "down", "--state", d).returncode == 0
    deadline = time.monotonic() + 5
    while pid_alive(pid2):
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_up_failure_is_reported(tmp_path: Path) -> None:
    bad = gwctl("sim", "up", "--state", str(tmp_path / "x"), "--version", "2025 R7")
    assert bad.returncode != 0 and "2025 R7" in bad.stderr
    assert not (tmp_path / "x" / "sim.pid").exists()
