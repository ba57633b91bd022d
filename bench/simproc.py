"""A simulator site in its own process, for benchmarks (so its CPU is not gwctl's).

Usage from a benchmark: ``with sim_process(state_dir, gateways=200, winrm_latency_ms=20)
as site_dir: ...`` -- yields once the site answers; stops it afterwards.
"""

from __future__ import annotations

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
keytab = sys.argv[4] if len(sys.argv) > 4 else None
site = SimSite.create(state, SiteSpec(gateways=gateways), wsman=True, kerberos_keytab=keytab)
def ready(s):
    if latency:
        s.wsman.faults.set("*", HostFaults(latency_ms=latency))
    (state / "bench-ready").write_text("ok")
site.serve_forever(ready)
"""


@contextmanager
def sim_process(state: Path, *, gateways: int, winrm_latency_ms: float = 0.0,
                kerberos_keytab: Path | None = None, env: dict[str, str] | None = None
                ) -> Iterator[Path]:
    """`kerberos_keytab`: the WinRM endpoint accepts Kerberos too (`env` names the KDC)."""
    state.mkdir(parents=True, exist_ok=True)
    ready = state / "bench-ready"
    ready.unlink(missing_ok=True)
    extra = [str(kerberos_keytab)] if kerberos_keytab else []
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(state), str(gateways),
                             str(winrm_latency_ms), *extra], env=env)
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


#: the change the deployment benchmarks roll out: CORS for a browser client
CORS_CHANGE = {"cors": {"enabled": True, "allow_origins": ["https://portal.example.com"],
                        "allow_headers": ["Authorization", "Content-Type"],
                        "allow_methods": ["GET", "POST", "PATCH"]}}


def fleet_with_change(state: Path, out: Path) -> Path:
    """The simulator's own fleet file with `CORS_CHANGE` as site settings, written to `out`."""
    import yaml

    doc = yaml.safe_load((state / "fleet.yaml").read_text())
    (site,) = doc["sites"].values()
    site["settings"] = CORS_CHANGE
    out.write_text(yaml.safe_dump(doc, sort_keys=False))
    return out
