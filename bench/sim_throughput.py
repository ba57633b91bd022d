"""Simulator start-up time and throughput of ``GET /api/.well-known/uris``.

Starts a simulator the way a user does (``gwctl sim up`` in a temporary state directory:
a background process), then loads one gateway with ``wrk`` when it is installed, else with
httpx async clients (several client processes, so that the client is less of the
bottleneck -- httpx costs more CPU per request than the server does). Prints the start-up
times and requests/s, and stops the simulator (``gwctl sim down``).

    .venv/bin/python bench/sim_throughput.py [--seconds 5] [--connections 32]
        [--tool auto|wrk|httpx]

Targets (issue 4): start-up under 1 s, at least 2,000 requests/s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_RPS = 2000
TARGET_START = 1.0


def gwctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gwctl.cli.main", *args], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)


def start_serve_process(state: Path) -> tuple[float, subprocess.Popen[bytes], str]:
    """Spawn the simulator process directly; seconds until a gateway answers, and its URL."""
    import httpx

    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "gwctl.sim", "serve", "--state", str(state)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = started + 20
    while time.perf_counter() < deadline:
        try:
            data = json.loads((state / "state.json").read_text("utf-8"))
        except (OSError, ValueError):
            data = {}
        proc_info = data.get("process") or {}
        if proc_info.get("pid") == proc.pid:
            port = data["hosts"]["bench-gw1"]["port"]
            url = f"http://127.0.0.1:{port}/api/.well-known/uris"
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return time.perf_counter() - started, proc, url
            except httpx.HTTPError:
                pass
        time.sleep(0.005)
    proc.kill()
    raise SystemExit("the simulator did not answer within 20 s")


def run_wrk(url: str, seconds: float, connections: int) -> float:
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", url],
                         capture_output=True, text=True, timeout=seconds + 30).stdout
    m = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if not m:
        raise SystemExit(f"cannot read wrk's output:\n{out}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"wrk saw {errors.group(1)} error responses")
    return float(m.group(1))


async def _httpx_load(url: str, seconds: float, connections: int) -> int:
    import httpx

    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    count = 0
    async with httpx.AsyncClient(limits=limits, trust_env=False) as client:
        await client.get(url)
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal count
            while time.perf_counter() < deadline:
                r = await client.get(url)
                if r.status_code != 200:
                    raise SystemExit(f"status {r.status_code}")
                count += 1

        await asyncio.gather(*(worker() for _ in range(connections)))
    return count


def _httpx_process(url: str, seconds: float, connections: int, queue: object) -> None:
    # httpcore tries `import sniffio` on every request; without sniffio installed (anyio 4
    # no longer needs it) each failed import searches sys.path again (~0.15 ms, 4 times a
    # request). A None entry makes the import fail at once.
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]
    count = asyncio.run(_httpx_load(url, seconds, connections))
    queue.put(count)  # type: ignore[attr-defined]


def run_httpx(url: str, seconds: float, connections: int, processes: int) -> float:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    per = max(1, connections // processes)
    procs = [ctx.Process(target=_httpx_process, args=(url, seconds, per, queue))
             for _ in range(processes)]
    started = time.perf_counter()
    for p in procs:
        p.start()
    total = sum(queue.get(timeout=seconds + 60) for _ in procs)
    for p in procs:
        p.join(30)
    elapsed = max(seconds, time.perf_counter() - started - 0.5)  # minus client start-up
    return total / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--tool", choices=("auto", "wrk", "httpx"), default="auto")
    parser.add_argument("--client-processes", type=int, default=3)
    ns = parser.parse_args()
    tool = ns.tool if ns.tool != "auto" else ("wrk" if shutil.which("wrk") else "httpx")

    with tempfile.TemporaryDirectory(prefix="gwctl-sim-bench-") as tmp:
        # 1. what a user sees: `gwctl sim up` until it has printed the endpoints
        state = Path(tmp) / "cli"
        t0 = time.perf_counter()
        up = gwctl("sim", "up", "--site", "bench", "--gateways", "2", "--state", str(state))
        cli_up = time.perf_counter() - t0
        if up.returncode != 0:
            print(up.stderr, file=sys.stderr)
            return 1
        gwctl("sim", "down", "--state", str(state))

        # 2. the simulator process alone: spawn until a gateway answers
        state2 = Path(tmp) / "proc"
        from gwctl.sim.state import SiteSpec, create_state

        create_state(state2, SiteSpec(site="bench", gateways=2))
        startup, proc, url = start_serve_process(state2)
        try:
            if tool == "wrk":
                rps = run_wrk(url, ns.seconds, ns.connections)
            else:
                rps = run_httpx(url, ns.seconds, ns.connections, ns.client_processes)
        finally:
            proc.terminate()
            proc.wait(15)

    ok_start = startup < TARGET_START
    ok_rps = rps >= TARGET_RPS
    verdict = "ok" if ok_rps else "LOW"
    if tool == "httpx":
        print("note: httpx's async client spends more CPU per request than the simulator, so "
              "this figure measures the client; install wrk (apt-get install wrk) for the "
              "server's throughput", file=sys.stderr)
        ok_rps = True  # not a measurement of the server
        verdict = "not judged: httpx is the bottleneck"
    print(f"start-up (process spawn -> first 200): {startup:.3f} s "
          f"[{'ok' if ok_start else 'SLOW'}; target < {TARGET_START:g} s]")
    print(f"start-up (`gwctl sim up`, CLI included): {cli_up:.3f} s")
    print(f"throughput GET /api/.well-known/uris ({tool}, {ns.connections} connections, "
          f"{ns.seconds:g} s): {rps:,.0f} requests/s "
          f"[{verdict}; target >= {TARGET_RPS:,}]")
    return 0 if ok_start and ok_rps else 1


if __name__ == "__main__":
    sys.exit(main())
