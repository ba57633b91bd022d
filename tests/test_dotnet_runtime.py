"""The gateway's .NET runtime: a per-release fact (gwctl/data/dotnet.yaml) with overrides
(the fleet's ``dotnet_version``, ``lint-file --dotnet-version``, ``gwctl sim up
--gateway-dotnet``), followed by the rules and the simulator alike."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gwctl import api
from gwctl.errors import InputError
from gwctl.rules.runner import lint_files, validate_fleet
from gwctl.sim.server import SimSite
from gwctl.sim.state import SimState, SiteSpec, fleet_data
from gwctl.versions.dotnet import load_runtimes, runtime_for, runtimes
from gwctl.versions.release import Version

ROOT = Path(__file__).resolve().parent.parent
NULLS = ROOT / "tests" / "examples" / "negative" / "dotnet8-null-values" / \
    "appsettings.Production.json"


@pytest.mark.parametrize(("release", "major"), [
    ("2021 R1", 6), ("2022 R1", 6), ("2023 R3", 6), ("24.1.5800.1", 8), ("2025 R2", 8),
    ("2026 R3", 8), ("2027 R1", 10), ("2031 R2", 10)])
def test_each_release_runs_the_table_s_runtime(release: str, major: int) -> None:
    assert runtime_for(Version.parse(release)) == major


def test_every_row_says_it_is_an_assumption_and_why() -> None:
    rows = runtimes()
    assert [r.dotnet for r in rows] == sorted(r.dotnet for r in rows)
    for row in rows:
        assert row.source.startswith("ASSUMPTION."), row
        assert len(row.source) > 80, row


@pytest.mark.parametrize(("text", "message"), [
    ("runtimes: []", "non-empty list"),
    ("runtimes:\n  - {since: '2024 R1', dotnet: 11, source: x}", "dotnet must be one of"),
    ("runtimes:\n  - {since: 2024, dotnet: 8, source: x}", "quoted 'YYYY Rn'"),
    ("runtimes:\n  - {since: '2024r1', dotnet: 8, source: x}", "must be written '2024 R1'"),
    ("runtimes:\n  - {since: '2024 R1', dotnet: 8}", "exactly the keys"),
    ("runtimes:\n  - {since: '2024 R1', dotnet: 8, source: x}\n"
     "  - {since: '2023 R1', dotnet: 10, source: y}", "not after the previous row"),
])
def test_a_bad_table_fails_loudly_naming_the_row(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as err:
        load_runtimes(text)
    assert err.value.file == "gwctl/data/dotnet.yaml"


def test_lint_file_defaults_to_the_release_s_runtime() -> None:
    # the same file stops a 2025 R2 gateway (.NET 8) and starts a 2027 R1 one (.NET 10)
    on_8 = lint_files([str(NULLS)], base=None, version="2025 R2")
    assert sorted(p.rule for p in on_8) == ["proxy-setting-value", "route-query-parameter"]
    assert lint_files([str(NULLS)], base=None, version="2027 R1") == []
    forced = lint_files([str(NULLS)], base=None, version="2027 R1", dotnet_version=8)
    assert [p.rule for p in forced] == [p.rule for p in on_8]


def _fleet(tmp_path: Path, site_setting: str, gw_setting: str) -> Path:
    path = tmp_path / "fleet.yaml"
    path.write_text(f"""\
sites:
  hq:
    management_server: {{host: ms.example.com, version: "2025 R2", encryption: true}}
    settings:
      {site_setting}
      appsettings:
        ReverseProxy:
          Routes:
            r1:
              ClusterId: managementserver
              Match:
                Path: /x/{{**rest}}
                Headers: [{{Name: X-A, Values: [a], Mode: null}}]
    gateways:
      gw1: {{host: ms.example.com}}
      gw2: {{host: gw2.example.com, settings: {{{gw_setting}}}}}
""", "utf-8")
    return path


def test_the_fleet_setting_overrides_per_site_and_gateway(tmp_path: Path) -> None:
    loaded = api.load(_fleet(tmp_path, "dotnet_version: 10", "dotnet_version: 8"))
    assert loaded.fleet is not None, loaded.problems
    assert {g.name: g.dotnet_version for g in loaded.fleet.gateways()} == {"gw1": 10, "gw2": 8}
    problems = validate_fleet(loaded.fleet)
    assert [(p.rule, p.subject) for p in problems] == [("route-header-match", "hq/gw2")]
    assert "Mode is empty" in problems[0].message


def test_the_schema_refuses_an_unknown_runtime(tmp_path: Path) -> None:
    loaded = api.load(_fleet(tmp_path, "dotnet_version: 11", "environment: production"))
    assert loaded.fleet is None
    assert any("dotnet_version" in (p.path or "") for p in loaded.problems), loaded.problems


def test_the_simulator_runs_the_release_s_runtime_or_the_host_s(tmp_path: Path) -> None:
    spec = SiteSpec(version="2025 R2", gateway_dotnet={"demo-gw1": 10},
                    production_files={"demo-ms": NULLS.read_text("utf-8"),
                                      "demo-gw1": NULLS.read_text("utf-8")})
    site = SimSite.create(tmp_path / "sim", spec, wsman=False)
    gw1, gw2 = site.runtime.gateway("demo-ms"), site.runtime.gateway("demo-gw1")
    for gw in (gw1, gw2):
        gw.recycle(source="test")
    assert (gw1.dotnet_version, gw2.dotnet_version) == (8, 10)
    assert not gw1.running.ok and "route-query-parameter" in str(gw1.running.reason)
    assert gw2.running.ok, gw2.running.reason
    assert gw2.status()["dotnet_version"] == 10
    # the override survives a reload of the state, and the generated fleet says it
    state = SimState.load(tmp_path / "sim")
    assert state.host("demo-gw1").dotnet_version == 10
    gateways = fleet_data(state)["sites"]["demo"]["gateways"]
    assert gateways["demo-gw1"]["settings"] == {"dotnet_version": 10}
    assert "settings" not in gateways["demo-ms"]


@pytest.mark.parametrize(("value", "message"), [
    ("demo-gw1=ten", "expected a .NET major version"),
    ("demo-gw1=11", ".NET version must be one of 6, 7, 8, 9, 10"),
    ("nosuch=10", "--gateway-dotnet names unknown gateways nosuch"),
])
def test_sim_up_refuses_a_bad_gateway_dotnet(tmp_path: Path, value: str, message: str) -> None:
    state = tmp_path / ".sim"
    done = subprocess.run([sys.executable, "-m", "gwctl.cli.main", "sim", "up", "--state",
                           str(state), "--gateway-dotnet", value],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 64, done.stderr
    assert message in done.stderr
    assert not (state / "state.json").exists()
