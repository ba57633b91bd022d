"""An apply or rollback cut short at any step never leaves a gateway running something
other than its files while gwctl says "in sync" (issue 10 §1).

Against the simulator over real WinRM, an apply is interrupted right before each of its
remote commands (each one operation or a batch of them: lock + backups + record +
writes + recycle, record done + unlock; the automatic rollback's record + restores +
recycle) and inside each batch, before each of its steps, in these ways:

- **kill**: the gwctl process dies (kill -9): that command and everything after it never
  reach the host, no ``finally`` runs, the lock stays behind;
- **cut**: the network to the host goes away: that command and every later one fail on
  the wire (WS-Management connections dropped), so the automatic rollback and the lock
  release fail too;
- **die** (inside a batch, before step k): the host's PowerShell dies there (the
  simulator's ``kill_batch_at`` fault): the steps before k took effect, the rest never
  run, gwctl gets no answer and goes on (rollback, unlock) as it would;
- **die-cut**: the same, and the network goes too (**die-kill**, gwctl dying with the
  host, leaves the host as this does; it makes the pending record that `diff` reports).

After each interruption: every file is byte for byte the old or the new one, and no fresh
plan says "in sync" while the configuration the simulated gateway loaded differs from its
files. Then one re-run by a new gwctl process (a new owner; the dead run's lock is taken
over because its process is gone) must leave the gateway *running* what its files say,
with nothing pending, and `diff` clean for a change that can be applied.
"""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
import yaml

from gwctl import api
from gwctl.deploy.activation import parse
from gwctl.deploy.apply import ApplyOptions, apply_gateway
from gwctl.deploy.fleet_plan import Planner
from gwctl.deploy.gateway_plan import GatewayPlan
from gwctl.deploy.health import HealthSettings
from gwctl.deploy.results import GatewayResult
from gwctl.errors import TransportError
from gwctl.fleet.secrets import SecretResolver
from gwctl.hosts.inventory import InventoryHost, load_inventory
from gwctl.hosts.targets import Target, TransportFactory
from gwctl.ops.batch import Step
from gwctl.transport.base import Transport
from gwctl.transport.winrm import WinRMTransport
from gwctl.transport.winrm_settings import WinRMSettings

if TYPE_CHECKING:
    from gwctl.sim.server import SimSite

# a hang guard: the matrices run ~50 applies each, minutes on a loaded 2-core machine
pytestmark = pytest.mark.timeout(900)

T = TypeVar("T")

GW = "demo-gw1"
MANAGED = ("appsettings.Production.json", "nlog.config")
GOOD = {
    "cors": {"enabled": True, "allow_origins": ["https://portal.example.com"],
             "allow_headers": ["Authorization", "Content-Type"],
             "allow_methods": ["GET", "POST", "PATCH", "OPTIONS"]},
    "nlog": {"min_level": "Debug"},
}
# valid, but it sends the health probe's route to a dead destination: the health check
# fails and the automatic rollback runs
BAD = {**GOOD, "reverse_proxy": {"clusters": {"managementserver": {"Destinations": {
    "hostname": {"Address": "http://127.0.0.1:9/"}}}}}}


class Killed(BaseException):
    """The gwctl process died: not an error anything in gwctl may catch."""


