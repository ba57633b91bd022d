"""Hunt flaky tests: run the whole suite several times in random order while another
process keeps one core busy, and report every test that failed even once.

    make flake-hunt            # 5 runs
    .venv/bin/python tests/flake_hunt.py --runs 10 --load 2

Random order comes from pytest-randomly (installed into .venv by `make flake-hunt`); the
load is a busy loop per extra core, so a test that only passes on an idle machine shows
up. Each run's seed is printed: `pytest -p randomly --randomly-seed=SEED` replays it.
Each run's failing tests are printed as soon as the run ends (a hunt cut short still names
them), and its whole output is kept in `.flake-hunt/run-N-seed-SEED.log`. Exit 1 when any
run failed.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / ".flake-hunt"
# pytest's short summary: "FAILED tests/x.py::test[a b] - AssertionError: ..."; a
# parameter id may hold spaces, so the name ends at " - " or at the end of the line
FAILED = re.compile(r"^(?:FAILED|ERROR) (.+?)(?: - .*)?$", re.M)


def burn(stop: multiprocessing.synchronize.Event) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--load", type=int, default=1, help="busy cores beside the suite")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest")
    ns = parser.parse_args()
    failures: Counter[str] = Counter()
    bad_runs = 0
    LOGS.mkdir(exist_ok=True)
    for run in range(1, ns.runs + 1):
        seed = random.randrange(1, 2**31)
        stop = multiprocessing.Event()
        burners = [multiprocessing.Process(target=burn, args=(stop,), daemon=True)
                   for _ in range(ns.load)]
        for b in burners:
            b.start()
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "randomly", f"--randomly-seed={seed}",
             "-rfE", *ns.pytest_args], cwd=ROOT, capture_output=True, text=True, check=False)
        stop.set()
        for b in burners:
            b.join()
        log = LOGS / f"run-{run}-seed-{seed}.log"
        log.write_text(done.stdout + "\n--- stderr ---\n" + done.stderr, "utf-8")
        tail = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
        print(f"run {run}/{ns.runs} seed {seed}: exit {done.returncode} in "
              f"{time.monotonic() - started:.0f} s: {tail} (output: {log.relative_to(ROOT)})",
              flush=True)
        if done.returncode:
            bad_runs += 1
            failed = FAILED.findall(done.stdout)
            failures.update(failed)
            for test in failed or ["(no test named: see the output)"]:
                print(f"  failed: {test}", flush=True)
    for test, count in failures.most_common():
        print(f"flaky: {test} failed in {count} of {ns.runs} runs")
    return 1 if bad_runs else 0


if __name__ == "__main__":
    sys.exit(main())
