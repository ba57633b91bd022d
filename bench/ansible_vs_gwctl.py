"""Benchmark: one change to 100 emulated gateways: `gwctl apply`, the role, a plain playbook.

Three arms roll the same CORS change out to the same site, in one run; before each arm
every host's files are put back as they were, so each does the same work:

(1) ``gwctl apply --canary 1 --batch 25%``;
(2) ``ansible-playbook playbooks/site.yml --forks 20``: the role over Ansible's own winrm
    connection plugin, in the same order (the management server host's gateway, a
    canary, then 25% batches);
(3) ``ansible-playbook bench/plain_windows.yml --forks 20``: what an Ansible shop writes
    without gwctl -- ``ansible.windows.win_copy`` of the file ``gwctl render`` produced,
    ``win_stat`` of it, ``microsoft.iis.web_app_pool state=restarted`` when it changed --
    with a canary, then 25% batches. Rendering is done before the clock starts (it favours
    this arm). ansible.windows and microsoft.iis come from the ``ansible`` PyPI package,
    installed (without its dependencies: the same ansible-core runs arms 2 and 3) into
    the bench-only virtualenv ``.venv-bench/`` on first use; gwctl never depends on it.
    The simulator answers Ansible's module wrapper (`gwctl.sim.wsman.ansible_wrapper`:
    the win_copy query, the temporary directory, put_file's base64 chunks, the copy, the
    stat, the recycle) on the same emulated hosts.

Printed per arm: wall time, and per host the remote commands (WS-Management Command
requests, counted the same way for all three arms by the simulator's command handler)
and the bytes of command line + stdin + stdout + stderr; the seconds the simulator
charged per host; the seconds during which at least one host was being charged ("waiting
on hosts") and the rest of the wall time ("own time"); then the ratios (1)/(3) and
(2)/(3) of the wall times, and the "best case on the same schedules": (3)'s wall time
over (1)'s and (2)'s waiting on hosts -- what the ratios would be if the two spent no time
of their own but kept their order of hosts (canary, batches, forks). Arm (3)'s hosts must
end up with the same bytes as arm (1)'s.

The simulator runs in this process (the two clients are subprocesses) and charges:
- a per-request latency (``--latency-ms``, default 20 ms before every HTTP response of
  its WS-Management endpoint: the round trip of bench/fleet_diff.py, a WAN link);
- a per-command PowerShell start cost (``--ps-start-ms``, default 250 ms, slept before a
  command runs). This figure is an assumption, not a measurement: no Windows host exists
  in this project; Windows PowerShell 5.1 commonly takes a few hundred milliseconds to
  start. Pass your own measurement to re-run.

Both charges apply to every arm alike, per WS-Management request and per command.

What bounds the ratios: the charged time of a changed gateway is about 3 commands x
(250 ms + ~5 requests x 20 ms) for arms 1 and 2 against 7 x that for arm 3, and every arm
rolls out in the same order (the management server host's gateway, a canary, 25 %
batches), so each waits for its slowest host once per batch. On a quiet machine most of
every arm's wall time is spent waiting on hosts; the rest is its own: for arm 1 the fixed
cost of a CLI run (loading the inventory through Ansible's InventoryManager, the fleet,
the plan) and the Python building and parsing WS-Management messages (the simulator runs
in this same process); for arm 2 Ansible's per-host, per-task work (a forked worker,
templating, a winrm connection with its NTLM logon and shell, result handling) for the
tasks each host runs (argument validation, classify, converge) in site.yml's plays, with
forks 20 below the batch of 25 (two rounds per batch). Under load the own time grows.

Measured 2026-12-03 on the quiet 2-core machine (load average 0.3): (1) 10.8 s, (2) 23.1 s,
(3) 31.1 s; 3.0 / 3.0 / 7.0 commands, 219 / 219 / 646 KiB and 1.24 / 1.10 / 2.63 s charged
per host; waiting on hosts 9.4 / 15.5 / 28.0 s. Ratios 2.9x and 1.3x; best case on the
same schedules 3.3x and 2.0x. Issue 11's target (both >= 5x) is therefore out of reach
under this cost model whatever the two clients do with their own time: (3) is waiting on
hosts for 90 % of its wall time, and (2) runs the same Ansible with the same forks and
serial batches, so the two differ mainly by 3 against 7 charged commands per host.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
WORK = HERE / ".work" / "ansible_vs_gwctl"
BENCH_VENV = ROOT / ".venv-bench"
BIN = Path(sys.executable).parent
PROD = "appsettings.Production.json"


@dataclass
class Traffic:
    commands: int = 0
    bytes: int = 0
    #: seconds the simulator charged this host (request latency + PowerShell starts)
    charged: float = 0.0


def covered(intervals: list[tuple[float, float]]) -> float:
    """Seconds covered by at least one of `intervals` (start, end)."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total


