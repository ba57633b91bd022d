"""What apply tells while it works: its canary and batch waves, and on Ctrl-C (a real
SIGINT sent by the test mid-rollout) the gateway in flight is finished, the rest left
untouched, and the summary printed (exit 130)."""

from __future__ import annotations

import io
import os
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from test_deploy import CORS, ORIGIN, files, gwctl, inventory_with_health_user, write_fleet

if TYPE_CHECKING:
    from collections.abc import Callable

    from gwctl.sim.server import SimSite

PROD = "appsettings.Production.json"


def test_canary_and_batches_are_shown(sim_factory: Callable[..., SimSite], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    site: SimSite = sim_factory(gateways=4)
    fleet = write_fleet(site, tmp_path / "fleet.yaml", site_settings={"cors": CORS})
    code, out = gwctl(capsys, "apply", "-f", str(fleet), "-i", str(site.inventory_path),
                      "--yes", "--canary", "1", "--batch", "50%")
    assert code == 0, out
    lines = out.splitlines()
    waves = [line for line in lines if line.startswith(("canary ", "batch "))]
    assert waves == ["canary 1/1: demo/demo-ms",
                     "batch 1/2: demo/demo-gw1, demo/demo-gw2",
                     "batch 2/2: demo/demo-gw3"]
    # each wave's outcomes follow its heading
    assert lines.index("  demo/demo-ms: changed") > lines.index(waves[0])
    assert lines.index("  demo/demo-gw3: changed") > lines.index(waves[2])
    # piped, each slow step is a plain line of its own, before the outcome
    steps = [line for line in lines if line.lstrip().startswith("demo/demo-gw3: ")]
    # (the backups, the writes and the recycle are one remote command)
    assert steps == ["    demo/demo-gw3: backing up and writing appsettings.Production.json, "
                     "recycling the app pool",
                     "    demo/demo-gw3: waiting for the health check (up to 30 s)",
                     "  demo/demo-gw3: changed"]


def test_live_display_redraws_one_status_line(capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from gwctl.cli.deploy_common import StepDisplay

    plain = io.StringIO()
    display = StepDisplay(plain, live=True)
    display.step("s/a", "recycling the app pool")
    display.step("s/b", "waiting for the health check (up to 30 s)")
    display.line("  s/a: changed", finished="s/a")
    display.close()
    err = capsys.readouterr().err
    assert "\r\033[Ks/a: recycling the app pool" in err
    assert "\r\033[Ks/a: recycling the app pool; s/b: waiting for the health check" in err
    # after s/a finished only s/b is in flight, and the status line ends cleared
    assert err.split("\r\033[K")[-2].startswith("s/b: waiting") and err.endswith("\r\033[K")
    assert plain.getvalue() == "  s/a: changed\n"  # steps never reach the log on a terminal


def test_sigint_finishes_the_gateway_in_flight_and_prints_the_summary(
        sim_site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fleet = write_fleet(sim_site, tmp_path / "fleet.yaml", site_settings={"cors": CORS})
    old_gw1 = files(sim_site, "demo-gw1")
    # the canary (demo-ms) recycles slowly: the interrupt lands while it is in flight
    sim_site.set_fault("demo-ms", "slow-recycle", 2)
    host_lock = sim_site.host_root("demo-ms") / "C" / "ProgramData" / "gwctl" / "apply.lock"

    def interrupt_when_in_flight() -> None:
        deadline = time.monotonic() + 20
        while not host_lock.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        if host_lock.exists():
            os.kill(os.getpid(), signal.SIGINT)

    sender = threading.Thread(target=interrupt_when_in_flight)
    # as in a terminal: Python's own handler (a pytest started in the background by a
    # shell without job control inherits SIGINT ignored, which apply leaves alone)
    started_with = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        sender.start()
        code, out = gwctl(capsys, "apply", "-f", str(fleet), "-i",
                          str(sim_site.inventory_path), "--yes", "--canary", "1")
        sender.join()
        restored = signal.getsignal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, started_with)
    assert code == 130, out
    assert "interrupt: finishing the gateways in flight" in out
    # the summary table, with the finished canary and the untouched rest
    assert "GATEWAY" in out and "OUTCOME" in out
    summary = [line for line in out.splitlines() if line.startswith("demo/")]
    assert any(line.startswith("demo/demo-ms") and " changed " in line for line in summary)
    assert any(line.startswith("demo/demo-gw1") and " skipped " in line and
               "interrupted (SIGINT)" in line for line in summary)
    assert "1 were not started; each host holds its old or its new configuration" in out
    # old-or-new: the canary is new and healthy, the other exactly as before
    assert ORIGIN.encode() in (files(sim_site, "demo-ms")[PROD] or b"")
    assert files(sim_site, "demo-gw1") == old_gw1
    assert not host_lock.exists()
    # the default handler is back
    assert restored is signal.default_int_handler


def test_an_apply_started_with_sigint_ignored_leaves_it_ignored() -> None:
    from gwctl.cli.cmd_apply import _Interrupts

    started_with = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with _Interrupts(io.StringIO()) as interrupts:
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert interrupts.reason() is None
        signal.signal(signal.SIGINT, signal.default_int_handler)
        with _Interrupts(io.StringIO()):
            assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, started_with)


def test_the_health_check_logs_on_as_the_hosts_own_health_user(
        sim_site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # as verify and probe: the inventory's gwctl_health_user/_password, no --health-user
    monkeypatch.delenv("GWCTL_HEALTH_PASSWORD", raising=False)
    fleet = write_fleet(sim_site, tmp_path / "fleet.yaml", site_settings={"cors": CORS})
    user, password = next(iter(sim_site.users.items()))
    inventory = inventory_with_health_user(sim_site, tmp_path / "inventory.yml", "demo-gw1",
                                           user, f"{password}-stale")
    old = files(sim_site, "demo-gw1")
    args = ("apply", "-f", str(fleet), "-i", str(inventory), "--yes", "--gateway", "demo-gw1")
    code, out = gwctl(capsys, *args)
    assert code == 1, out
    # refused credentials look like a broken gateway from here: the change is rolled back,
    # and the message says what the answer was
    refused = ("token request answered 400 (invalid_grant: the health user's credentials "
               "were refused)")
    assert (f"demo/demo-gw1: failed (health check failed: {refused}; after rollback still "
            f"unhealthy: {refused})") in out, out
    assert files(sim_site, "demo-gw1") == old
    assert password not in out
    inventory_with_health_user(sim_site, inventory, "demo-gw1", user, password)
    code, out = gwctl(capsys, *args)
    assert code == 0, out
    assert ORIGIN.encode() in (files(sim_site, "demo-gw1")[PROD] or b"")
