"""Benchmark: what the semantic rules add to loading and rendering the 1,000-gateway fleet.

Target (issue 3): linting the core benchmark's fleet (bench/fleetgen.py: 1,000 gateways
across 100 sites, 40 custom routes each) adds less than 2 s to

  (a) load + schema + build + render every gateway's appsettings.Production.json and
      nlog.config to memory;
  (b) the same plus ``validate_fleet`` on the rendered files (rules reuse them, as
      ``gwctl validate`` would).

What linting adds is timed inside each (b) run, around ``validate_fleet`` alone: on a
shared machine the difference of two separately measured totals, (b) - (a), swings by
more than the figure it is after. It is printed with its ratio to (a), the baseline of
the same run, and (b) - (a) is printed too. Also reported: ``validate_fleet`` alone when
it has to render for itself. Each figure is the best of ``--repeat`` runs (default 3) in
this process, each started after a full garbage collection, as wall-clock and as this
process's CPU time (the two agree on an idle machine; on a shared one the CPU time is the
stable figure). The target is checked on wall-clock time. The 1-minute load average
before and after the runs is printed with the figures, to judge how shared the machine was.

Usage: python bench/lint_fleet.py [--sites 100] [--gateways 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fleetgen import write_fleet

from gwctl import api
from gwctl.problems import Problem
from gwctl.render.appsettings import render_appsettings
from gwctl.render.nlog import render_nlog
from gwctl.rules.runner import Rendered, validate_fleet

TARGET_SECONDS = 2.0


def load_and_render(path: Path) -> tuple[Any, dict[str, Rendered]]:
    result = api.load(path)
    if result.fleet is None or not result.ok:
        raise SystemExit(f"benchmark fleet does not load: {result.problems[:3]}")
    rendered = {
        gw.id: Rendered(render_appsettings(gw), render_nlog(gw) if "nlog" in gw.settings
                        else None)
        for gw in result.fleet.gateways()
    }
    return result.fleet, rendered


Seconds = tuple[float, float]  # (wall, cpu)


def timed(run: Callable[[], Any]) -> tuple[Seconds, Any]:
    w0, c0 = time.perf_counter(), time.process_time()
    value = run()
    return (time.perf_counter() - w0, time.process_time() - c0), value


def best(repeat: int, run: Callable[[], Any]) -> tuple[Seconds, Any]:
    """Best (wall, cpu) seconds of `repeat` runs, and the last run's result."""
    times, value = [], None
    for _ in range(repeat):
        gc.collect()  # no run pays for the garbage of the one before
        t, value = timed(run)
        times.append(t)
    return (min(t[0] for t in times), min(t[1] for t in times)), value


def show(label: str, t: tuple[float, float]) -> str:
    return f"{label:<38}: {t[0]:6.2f} s wall  {t[1]:6.2f} s cpu"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--sites", type=int, default=100)
    ap.add_argument("--gateways", type=int, default=10, help="gateways per site")
    ap.add_argument("--repeat", type=int, default=3)
    ns = ap.parse_args(argv)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        path = write_fleet(Path(tmp) / "fleet.yaml", sites=ns.sites,
                           gateways_per_site=ns.gateways)
        a, (fleet, rendered) = best(ns.repeat, lambda: load_and_render(path))

        lint_parts: list[Seconds] = []

        def load_render_lint() -> list[Problem]:
            f, r = load_and_render(path)
            t, found = timed(lambda: validate_fleet(f, rendered=r))
            lint_parts.append(t)
            problems: list[Problem] = found
            return problems

        b, problems = best(ns.repeat, load_render_lint)
        lint_only, _ = best(ns.repeat, lambda: validate_fleet(fleet, rendered=rendered))
        self_render, _ = best(ns.repeat, lambda: validate_fleet(fleet))
    gateways = sum(1 for _ in fleet.gateways())
    routes = sum(len(r.appsettings.get("ReverseProxy", {}).get("Routes", {}))
                 for r in rendered.values())
    added = (min(t[0] for t in lint_parts), min(t[1] for t in lint_parts))
    print(f"fleet: {gateways} gateways, {ns.sites} sites, {routes} custom routes rendered")
    print(show("(a) load + schema + render to memory", a))
    print(show("(b) (a) + validate_fleet", b))
    print(show("    linting adds (within b)", added) + f"   target < {TARGET_SECONDS:.1f} s: "
          + ("ok" if added[0] < TARGET_SECONDS else "MISSED"))
    print(f"    ... {added[0] / a[0]:.0%} of (a) wall, {added[1] / a[1]:.0%} of (a) cpu")
    print(show("    (b) - (a)", (b[0] - a[0], b[1] - a[1])))
    print(show("    validate_fleet on rendered files", lint_only))
    print(show("    validate_fleet rendering itself", self_render))
    print(f"problems: {len(problems)} ({sum(p.suppressed is None for p in problems)} active)")
    print(f"load average (1 min): {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    return 0 if added[0] < TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
