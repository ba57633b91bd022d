"""Benchmark: one change to 100 emulated gateways, by `gwctl apply` and by the Ansible role.

(1) ``gwctl apply --canary 1 --batch 25%`` and (2) ``ansible-playbook playbooks/site.yml
--forks 20`` (the role over Ansible's own winrm connection plugin; the same order: the
management server host's gateway, a canary, then 25% batches) roll the same CORS change
out to the same site: after (1) every host's files are put back as they were, so (2)
does the same work. Printed per run: wall time, and per changed gateway the remote
commands and the bytes of command line + stdin + stdout that crossed WS-Management, both
counted by the simulator; then the ratio of the two wall times.

The simulator runs in this process (the two clients are subprocesses) and charges:
- a per-request latency (``--latency-ms``, default 20 ms before every HTTP response of
  its WS-Management endpoint: the round trip of bench/fleet_diff.py, a WAN link);
- a per-command PowerShell start cost (``--ps-start-ms``, default 250 ms, slept before a
  command runs). This figure is an assumption, not a measurement: no Windows host exists
  in this project; Windows PowerShell 5.1 commonly takes a few hundred milliseconds to
  start. Pass your own measurement to re-run.

Not measured here (issue 11's third arm): a plain ansible.windows playbook (win_copy,
win_stat, app-pool recycle). It needs the ``ansible`` package in a bench-only venv and a
simulator that answers Ansible's PowerShell module wrapper generically; neither exists yet.
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
BIN = Path(sys.executable).parent
PROD = "appsettings.Production.json"


@dataclass
class Traffic:
    commands: int = 0
    bytes: int = 0


class Meter:
    """Wraps the simulator's per-host command handlers: charges the PowerShell start cost
    and counts what each host was sent and answered."""

    def __init__(self, start_cost_s: float) -> None:
        self.start_cost_s = start_cost_s
        self.lock = threading.Lock()
        self.hosts: dict[str, Traffic] = defaultdict(Traffic)

    def reset(self) -> dict[str, Traffic]:
        with self.lock:
            seen, self.hosts = self.hosts, defaultdict(Traffic)
        return dict(seen)

    def wrap(self, resolve: Any) -> Any:
        meter = self

        class Metered:
            def __init__(self, host: str, handler: Any) -> None:
                self.host, self.handler = host, handler

            def run(self, command: str, arguments: list[str], stdin: bytes) -> Any:
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


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(HOME=str(WORK / "home"), ANSIBLE_NOCOLOR="1",
               PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")
    return env


def timed(cmd: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, check=False, env=environment(),
                       cwd=ROOT, timeout=1800)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({r.returncode}):\n{r.stdout[-3000:]}\n"
                         f"{r.stderr[-2000:]}")
    return wall, r


def report(name: str, wall: float, traffic: dict[str, Traffic], changed: int) -> None:
    commands = sum(t.commands for t in traffic.values())
    size = sum(t.bytes for t in traffic.values())
    print(f"{name:<34} {wall:8.1f} s   {commands / changed:6.1f} commands/gateway   "
          f"{size / changed / 1024:7.1f} KiB/gateway")


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

    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "home").mkdir(parents=True)
    site = SimSite.create(WORK / "sim", SiteSpec(gateways=args.gateways)).start()
    try:
        assert site.wsman is not None
        site.wsman.faults.set("*", HostFaults(latency_ms=args.latency_ms))
        meter = Meter(args.ps_start_ms / 1000)
        site.wsman.resolver = meter.wrap(site.wsman.resolver)
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
        report("(1) gwctl apply", wall_cli, cli, changed)

        shutil.rmtree(hosts)
        shutil.copytree(pristine, hosts)
        wall_role, r = timed([str(BIN / "ansible-playbook"), "-i", str(inventory),
                              str(ROOT / "playbooks" / "site.yml"), "--forks",
                              str(args.forks)])
        role = meter.reset()
        changed_role = r.stdout.count("changed=1")
        report(f"(2) role, ansible-playbook -f {args.forks}", wall_role, role, changed_role)
        print("(3) plain ansible.windows playbook  not measured (see the module docstring)")
        print(f"role / gwctl apply: {wall_role / wall_cli:.2f}x the wall time, "
              f"{sum(t.commands for t in role.values()) / max(1, changed_role):.1f} vs "
              f"{sum(t.commands for t in cli.values()) / max(1, changed):.1f} "
              "commands per changed gateway")
        if changed != args.gateways or changed_role != args.gateways:
            print(f"UNEXPECTED: changed {changed} (gwctl) / {changed_role} (role) of "
                  f"{args.gateways}")
            return 1
    finally:
        site.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
