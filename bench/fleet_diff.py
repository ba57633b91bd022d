"""Benchmark: `gwctl diff` across 200 emulated gateways, 20 ms per WinRM round trip.

Target (issue 5): under 5 s. The baseline is the same diffs one host after another
(`--workers 1`), measured in the same run. The simulator runs in its own process, with
the latency injected into every HTTP response of its WS-Management endpoint.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
WORK = HERE / ".work" / "fleet_diff"
GATEWAYS = 200


def diff(fleet: Path, inventory: Path, workers: int) -> tuple[float, dict[str, object]]:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "gwctl.cli.main", "diff", "-f", str(fleet),
                        "-i", str(inventory), "--output", "json", "--workers", str(workers)],
                       capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if r.returncode not in (0, 2):
        raise SystemExit(f"diff failed ({r.returncode}): {r.stderr[-2000:]}")
    doc: dict[str, object] = json.loads(r.stdout)
    return wall, doc


def main() -> int:
    from simproc import sim_process

    shutil.rmtree(WORK, ignore_errors=True)
    with sim_process(WORK / "sim", gateways=GATEWAYS, winrm_latency_ms=20) as state:
        doc = yaml.safe_load((state / "fleet.yaml").read_text())
        (site,) = doc["sites"].values()
        site["settings"] = {"cors": {"enabled": True,
                                     "allow_origins": ["https://portal.example.com"],
                                     "allow_headers": ["Authorization", "Content-Type"],
                                     "allow_methods": ["GET", "POST", "PATCH"]}}
        fleet = WORK / "fleet.yaml"
        fleet.write_text(yaml.safe_dump(doc, sort_keys=False))
        inventory = state / "inventory.yml"
        concurrent, result = diff(fleet, inventory, 32)
        summary = result["summary"]
        sequential, _ = diff(fleet, inventory, 1)
    print(f"diff of {GATEWAYS} gateways, 20 ms per WinRM round trip: {concurrent:.2f} s "
          f"with 32 workers (target < 5 s); summary {summary}")
    print(f"one host after another: {sequential:.2f} s; ratio {sequential / concurrent:.1f}x")
    ok = concurrent < 5 and summary == {"in_sync": 0, "drift": GATEWAYS, "error": 0,  # type: ignore[comparison-overlap]
                                         "recycle": GATEWAYS}
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
