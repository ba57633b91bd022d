"""Saved plans against the simulator: `gwctl plan -o plan.json`, then `gwctl apply
plan.json` applies exactly that plan, refuses per host what changed since, and never
carries a secret in the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml
from test_deploy import CORS, ORIGIN, TURN_SECRET, files, gwctl, write_fleet

from gwctl.cli.main import main

if TYPE_CHECKING:
    from collections.abc import Callable

    from gwctl.deploy.gateway_plan import Action
    from gwctl.sim.server import SimSite

PROD = "appsettings.Production.json"
TURN = {"ice_servers": [{"url": "turn:turn.example.com:3478", "username": "gw",
                         "credential": "env:GWCTL_TEST_TURN"}]}


@pytest.fixture
def site(sim_factory: Callable[..., SimSite], tmp_path: Path,
         monkeypatch: pytest.MonkeyPatch) -> SimSite:
    monkeypatch.setenv("GWCTL_TEST_TURN", TURN_SECRET)
    s: SimSite = sim_factory(gateways=3)
    return s


def _fleet(site: SimSite, tmp_path: Path) -> Path:
    return write_fleet(site, tmp_path / "fleet.yaml",
                       site_settings={"cors": CORS, "webrtc": TURN})


def test_plan_then_apply_refuses_only_the_host_changed_since(
        site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    fleet = _fleet(site, tmp_path)
    plan_file = tmp_path / "plan.json"
    before = {n: files(site, n) for n in ("demo-ms", "demo-gw1", "demo-gw2")}
    code, out = gwctl(capsys, "plan", "-f", str(fleet), "-i", str(site.inventory_path),
                      "-o", str(plan_file), "--detailed-exitcode")
    assert code == 2, out
    assert "3 gateway(s): 3 to create, 0 to change, 0 in sync" in out
    assert f"gwctl apply {plan_file}" in out
    # planning changed nothing
    assert {n: files(site, n) for n in before} == before

    raw = plan_file.read_text()
    assert TURN_SECRET not in raw
    doc = json.loads(raw)
    assert doc["gwctl_plan"] == 1 and doc["fleet"]["path"] == str(fleet)
    assert len(doc["fleet"]["sha256"]) == 64
    assert [g["gateway"] for g in doc["gateways"]] == ["demo/demo-ms", "demo/demo-gw1",
                                                       "demo/demo-gw2"]
    gw1 = doc["gateways"][1]
    assert gw1["activation_sha256"] == "absent"
    (prod,) = [f for f in gw1["files"] if f["name"] == PROD]
    assert prod["action"] == "create" and prod["live_sha256"] is None
    assert len(prod["rendered_sha256"]) == 64

    # someone edits demo-gw2 by hand between plan and apply
    edited = b'{"Logging": {"LogLevel": {"Default": "Debug"}}}\r\n'
    site.production_path("demo-gw2").write_bytes(edited)
    # the shell that applies has the secret (the plan never had it)
    monkeypatch.setenv("GWCTL_TEST_TURN", TURN_SECRET)
    code, out = gwctl(capsys, "apply", str(plan_file), "--yes")
    assert code == 1, out
    assert ("! demo/demo-gw2 (demo-gw2): refused, not as planned: "
            "appsettings.Production.json changed on the host since the plan was made") in out
    for name in ("demo-ms", "demo-gw1"):
        written = files(site, name)[PROD] or b""
        assert ORIGIN.encode() in written
        assert TURN_SECRET.encode() in written  # resolved at apply time
    assert files(site, "demo-gw2")[PROD] == edited
    assert TURN_SECRET not in out

    # a plan is good once: after it was applied, its hosts all changed since
    code, out = gwctl(capsys, "apply", str(plan_file), "--yes")
    assert code == 1
    assert out.count("changed on the host since the plan was made") == 3


def test_a_changed_fleet_applies_nothing(site: SimSite, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    fleet = _fleet(site, tmp_path)
    plan_file = tmp_path / "plan.json"
    code, out = gwctl(capsys, "plan", "-f", str(fleet), "-i", str(site.inventory_path),
                      "-o", str(plan_file), "--limit", "demo-gw1")
    assert code == 0, out
    assert [g["gateway"] for g in json.loads(plan_file.read_text())["gateways"]] == \
        ["demo/demo-gw1"]
    doc = yaml.safe_load(fleet.read_text())
    doc["sites"]["demo"]["settings"]["cors"]["allow_origins"] = ["https://other.example"]
    fleet.write_text(yaml.safe_dump(doc, sort_keys=False))
    before = files(site, "demo-gw1")
    code, out = gwctl(capsys, "apply", str(plan_file), "--yes")
    assert code == 1
    assert "changed since the plan was made" in out and "nothing applied" in out
    assert files(site, "demo-gw1") == before


def test_a_limited_plan_applies_only_its_gateways(site: SimSite, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    fleet = _fleet(site, tmp_path)
    plan_file = tmp_path / "plan.json"
    code, out = gwctl(capsys, "plan", "-f", str(fleet), "-i", str(site.inventory_path),
                      "-o", str(plan_file), "--limit", "demo:!demo-ms")
    assert code == 0, out
    ms_before = files(site, "demo-ms")
    code = main(["apply", str(plan_file), "--yes", "--output", "json"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    result = json.loads(out)  # progress goes to stderr, the document alone to stdout
    assert "canary 1/1: demo/demo-gw1" in err
    assert {r["gateway"]: r["outcome"] for r in result["results"]} == \
        {"demo/demo-gw1": "changed", "demo/demo-gw2": "changed"}
    assert files(site, "demo-ms") == ms_before
    assert ORIGIN.encode() in (files(site, "demo-gw2")[PROD] or b"")


def test_plan_file_misuse(site: SimSite, tmp_path: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    fleet = _fleet(site, tmp_path)
    bogus = tmp_path / "bogus.json"
    bogus.write_text('{"version": 1, "gateways": []}')
    code, out = gwctl(capsys, "apply", str(bogus), "--yes")
    assert code == 1 and "not a gwctl plan file" in out
    bogus.write_text('{"gwctl_plan": 99}')
    code, out = gwctl(capsys, "apply", str(bogus), "--yes")
    assert code == 1 and "plan format 99 is not supported" in out
    bogus.write_text('{"gwctl_plan": 1, "fleet": {"path": "x"}}')
    code, out = gwctl(capsys, "apply", str(bogus), "--yes")
    assert code == 1 and "damaged plan file" in out
    code, out = gwctl(capsys, "apply", str(bogus), "--yes", "-f", str(fleet))
    assert code == 64 and "do not combine PLANFILE" in out
    code, out = gwctl(capsys, "apply", "--yes")
    assert code == 64 and "or a saved plan" in out


def test_every_kind_of_change_since_the_plan_is_named(tmp_path: Path) -> None:
    """stale_reasons, case by case: the host's file, the activation record, the
    rendering, and an action that differs (a secret's value changed since)."""
    from gwctl import api
    from gwctl.deploy.gateway_plan import FileChange, GatewayPlan
    from gwctl.deploy.saved_plan import plan_entry, stale_reasons

    (tmp_path / "fleet.yaml").write_text(
        "apiVersion: gwctl/v1\nsites:\n  s:\n    management_server: {host: ms, version: "
        "'2025 R2'}\n    gateways:\n      g: {host: g, colocated: true, settings: {cors: "
        "{enabled: true, allow_origins: ['https://a.example']}}}\n")
    loaded = api.load(tmp_path / "fleet.yaml")
    assert loaded.fleet is not None
    (gw,) = loaded.fleet.gateways()

    def plan(action: Action, old: str | None, activation: str = "absent") -> GatewayPlan:
        return GatewayPlan(gw.id, "g", files=[FileChange(PROD, "C:\\x", action,
                                                         old, "new", "", True)],
                           activation_sha256=activation)

    entry = plan_entry(gw, plan("update", "old"))
    assert stale_reasons(entry, gw, plan("update", "old")) == []
    assert stale_reasons(entry, gw, plan("update", "other")) == \
        [f"{PROD} changed on the host since the plan was made"]
    assert stale_reasons(entry, gw, plan("update", "old", "rec")) == \
        ["another apply or rollback ran on the host since the plan was made"]
    assert stale_reasons(entry, gw, plan("unchanged", "old")) == \
        [f"{PROD}: the plan said update, now it would be unchanged (a secret's value "
         "changed?)"]
    entry["files"][0]["rendered_sha256"] = "0" * 64
    assert stale_reasons(entry, gw, plan("update", "old")) == \
        [f"{PROD}: gwctl now renders it differently than planned"]
    assert stale_reasons({**entry, "status": "error"}, gw, plan("update", "old")) == \
        ["the host could not be read when the plan was made; plan again"]
    assert stale_reasons(entry, gw, GatewayPlan(gw.id, "g", error="timed out")) == \
        ["the host cannot be read now: timed out"]
