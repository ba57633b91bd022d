"""Rolling order of ``gwctl apply``: canary, batches, the failure budget.

The order itself (`gwctl.deploy.rollout`) is tested with a recording applier; the
``--canary``/``--batch``/``--max-failures`` options end to end against the simulator,
reading the order of the waves from the app pools' recycle times.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from gwctl.cli.main import main
from gwctl.deploy.apply import GatewayResult, Outcome
from gwctl.deploy.gateway_plan import FileChange, GatewayPlan
from gwctl.deploy.rollout import parse_batch, rollout, waves
from gwctl.errors import UsageError

if TYPE_CHECKING:
    from gwctl.sim.server import SimSite

# -- batch sizes and waves ---------------------------------------------------------------


@pytest.mark.parametrize(("text", "total", "size"), [
    ("25%", 10, 3), ("50%", 4, 2), ("100%", 7, 7), ("1%", 3, 1), ("10", 4, 10), ("1", 0, 1),
    ("0.5%", 1000, 5),
])
def test_parse_batch(text: str, total: int, size: int) -> None:
    assert parse_batch(text, total) == size


@pytest.mark.parametrize("text", ["0", "-2", "0%", "101%", "-5%", "half", "", "%", "2.5"])
def test_parse_batch_refuses(text: str) -> None:
    with pytest.raises(UsageError, match="--batch"):
        parse_batch(text, 10)


@pytest.mark.parametrize(("count", "canary", "batch", "expected"), [
    (7, 2, 3, [(0, 1), (1, 2), (2, 5), (5, 7)]),
    (4, 0, 2, [(0, 2), (2, 4)]),
    (2, 5, 1, [(0, 1), (1, 2)]),  # more canaries than gateways
    (3, 1, 10, [(0, 1), (1, 3)]),
    (0, 1, 1, []),
])
def test_waves(count: int, canary: int, batch: int, expected: list[tuple[int, int]]) -> None:
    assert [(w.start, w.stop) for w in waves(count, canary, batch)] == expected


# -- rollout with a recording applier ------------------------------------------------------


def _plan(name: str, *, changed: bool = True, error: str | None = None) -> GatewayPlan:
    change = FileChange("appsettings.Production.json", r"C:\gw\appsettings.Production.json",
                        "update" if changed else "unchanged", "0" * 64, "1" * 64, "",
                        needs_recycle=True)
    return GatewayPlan(f"site/{name}", name, files=[change], error=error)


class Recorder:
    """An applier that records what ran, and a report callback that records what was told.

    Events interleave as ``("apply", name)`` and ``("report", name)``: every wave applies
    all its gateways before reporting them, so the waves can be read off the sequence.
    """

    def __init__(self, outcomes: dict[str, Outcome] | None = None) -> None:
        self.outcomes = outcomes or {}
        self.events: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def apply(self, target: Any, plan: GatewayPlan) -> GatewayResult:
        with self.lock:
            self.events.append(("apply", target.name))
        return GatewayResult(plan.gateway, target.name,
                             self.outcomes.get(target.name, "changed"))

    def report(self, result: GatewayResult) -> None:
        with self.lock:
            self.events.append(("report", result.host))

    def waves(self) -> list[set[str]]:
        """The sets of gateways applied together (between two rounds of reports)."""
        out: list[set[str]] = []
        previous = "report"
        for kind, name in self.events:
            if kind == "apply":
                if previous == "report":
                    out.append(set())
                out[-1].add(name)
            previous = kind
        return out

    def applied(self) -> set[str]:
        return {name for kind, name in self.events if kind == "apply"}


def _items(*plans: GatewayPlan) -> list[tuple[Any, GatewayPlan]]:
    return [(SimpleNamespace(name=p.host), p) for p in plans]


def test_rollout_goes_canary_then_batches_and_skips_unchanged_gateways() -> None:
    items = _items(_plan("a", changed=False), _plan("b"), _plan("c"), _plan("d", changed=False),
                   _plan("e"), _plan("f"), _plan("g"), _plan("h", error="cannot render"))
    rec = Recorder()
    results = rollout(items, rec.apply, canary=2, batch="50%", max_failures=0,
                      report=rec.report)
    # unchanged gateways are reported first and never handed to the applier
    assert rec.events[:2] == [("report", "a"), ("report", "d")]
    assert rec.applied() == {"b", "c", "e", "f", "g", "h"}
    # two canaries one at a time, then batches of half the six gateways that move
    assert rec.waves() == [{"b"}, {"c"}, {"e", "f", "g"}, {"h"}]
    assert [r.host for r in results] == list("abcdefgh")
    assert [r.outcome for r in results] == ["unchanged", "changed", "changed", "unchanged",
                                            "changed", "changed", "changed", "changed"]
    assert sorted(name for kind, name in rec.events if kind == "report") == list("abcdefgh")


@pytest.mark.parametrize("bad", ["failed", "rolled back"])
def test_rollout_stops_after_the_wave_that_exceeds_the_budget(bad: Outcome) -> None:
    items = _items(*(_plan(n) for n in "abcdef"))
    rec = Recorder({"c": bad})
    results = rollout(items, rec.apply, canary=1, batch="2", max_failures=0,
                      report=rec.report)
    # the failing wave finishes; no later wave starts
    assert rec.waves() == [{"a"}, {"b", "c"}]
    assert [(r.host, r.outcome) for r in results] == [
        ("a", "changed"), ("b", "changed"), ("c", bad), ("d", "skipped"), ("e", "skipped"),
        ("f", "skipped")]
    assert {r.detail for r in results[3:]} == {"rollout stopped after failures"}
    assert [name for kind, name in rec.events if kind == "report"] == list("abcdef")


def test_rollout_stops_on_expired_credentials_whatever_the_budget() -> None:
    def apply(target: Any, plan: GatewayPlan) -> GatewayResult:
        expired = plan.gateway == "site/a"
        return GatewayResult(plan.gateway, plan.gateway, "failed" if expired else "changed",
                             credentials_expired=expired)

    results = rollout(_items(_plan("a"), _plan("b"), _plan("c")), apply, canary=1,
                      batch="1", max_failures=10)
    assert [(r.gateway, r.outcome) for r in results] == [
        ("site/a", "failed"), ("site/b", "skipped"), ("site/c", "skipped")]
    assert results[1].detail == "rollout stopped: the logon credentials expired"


def test_rollout_goes_on_while_failures_stay_within_the_budget() -> None:
    items = _items(*(_plan(n) for n in "abcde"))
    rec = Recorder({"a": "failed", "d": "rolled back", "e": "failed"})
    results = rollout(items, rec.apply, canary=1, batch="2", max_failures=2,
                      report=rec.report)
    assert rec.waves() == [{"a"}, {"b", "c"}, {"d", "e"}]
    assert [r.outcome for r in results] == ["failed", "changed", "changed", "rolled back",
                                            "failed"]


def test_rollout_runs_a_batch_at_the_same_time() -> None:
    together = threading.Barrier(3, timeout=10)

    def apply(target: Any, plan: GatewayPlan) -> GatewayResult:
        together.wait()  # breaks (and fails the test) unless all three run at once
        return GatewayResult(plan.gateway, target.name, "changed")

    results = rollout(_items(*(_plan(n) for n in "abc")), apply, canary=0, batch="100%")
    assert [r.outcome for r in results] == ["changed"] * 3


def test_rollout_with_nothing_to_change_touches_nothing() -> None:
    rec = Recorder()
    results = rollout(_items(_plan("a", changed=False), _plan("b", changed=False)), rec.apply,
                      report=rec.report)
    assert rec.applied() == set()
    assert [r.outcome for r in results] == ["unchanged", "unchanged"]


# -- gwctl apply --canary --batch --max-failures against the simulator ---------------------

ORIGIN = "https://portal.example.com"
CORS = {"enabled": True, "allow_origins": [ORIGIN]}
#: valid configuration whose health probe route leads to a dead destination
DEAD = {"reverse_proxy": {"clusters": {"managementserver": {"Destinations": {
    "hostname": {"Address": "http://127.0.0.1:9/"}}}}}}
MOVING = ["hq-gw1", "hq-gw2", "hq-gw3", "hq-gw4"]
ROLLOUT = ("--canary", "1", "--batch", "50%", "--health-timeout", "2")


def _site(sim_factory: Callable[..., SimSite], tmp_path: Path,
          settings: dict[str, dict[str, Any]]) -> tuple[SimSite, Path]:
    """A site of five gateways; `settings` per gateway (hq-ms keeps none: it is in sync)."""
    site = sim_factory(site="hq", gateways=5)
    doc = yaml.safe_load(site.fleet_path.read_text("utf-8"))
    for name, gw_settings in settings.items():
        doc["sites"]["hq"]["gateways"][name]["settings"] = gw_settings
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(yaml.safe_dump(doc, sort_keys=False), "utf-8")
    return site, fleet


def _apply(site: SimSite, fleet: Path, capsys: pytest.CaptureFixture[str],
           *options: str) -> tuple[int, list[str]]:
    code = main(["apply", "-f", str(fleet), "-i", str(site.inventory_path), "--yes",
                 *options])
    out, err = capsys.readouterr()
    # one line per gateway as its wave ends, then the summary table
    told = [line.strip() for line in (out + err).splitlines() if line.startswith("  hq/")]
    return code, told


def _production(site: SimSite, name: str) -> bytes | None:
    path = site.production_path(name)
    return path.read_bytes() if path.exists() else None


def _recycled_at(site: SimSite) -> dict[str, str | None]:
    return {g["name"]: g["app_pool"]["last_recycle"] for g in site.status()["gateways"]}


def test_apply_rolls_out_canary_then_batches(sim_factory: Callable[..., SimSite],
                                             tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    site, fleet = _site(sim_factory, tmp_path, {name: {"cors": CORS} for name in MOVING})
    untouched = _production(site, "hq-ms")
    code, told = _apply(site, fleet, capsys, *ROLLOUT, "--max-failures", "0")
    assert code == 0, told
    assert told == [f"hq/{name}: changed" for name in MOVING]
    for name in MOVING:
        assert ORIGIN.encode() in (_production(site, name) or b"")
    # the gateway already in sync is neither written nor recycled
    recycled = _recycled_at(site)
    assert _production(site, "hq-ms") == untouched and recycled["hq-ms"] is None
    # waves: the canary hq-gw1, then half of the four (hq-gw2, hq-gw3), then hq-gw4;
    # a wave starts only when the one before it is done
    at = {name: recycled[name] or "" for name in MOVING}
    assert at["hq-gw1"] < min(at["hq-gw2"], at["hq-gw3"])
    assert max(at["hq-gw2"], at["hq-gw3"]) < at["hq-gw4"]


def test_apply_stops_after_a_failure_over_the_budget(sim_factory: Callable[..., SimSite],
                                                     tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    settings: dict[str, dict[str, Any]] = {name: {"cors": CORS} for name in MOVING}
    settings["hq-gw2"] = {"cors": CORS, **DEAD}
    site, fleet = _site(sim_factory, tmp_path, settings)
    before = {name: _production(site, name) for name in MOVING}
    code, told = _apply(site, fleet, capsys, *ROLLOUT, "--max-failures", "0")
    assert code == 1
    assert told == [
        "hq/hq-gw1: changed",
        "hq/hq-gw2: rolled back (health check failed: /.well-known/uris answered 502)",
        "hq/hq-gw3: changed",  # in the failing wave: it ran alongside
        "hq/hq-gw4: skipped (rollout stopped after failures)",
    ]
    assert _production(site, "hq-gw2") == before["hq-gw2"]
    assert _production(site, "hq-gw4") == before["hq-gw4"]
    assert _recycled_at(site)["hq-gw4"] is None
    assert ORIGIN.encode() in (_production(site, "hq-gw3") or b"")


def test_apply_goes_on_within_the_failure_budget(sim_factory: Callable[..., SimSite],
                                                 tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    settings: dict[str, dict[str, Any]] = {name: {"cors": CORS} for name in MOVING}
    settings["hq-gw1"] = {"cors": CORS, **DEAD}
    site, fleet = _site(sim_factory, tmp_path, settings)
    code, told = _apply(site, fleet, capsys, *ROLLOUT, "--max-failures", "1")
    assert code == 1  # a gateway was rolled back
    assert told[0].startswith("hq/hq-gw1: rolled back (health check failed")
    assert told[1:] == [f"hq/{name}: changed" for name in MOVING[1:]]
    for name in MOVING[1:]:
        assert ORIGIN.encode() in (_production(site, name) or b"")