class Meter:
    """Wraps the simulator's per-host command handlers: charges the PowerShell start cost
    and counts what each host was sent and answered."""

    def __init__(self, start_cost_s: float) -> None:
        self.start_cost_s = start_cost_s
        self.lock = threading.Lock()
        self.hosts: dict[str, Traffic] = defaultdict(Traffic)
        self.intervals: list[tuple[float, float]] = []

    def reset(self) -> tuple[dict[str, Traffic], float]:
        """Each host's traffic since the last reset, and the seconds during which at
        least one host was being charged (the arm was waiting on hosts)."""
        with self.lock:
            seen, self.hosts = self.hosts, defaultdict(Traffic)
            intervals, self.intervals = self.intervals, []
        return dict(seen), covered(intervals)

    def charge(self, host: str, seconds: float) -> None:
        if seconds <= 0:
            return
        now = time.perf_counter()
        with self.lock:
            self.hosts[host].charged += seconds
            self.intervals.append((now, now + seconds))

    def wrap_latency(self, latency: Any) -> Any:
        def charged_latency(host: str) -> float:
            seconds: float = latency(host)
            self.charge(host.lower(), seconds)
            return seconds

        return charged_latency

    def wrap(self, resolve: Any) -> Any:
        meter = self

        class Metered:
            def __init__(self, host: str, handler: Any) -> None:
                self.host, self.handler = host, handler

            def run(self, command: str, arguments: list[str], stdin: bytes) -> Any:
                meter.charge(self.host, meter.start_cost_s)
                time.sleep(meter.start_cost_s)
                result = self.handler.run(command, arguments, stdin)
                size = (len(command) + sum(len(a) + 1 for a in arguments) + len(stdin)
                        + len(result.stdout) + len(result.stderr))
                with meter.lock:
                    traffic = meter.hosts[self.host]
                    traffic.commands += 1
                    traffic.bytes += size
                return result

        def resolver(host: str) -> Any:
            handler = resolve(host)
            return None if handler is None else Metered(host.lower(), handler)

        return resolver


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(HOME=str(WORK / "home"), ANSIBLE_NOCOLOR="1",
               PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", **extra)
    return env


def collections_path() -> Path:
    """The bench-only virtualenv's site-packages holding the `ansible` package's
    collections (created on first use; only the collections are used, with the ansible-core
    that runs the role)."""
    import ansible.release

    major, minor = (int(x) for x in ansible.release.__version__.split(".")[:2])
    # the `ansible` package N ships for ansible-core 2.(N+7): 12 for 2.19
    wanted = minor - 7 if major == 2 else 0
    site = next(iter(BENCH_VENV.glob("lib/python*/site-packages")), None)
    ready = BENCH_VENV / f".ansible-{wanted}"
    if site is None or not ready.exists():
        print(f"creating {BENCH_VENV.name}/ with the ansible {wanted}.x package "
              "(first run only; ~550 MB) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(BENCH_VENV)], check=True)
        subprocess.run([str(BENCH_VENV / "bin" / "pip"), "install", "-q", "--no-deps",
                        f"ansible>={wanted},<{wanted + 1}"], check=True)
        ready.write_text("ok\n")
        site = next(iter(BENCH_VENV.glob("lib/python*/site-packages")))
    return site


def timed(cmd: list[str], env: dict[str, str] | None = None
          ) -> tuple[float, subprocess.CompletedProcess[str]]:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, check=False,
                       env=env or environment(), cwd=ROOT, timeout=1800)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({r.returncode}):\n{r.stdout[-3000:]}\n"
                         f"{r.stderr[-2000:]}")
    return wall, r


def report(name: str, wall: float, measured: tuple[dict[str, Traffic], float],
           changed: int) -> float:
    """Print an arm's line; return its seconds of waiting on hosts."""
    traffic, waiting = measured
    per_host = max(1, changed)
    commands = sum(t.commands for t in traffic.values())
    size = sum(t.bytes for t in traffic.values())
    charged = sum(t.charged for t in traffic.values())
    print(f"{name:<40} {wall:8.1f} s   {commands / per_host:6.1f} commands/host   "
          f"{size / per_host / 1024:7.1f} KiB/host", flush=True)
    print(f"{'':<40} charged {charged / per_host:.2f} s/host; waiting on hosts {waiting:.1f} s, "
          f"own time {wall - waiting:.1f} s", flush=True)
    return waiting


