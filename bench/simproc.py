"""A simulator site in its own process, for benchmarks (so its CPU is not gwctl's).

Usage from a benchmark: ``with sim_process(state_dir, gateways=200, winrm_latency_ms=20)
as site_dir: ...`` -- yields once the site answers; stops it afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHILD = """
import json, sys
from pathlib import Path
from gwctl.sim.server import SimSite
from gwctl.sim.state import SiteSpec
from gwctl.sim.wsman.faults import HostFaults
state, gateways, latency = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
site = SimSite.create(state, SiteSpec(gateways=gateways), wsman=True)
def ready(s):
    if latency:
        s.wsman.faults.set("*", HostFaults(latency_ms=latency))
    (state / "bench-ready").write_text("ok")
site.serve_forever(ready)
"""


@contextmanager
def sim_process(state: Path, *, gateways: int, winrm_latency_ms: float = 0.0
                ) -> Iterator[Path]:
    state.mkdir(parents=True, exist_ok=True)
    ready = state / "bench-ready"
    ready.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(state), str(gateways),
                             str(winrm_latency_ms)])
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the simulator did not start")
            time.sleep(0.05)
        yield state
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def status_json(path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(path.read_text())
    return data
