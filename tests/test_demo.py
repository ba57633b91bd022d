"""`make demo` runs end to end and leaves nothing running."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_demo_runs_and_cleans_up(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    r = subprocess.run([sys.executable, "-m", "gwctl.demo"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=240, check=False)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    for expected in (
        "$ gwctl validate -f examples/fleet.yaml",
        "$ gwctl lint-file examples/manual/",
        "$ gwctl sim up --site demo",
        "$ gwctl apply -f .sim/demo/demo-fleet.yaml -i .sim/demo/inventory.yml --yes",
        "access-control-allow-origin: https://portal.example.com",
        "nothing to apply",
        "gwctl sim: stopped",
        "demo finished",
    ):
        assert expected in out, expected
    assert "demo-turn-secret" not in out
    # the simulator is gone and its ports are free again
    state = yaml.safe_load((ROOT / ".sim" / "demo" / "inventory.yml").read_text())
    (group,) = state["all"]["children"].values()
    ports = {int(h["gwctl_gateway_url"].split(":")[2].split("/")[0])
             for h in group["hosts"].values()} | {h["ansible_port"]
                                                   for h in group["hosts"].values()}
    for port in ports:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
