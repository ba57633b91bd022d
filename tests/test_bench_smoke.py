"""Every benchmark still runs to its report, at a size that takes seconds.

The benchmarks are run by hand, so nothing else notices when a change breaks one (a summary
that gained a key once made bench/fleet_diff.py stop before printing its Kerberos figures).
At these sizes the figures mean nothing and a target may be missed on a loaded machine
(exit 1 with FAIL is the benchmark's own verdict); what is asserted is that each one got
through its work and printed its figures, without a traceback.

Not here: bench/ansible_vs_gwctl.py (its plain-Ansible arm needs the `ansible` package,
~550 MB, in a bench-only virtualenv) and bench/render_fleet.py (it renders a fixed
1,000-gateway fleet, ~10 s even at the smallest baseline); both share their machinery
(simproc.py, fleetgen.py) with the benchmarks below.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(300)

CASES = [
    ("fleet_diff.py", ["--gateways", "3", "--runs", "1"],
     [r"diff of 3 gateways, 20 ms per WinRM round trip, 32 workers: [\d.]+ s",
      r"one host after another: [\d.]+ s; ratio [\d.]+x",
      r"(NTLM best [\d.]+ s \| Kerberos best [\d.]+ s|Kerberos: not measured)"]),
    ("apply_rolling.py", ["--gateways", "3"],
     [r"rolling apply of 3 gateways .*outcomes \['changed'\]",
      r"gwctl overhead per gateway.*mean \d+ ms, p95 \d+ ms",
      r"remote commands per gateway \(apply, after the plan\): [\d.]+"]),
    ("lint_fleet.py", ["--sites", "2", "--gateways", "2", "--repeat", "1"],
     [r"fleet: 4 gateways, 2 sites", r"linting adds \(within b\)", r"problems: 0 "]),
    ("discover.py", ["--gateways", "4", "--per-site", "2", "--runs", "1"],
     [r"run 1: [\d.]+ s total; 4/4 gateway versions, 2/2 management servers",
      r"best [\d.]+ s, worst [\d.]+ s"]),
    ("sim_throughput.py", ["--seconds", "0.5", "--connections", "2", "--client-processes",
                           "1", "--tool", "httpx"],
     [r"start-up \(process spawn -> first 200\): [\d.]+ s",
      r"GET /api/.well-known/uris \(httpx, 2 connections, 0.5 s\): [\d,]+ requests/s"]),
    ("probe_webrtc.py", ["--sessions", "2", "--cameras", "1"],
     [r"set up: 2 ok, 0 failed", r"time to first decoded frame: p50 \d+ ms, p95 \d+ ms",
      r"client CPU: [\d.]+ s"]),
]


@pytest.mark.parametrize(("script", "args", "figures"), CASES, ids=[c[0] for c in CASES])
def test_benchmark_runs_to_its_report(script: str, args: list[str],
                                      figures: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GWCTL_")}
    r = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], cwd=ROOT,
                       capture_output=True, text=True, timeout=240, env=env, check=False)
    report = f"exit {r.returncode}\n--- stdout\n{r.stdout[-3000:]}\n--- stderr\n{r.stderr[-3000:]}"
    assert "Traceback" not in r.stderr, report
    assert r.returncode in (0, 1), report
    for figure in figures:
        assert re.search(figure, r.stdout), f"missing /{figure}/\n{report}"


def test_every_benchmark_is_smoke_tested_or_said_not_to_be() -> None:
    scripts = {p.name for p in (ROOT / "bench").glob("*.py")}
    helpers = {"simproc.py", "fleetgen.py"}  # imported by the benchmarks, not run
    excluded = {"ansible_vs_gwctl.py", "render_fleet.py"}  # see the module docstring
    assert scripts - helpers - excluded == {c[0] for c in CASES}