class Interrupting(Transport):
    """Interrupts the run at its `at`-th remote command (counted across every connection
    the run opens): before it, or inside it before batch step `step` (from 1)."""

    def __init__(self, inner: Transport, run: RunState) -> None:
        self.inner, self.run_state, self.name = inner, run, inner.name

    def run(self, op: str, params: Any, payload: bytes | None = None) -> dict[str, Any]:
        self._before([op])
        return self._after(lambda: self.inner.run(op, params, payload))

    def run_batch(self, steps: Sequence[Step]) -> list[dict[str, Any]]:
        self._before([s.op for s in steps])
        return self._after(lambda: self.inner.run_batch(steps))

    def _before(self, ops: list[str]) -> None:
        from gwctl.sim.wsman.faults import HostFaults

        state = self.run_state
        if state.dead:
            raise Killed("+".join(ops))
        state.ops.append(ops)
        if len(state.ops) != state.at:
            return
        if state.mode == "kill":
            state.dead = True
            raise Killed("+".join(ops))
        if state.mode == "cut":
            state.site.wsman.faults.set(GW, HostFaults(drop_at="command"))
        else:
            assert state.step <= len(ops), (state.step, ops)
            state.site.wsman.faults.set(GW, HostFaults(kill_batch_at=state.step))

    def _after(self, call: Callable[[], T]) -> T:
        from gwctl.sim.wsman.faults import HostFaults

        state = self.run_state
        if len(state.ops) != state.at or not state.mode.startswith("die"):
            return call()
        try:
            call()
        except TransportError:
            pass  # the host died: no answer, as intended
        else:
            raise AssertionError(f"the host did not die before step {state.step}")
        finally:
            state.site.wsman.faults.clear(GW)
        if state.mode == "die-kill":
            state.dead = True
            raise Killed("after the host died")
        if state.mode == "die-cut":
            state.site.wsman.faults.set(GW, HostFaults(drop_at="command"))
        raise TransportError("the host's PowerShell died (test)")

    def close(self) -> None:
        self.inner.close()


def interrupting(state: RunState) -> TransportFactory:
    """Fast WinRM transports that interrupt the run where `state` says."""
    return lambda host: Interrupting(fast_transport(host), state)


@dataclasses.dataclass
class RunState:
    site: SimSite
    mode: str
    at: int
    step: int = 0
    #: the operations of each remote command the run sent
    ops: list[list[str]] = dataclasses.field(default_factory=list)
    dead: bool = False


def points(commands: list[list[str]]) -> list[tuple[str, int, int]]:
    """Every interruption of a run that sends `commands`: (mode, command, step)."""
    out = [(mode, at, 0) for mode in ("kill", "cut") for at in range(1, len(commands) + 1)]
    # die-kill leaves the host as die-cut does (gwctl sends nothing more that lands)
    out += [(mode, at, step) for mode in ("die", "die-cut")
            for at, ops in enumerate(commands, 1) if len(ops) > 1
            for step in range(1, len(ops) + 1)]
    return out


def fast_transport(host: InventoryHost) -> Transport:
    settings = WinRMSettings.from_ansible_vars(host.name, host.vars)
    return WinRMTransport(host.name, dataclasses.replace(settings, retry_delay_sec=0.01,
                                                         connect_retries=1))


@pytest.fixture(scope="module")
def dead_owner() -> str:
    """A lock owner naming this controller and a process that has exited."""
    import socket

    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    return f"killed@{socket.gethostname()} pid {int(child.stdout)}"


class Harness:
    def __init__(self, site: SimSite, tmp: Path) -> None:
        self.site = site
        self.tmp = tmp
        self.install = site.install_dir(GW)
        self.old = self.disk()
        self.host = next(h for h in load_inventory(str(site.inventory_path)) if h.name == GW)

    def fleet(self, settings: dict[str, Any]) -> Path:
        doc = yaml.safe_load(self.site.fleet_path.read_text())
        (site_doc,) = doc["sites"].values()
        site_doc["gateways"][GW]["settings"] = settings
        path = self.tmp / f"fleet-{len(list(self.tmp.glob('fleet-*')))}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return path

    def disk(self) -> dict[str, bytes | None]:
        return {n: (self.install / n).read_bytes() if (self.install / n).exists() else None
                for n in MANAGED}

    def plan(self, fleet_path: Path) -> tuple[Target, GatewayPlan]:
        fleet = api.load(fleet_path).fleet
        assert fleet is not None
        target = Target(fleet.gateway(GW), self.host)
        planner = Planner(fleet, SecretResolver(fleet.base_dir), transports=fast_transport)
        return target, planner.plan_one(target)

    def running_matches_disk(self) -> bool:
        (gw,) = [g for g in self.site.status()["gateways"] if g["name"] == GW]
        loaded = gw["config"]["files"]
        on_disk = {n: hashlib.sha256((self.install / n).read_bytes()).hexdigest()
                   if (self.install / n).exists() else None for n in loaded}
        return bool(loaded == on_disk)

    def activation(self) -> Any:
        path = self.site.host_root(GW) / "C" / "ProgramData" / "gwctl" / "activation.json"
        return parse(path.read_bytes()) if path.exists() else None

    def lock_left(self) -> bool:
        return (self.site.host_root(GW) / "C" / "ProgramData" / "gwctl" / "apply.lock").exists()

    def reset(self) -> None:
        """Back to the old files, loaded (test set-up, straight on the disk)."""
        for name, data in self.old.items():
            path = self.install / name
            if data is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(data)
        self.site.recycle(GW)