def files_of(site: Any, names: list[str]) -> dict[str, bytes | None]:
    """Each gateway's appsettings.Production.json (None where there is none)."""
    paths = {n: site.install_dir(n) / PROD for n in names}
    return {n: p.read_bytes() if p.exists() else None for n, p in paths.items()}


def main() -> int:
    from simproc import fleet_with_change

    from gwctl.sim.server import SimSite
    from gwctl.sim.state import SiteSpec
    from gwctl.sim.wsman.faults import HostFaults

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateways", type=int, default=100)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--ps-start-ms", type=float, default=250.0)
    parser.add_argument("--forks", type=int, default=20)
    args = parser.parse_args()

    collections = collections_path()
    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "home").mkdir(parents=True)
    site = SimSite.create(WORK / "sim", SiteSpec(gateways=args.gateways),
                          ansible_modules=True).start()
    try:
        assert site.wsman is not None
        site.wsman.faults.set("*", HostFaults(latency_ms=args.latency_ms))
        meter = Meter(args.ps_start_ms / 1000)
        site.wsman.resolver = meter.wrap(site.wsman.resolver)
        site.wsman.faults.latency = meter.wrap_latency(site.wsman.faults.latency)  # type: ignore[method-assign]
        fleet = fleet_with_change(site.state_dir, WORK / "fleet.yaml")
        inventory = WORK / "inventory.yml"
        text = site.inventory_path.read_text()
        inventory.write_text(text.replace(str(site.fleet_path.resolve()), str(fleet)))
        hosts = site.state_dir / "hosts"
        pristine = WORK / "pristine"
        shutil.copytree(hosts, pristine)
        names = sorted(p.name for p in hosts.iterdir())

        print(f"{args.gateways} gateways; WS-Management latency {args.latency_ms:g} ms per "
              f"request, PowerShell start {args.ps_start_ms:g} ms per command (assumed)")
        wall_cli, _ = timed([str(BIN / "gwctl"), "apply", "-f", str(fleet), "-i",
                             str(inventory), "--yes", "--canary", "1", "--batch", "25%"])
        cli = meter.reset()
        changed = sum(1 for n in names if (site.install_dir(n) / PROD).exists())
        wait_cli = report("(1) gwctl apply", wall_cli, cli, changed)
        by_gwctl = files_of(site, names)

        shutil.rmtree(hosts)
        shutil.copytree(pristine, hosts)
        wall_role, r = timed([str(BIN / "ansible-playbook"), "-i", str(inventory),
                              str(ROOT / "playbooks" / "site.yml"), "--forks",
                              str(args.forks)])
        role = meter.reset()
        changed_role = r.stdout.count("changed=1")
        wait_role = report(f"(2) role, ansible-playbook -f {args.forks}", wall_role, role,
                           changed_role)

        rendered = WORK / "rendered"
        subprocess.run([str(BIN / "gwctl"), "render", "-f", str(fleet), "-o", str(rendered)],
                       check=True, env=environment(), capture_output=True)
        shutil.rmtree(hosts)
        shutil.copytree(pristine, hosts)
        wall_plain, r = timed([str(BIN / "ansible-playbook"), "-i", str(inventory),
                               str(HERE / "plain_windows.yml"), "--forks", str(args.forks),
                               "-e", f"rendered={rendered}"],
                              environment(ANSIBLE_COLLECTIONS_PATH=str(collections)))
        plain = meter.reset()
        changed_plain = r.stdout.count("changed=2")
        report(f"(3) plain ansible.windows, -f {args.forks}", wall_plain, plain, changed_plain)
        assert site.ansible_modules is not None
        chunks = sum(m.traffic.upload_chunks for m in site.ansible_modules.values())
        print(f"    (3) sent {chunks / max(1, changed_plain):.1f} base64 upload chunk(s) per "
              "host through put_file; every module run ships Ansible's exec wrapper and "
              "module code on stdin")
        same = files_of(site, names) == by_gwctl
        print(f"(1)/(3): {wall_plain / wall_cli:.1f}x faster    "
              f"(2)/(3): {wall_plain / wall_role:.1f}x faster    "
              f"(role / gwctl apply: {wall_role / wall_cli:.2f}x the wall time)")
        print(f"best case on the same schedules (no time of their own, only waiting on hosts): "
              f"(1)/(3) {wall_plain / wait_cli:.1f}x    (2)/(3) {wall_plain / wait_role:.1f}x")
        print("hosts after (3) " + ("hold the same bytes as after (1)" if same
                                    else "DIFFER from those after (1)"))
        if not (changed == changed_role == changed_plain == args.gateways) or not same:
            print(f"UNEXPECTED: changed {changed} (gwctl) / {changed_role} (role) / "
                  f"{changed_plain} (plain) of {args.gateways}")
            return 1
    finally:
        site.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
