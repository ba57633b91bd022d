"""Benchmark: `gwctl diff` across 200 emulated gateways, 20 ms per WinRM round trip.

Target (issue 5): under 5 s. The baseline is the same diffs one host after another
(`--workers 1`), measured in the same run. The concurrent diff runs three times and is
judged on its best run (all three are printed): the machine is shared. The simulator
runs in its own process, with the latency injected into every HTTP response of its
WS-Management endpoint.

Then the same concurrent diff logs on with Kerberos (issue 17) instead of NTLM: a real MIT
KDC on loopback (tests/kdc.py; needs krb5-kdc and the kerberos extra), the simulator
accepting with a keytab. Both figures are printed side by side; the Kerberos run is
judged by the same 5 s target.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
WORK = HERE / ".work" / "fleet_diff"


def diff(fleet: Path, inventory: Path, workers: int, env: dict[str, str] | None = None,
         *options: str) -> tuple[float, dict[str, object]]:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "gwctl.cli.main", "diff", "-f", str(fleet),
                        "-i", str(inventory), "--output", "json", "--workers", str(workers),
                        *options],
                       capture_output=True, text=True, check=False, env=env)
    wall = time.perf_counter() - t0
    if r.returncode not in (0, 2):
        raise SystemExit(f"diff failed ({r.returncode}): {r.stderr[-2000:]}")
    doc: dict[str, object] = json.loads(r.stdout)
    return wall, doc


def main() -> int:
    from simproc import fleet_with_change, sim_process

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gateways", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3, help="concurrent runs, judged on the best")
    ns = ap.parse_args()
    gateways, runs_wanted = ns.gateways, ns.runs

    shutil.rmtree(WORK, ignore_errors=True)
    with sim_process(WORK / "sim", gateways=gateways, winrm_latency_ms=20) as state:
        fleet = fleet_with_change(state, WORK / "fleet.yaml")
        inventory = state / "inventory.yml"
        # this machine is shared: three runs, judged on the best, all printed
        runs = [diff(fleet, inventory, 32) for _ in range(runs_wanted)]
        sequential, _ = diff(fleet, inventory, 1)
    walls = [wall for wall, _ in runs]
    summary = runs[0][1]["summary"]
    best = min(walls)
    print(f"diff of {gateways} gateways, 20 ms per WinRM round trip, 32 workers: "
          f"{', '.join(f'{w:.2f} s' for w in walls)} (best {best:.2f} s; target < 5 s); "
          f"summary {summary}")
    print(f"one host after another: {sequential:.2f} s; ratio {sequential / best:.1f}x")
    # diff's summary, every key: a count that moved (or a new key) is a finding
    expected = {"in_sync": 0, "drift": gateways, "error": 0, "blocked": 0,
                "recycle": gateways}
    ok = best < 5 and all(doc["summary"] == expected for _, doc in runs)
    kerberos = kerberos_runs(expected, gateways, runs_wanted)
    if kerberos is None:
        print("Kerberos: not measured (no KDC here: install krb5-kdc and .[kerberos])")
    else:
        k_best = min(kerberos)
        print(f"{'':>14}NTLM best {best:.2f} s | Kerberos best {k_best:.2f} s "
              f"({', '.join(f'{w:.2f} s' for w in kerberos)}; ratio {k_best / best:.2f}x)")
        ok = ok and k_best < 5
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def kerberos_runs(expected: dict[str, int], gateways: int, runs: int) -> list[float] | None:
    """The concurrent diff again, logging on with Kerberos; None without a KDC."""
    import kdc as kdc_module
    import yaml
    from simproc import fleet_with_change, sim_process

    if kdc_module.missing() is not None:
        return None
    realm = kdc_module.Kdc.start()
    try:
        env = {**os.environ, **realm.env}
        with sim_process(WORK / "sim-krb", gateways=gateways, winrm_latency_ms=20,
                         kerberos_keytab=realm.keytab, env=env) as state:
            fleet = fleet_with_change(state, WORK / "fleet-krb.yaml")
            doc = yaml.safe_load((state / "inventory.yml").read_text())
            for group in doc["all"]["children"].values():
                for entry in group["hosts"].values():
                    entry.update(ansible_user=kdc_module.ALICE,
                                 ansible_password=kdc_module.ALICE_PASSWORD,
                                 ansible_winrm_transport="kerberos")
            inventory = WORK / "inventory-krb.yml"
            inventory.write_text(yaml.safe_dump(doc))
            walls = []
            for _ in range(runs):
                wall, result = diff(fleet, inventory, 32, env, "--no-ntlm")
                if result["summary"] != expected:
                    raise SystemExit(f"Kerberos diff: {result['summary']}")
                walls.append(wall)
            return walls
    finally:
        realm.stop()


if __name__ == "__main__":
    sys.exit(main())