@pytest.fixture
def harness(sim_site: SimSite, tmp_path: Path) -> Iterator[Harness]:
    yield Harness(sim_site, tmp_path)


def options(owner: str, health_s: float) -> ApplyOptions:
    return ApplyOptions(health=HealthSettings(timeout_s=health_s, interval_s=0.05),
                        owner=owner, lock_ttl_s=600)


def interrupted(h: Harness, fleet: Path, mode: str, at: int, owner: str,
                health_s: float, step: int = 0) -> RunState:
    state = RunState(h.site, mode, at, step)
    target, plan = h.plan(fleet)
    try:
        apply_gateway(target, plan, interrupting(state), options(owner, health_s))
    except Killed:
        pass
    finally:
        h.site.wsman.faults.clear(GW)
        # a dead run never deletes its WinRM shells; Windows keeps them for hours (and
        # allows 30 per user), so the next scenario starts as after a WinRM restart
        h.site.wsman.shells.forget_shells(GW)
    return state


def check_never_falsely_in_sync(h: Harness, fleet: Path, where: str) -> None:
    _, plan = h.plan(fleet)
    assert plan.error is None, (where, plan.error)
    if not plan.changed:
        assert h.running_matches_disk(), f"{where}: 'in sync' while the gateway runs other files"


def run_matrix(h: Harness, settings: dict[str, Any], owner: str, health_s: float,
               verify: Callable[[Harness, Path, GatewayResult, str], None]) -> set[str]:
    fleet = h.fleet(settings)
    _, first = h.plan(fleet)
    assert first.error is None, first.error
    new = first.payloads
    # the commands of an uninterrupted run: every point before or inside one of them
    total = interrupted(h, fleet, "none", 0, owner, health_s)
    h.reset()
    assert sum(len(ops) for ops in total.ops) >= 9, total.ops
    seen = set()
    for mode, at, step in points(total.ops):
        ops = total.ops[at - 1]
        where = (f"{mode} before command {at} ({'+'.join(ops)})" if not step else
                 f"{mode} inside command {at} before step {step} ({ops[step - 1]})")
        state = interrupted(h, fleet, mode, at, owner, health_s, step)
        assert state.mode != "kill" or state.dead, where
        disk = h.disk()
        for name in MANAGED:
            assert disk[name] in (h.old[name], new[name]), f"{where}: {name} is torn"
        check_never_falsely_in_sync(h, fleet, where)
        target, plan = h.plan(fleet)
        final = apply_gateway(target, plan, fast_transport, options("rerun", health_s))
        seen.add(f"{mode}:{final.outcome}")
        verify(h, fleet, final, f"{where}, then re-run: {final.outcome} {final.detail} "
                                f"{final.steps}")
        # a run with nothing to change does not touch the host, so a dead run's lock may
        # stay until the next run that changes something takes it over
        assert final.outcome == "unchanged" or not h.lock_left(), where
        h.reset()
    return seen


def test_interrupted_good_apply_is_completed_by_the_next_run(
        harness: Harness, dead_owner: str) -> None:
    def verify(h: Harness, fleet: Path, final: GatewayResult, where: str) -> None:
        assert final.outcome in ("changed", "unchanged"), where
        _, after = h.plan(fleet)
        assert not after.changed, f"{where}: diff not clean: {after.to_json()}"
        assert h.running_matches_disk(), where
        record = h.activation()
        assert record is not None and not record.pending, where
        assert h.disk() == {n: after.payloads[n] for n in MANAGED}, where

    seen = run_matrix(harness, GOOD, dead_owner, 5.0, verify)
    # kills after the first write leave a completed-by-the-re-run activation behind
    assert "kill:changed" in seen and "cut:changed" in seen, seen


def test_interrupted_rollback_is_finished_by_the_next_run(
        harness: Harness, dead_owner: str) -> None:
    def verify(h: Harness, fleet: Path, final: GatewayResult, where: str) -> None:
        assert final.outcome == "rolled back", where
        assert h.disk() == h.old, where
        assert h.running_matches_disk(), where
        record = h.activation()
        assert record is not None and not record.pending, where
        _, after = h.plan(fleet)
        assert after.pending is None and after.changed, where

    seen = run_matrix(harness, BAD, dead_owner, 0.15, verify)
    assert {"kill:rolled back", "cut:rolled back", "die:rolled back",
            "die-cut:rolled back"} == seen, seen


def test_interrupted_rollback_command_is_finished_by_the_next_one(
        harness: Harness, dead_owner: str) -> None:
    from gwctl.deploy.rollback import rollback_gateway

    h = harness
    fleet = h.fleet(GOOD)
    target, _ = h.plan(fleet)

    def applied() -> None:
        _, plan = h.plan(fleet)
        assert apply_gateway(target, plan, fast_transport,
                             options("setup", 5.0)).outcome == "changed"

    applied()
    new = h.disk()
    counting = RunState(h.site, "none", 0)
    rollback_gateway(target, interrupting(counting), options(dead_owner, 5.0))
    assert h.disk() == h.old and sum(len(o) for o in counting.ops) >= 10, counting.ops
    for mode, at, step in points(counting.ops):
        where = f"rollback: {mode} at command {at} step {step} ({counting.ops[at - 1]})"
        h.reset()
        applied()
        state = RunState(h.site, mode, at, step)
        try:
            rollback_gateway(target, interrupting(state), options(dead_owner, 5.0))
        except Killed:
            pass
        finally:
            h.site.wsman.faults.clear(GW)
            h.site.wsman.shells.forget_shells(GW)
        for name in MANAGED:
            assert h.disk()[name] in (h.old[name], new[name]), f"{where}: {name} torn"
        check_never_falsely_in_sync(h, fleet, where)
        landed = h.disk() == h.old and not h.activation().pending
        final = rollback_gateway(target, fast_transport, options("rerun", 5.0))
        where += f", then rollback again: {final.outcome} {final.detail} {final.steps}"
        assert final.outcome == "rolled back", where
        # a rollback cut short is finished; one that finished (only its lock release
        # was lost) is undone by the next, as any rollback is
        assert h.disk() == (new if landed else h.old), where
        assert h.running_matches_disk(), where
        record = h.activation()
        assert record is not None and not record.pending, where
        assert not h.lock_left(), where
    h.reset()


def test_diff_reports_pending_activation_as_drift(
        harness: Harness, dead_owner: str, capsys: pytest.CaptureFixture[str]) -> None:
    from gwctl.cli.main import main

    fleet = harness.fleet(GOOD)
    # the host's PowerShell and gwctl both die right after both files were written,
    # before the recycle (the 7th step of the lock + backups + record + writes + recycle
    # batch)
    state = interrupted(harness, fleet, "die-kill", 1, dead_owner, 5.0, step=7)
    assert state.ops[0][6] == "recycle_app_pool", state.ops
    assert not harness.running_matches_disk()
    code = main(["diff", "-f", str(fleet), "-i", str(harness.site.inventory_path),
                 "--gateway", GW, "--detailed-exitcode"])
    out = capsys.readouterr().out
    assert code == 2, out
    assert "configuration on disk not yet active: an apply by " + dead_owner in out
    code = main(["apply", "-f", str(fleet), "-i", str(harness.site.inventory_path),
                 "--gateway", GW, "--yes"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"demo/{GW}: changed" in out
    assert harness.running_matches_disk()
    code = main(["diff", "-f", str(fleet), "-i", str(harness.site.inventory_path),
                 "--gateway", GW, "--detailed-exitcode"])
    assert code == 0, capsys.readouterr().out
