"""A simulated site left half-upgraded: the management server (and its co-located gateway)
on 2025 R2, the remote gateway hq-gw1 still on 2025 R1.

The fleet says what the administrator intends (everything on 2025 R2, gateways without a
version of their own); discovery must find the truth: ``versions`` reports it,
``check-versions`` exits 1, ``apply`` refuses that gateway (and only it) unless
``--allow-version-mismatch``, and ``upgrade-plan`` shows the one remaining step.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from gwctl.cli.main import main
from gwctl.ops.pyimpl import GATEWAY_PRODUCT

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def half_upgraded(sim_factory: Callable[..., Any], tmp_path: Path) -> tuple[Any, Path, Path]:
    site = sim_factory(site="hq", version="2025 R2", gateways=2,
                       gateway_versions={"hq-gw1": "2025 R1"})
    data = yaml.safe_load(site.fleet_path.read_text("utf-8"))
    gateways = data["sites"]["hq"]["gateways"]
    assert set(gateways) == {"hq-ms", "hq-gw1"}
    for gw in gateways.values():
        gw.pop("version", None)  # intended: every gateway on the management server's release
    data["sites"]["hq"]["settings"] = {"logging": {"levels": {"Default": "Information",
                                                              "Yarp": "Warning"}}}
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    return site, fleet, site.inventory_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_declared_versions_alone_look_fine(half_upgraded: tuple[Any, Path, Path],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    _, fleet, _ = half_upgraded
    code, out, _ = run(capsys, "check-versions", "-f", str(fleet))
    assert code == 0, out
    assert "declared versions ok" in out


def test_versions_reports_the_half_upgrade(half_upgraded: tuple[Any, Path, Path],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    _, fleet, inventory = half_upgraded
    code, out, _ = run(capsys, "versions", "-f", str(fleet), "-i", str(inventory),
                       "--output", "json")
    assert code == 0
    doc = json.loads(out)
    (site,) = doc["sites"]
    assert site["management_server"]["discovered"] == "2025 R2"
    assert site["management_server"]["source"] == "ServerConfig.xml"
    gws = {g["gateway"]: g for g in site["gateways"]}
    assert gws["hq-ms"]["colocated"] and gws["hq-ms"]["discovered"] == "2025 R2"
    assert gws["hq-gw1"]["discovered"] == "2025 R1"
    assert gws["hq-gw1"]["product_version"].startswith("25.1.")
    assert gws["hq-gw1"]["declared"] == "2025 R2" and not gws["hq-gw1"]["declared_explicitly"]
    (p,) = doc["problems"]
    assert (p["rule"], p["subject"], p["level"]) == ("version-gateway-behind", "hq/hq-gw1",
                                                     "error")
    assert p["extra"]["move"] == "gateway"
    code, out, _ = run(capsys, "versions", "-f", str(fleet), "-i", str(inventory))
    assert code == 0
    assert "hq-gw1" in out and "2025 R1 (25.1." in out and "version-gateway-behind" in out


def test_check_versions_fails(half_upgraded: tuple[Any, Path, Path],
                              capsys: pytest.CaptureFixture[str]) -> None:
    _, fleet, inventory = half_upgraded
    code, out, _ = run(capsys, "check-versions", "-f", str(fleet), "-i", str(inventory))
    assert code == 1
    assert "version-gateway-behind" in out and "hq/hq-gw1" in out
    code, out, _ = run(capsys, "check-versions", "-f", str(fleet), "-i", str(inventory),
                       "--output", "github")
    assert code == 1
    assert out.startswith("::error file=") and "title=version-gateway-behind" in out


def test_apply_refuses_that_gateway(half_upgraded: tuple[Any, Path, Path],
                                    capsys: pytest.CaptureFixture[str]) -> None:
    site, fleet, inventory = half_upgraded
    code, out, err = run(capsys, "apply", "-f", str(fleet), "-i", str(inventory), "--yes",
                         "--health-timeout", "10", "--output", "json")
    assert code == 1, err
    doc = json.loads(out)
    assert doc["allow_version_mismatch"] is False
    results = {r["gateway"]: r for r in doc["results"]}
    assert results["hq/hq-ms"]["outcome"] == "changed"
    assert results["hq/hq-ms"]["version_gate"]["allowed"] is True
    refused = results["hq/hq-gw1"]
    assert refused["outcome"] == "skipped"
    assert "refused by the version gate" in refused["detail"]
    assert "2025 R1" in refused["detail"] and "upgrade the gateway first" in refused["detail"]
    gate = refused["version_gate"]
    assert gate["refused"] and not gate["overridden"] and not gate["allowed"]
    assert gate["gateway_version"].startswith("2025 R1")
    assert gate["management_server_version"].startswith("2025 R2")
    assert "locked" not in refused["steps"]  # the host was not touched
    assert not site.production_path("hq-gw1").exists()
    assert site.production_path("hq-ms").exists()
    # with --output json the human notes go to stderr, before the confirmation
    assert "! hq/hq-gw1: refused by the version gate, will be skipped" in err
    assert "hq/hq-ms: refused" not in err


def test_apply_override_is_loud_and_recorded(half_upgraded: tuple[Any, Path, Path],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    site, fleet, inventory = half_upgraded
    code, out, err = run(capsys, "apply", "-f", str(fleet), "-i", str(inventory), "--yes",
                         "--health-timeout", "10", "--allow-version-mismatch",
                         "--output", "json")
    assert code == 0, err
    assert "WARNING: --allow-version-mismatch" in err
    doc = json.loads(out)
    assert doc["allow_version_mismatch"] is True
    results = {r["gateway"]: r for r in doc["results"]}
    forced = results["hq/hq-gw1"]
    assert forced["outcome"] == "changed"
    assert forced["version_gate"]["refused"] and forced["version_gate"]["overridden"]
    assert "version gate overridden" in forced["steps"]
    assert site.production_path("hq-gw1").exists()


def test_upgrade_plan_shows_the_one_remaining_step(half_upgraded: tuple[Any, Path, Path],
                                                   capsys: pytest.CaptureFixture[str]
                                                   ) -> None:
    site, fleet, inventory = half_upgraded
    code, out, _ = run(capsys, "upgrade-plan", "-f", str(fleet), "-i", str(inventory),
                       "--to", "2025 R2", "--output", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["versions_from"] == "discovery"
    (s,) = doc["sites"]
    assert [(st["order"], st["status"]) for st in s["steps"]] == [(1, "done"), (2, "todo")]
    todo = s["steps"][1]
    assert todo["components"][0]["name"] == "hq-gw1"
    assert todo["components"][0]["current"] == "2025 R1"
    assert s["fleet_updates"] == [] and s["blocks"] == []
    assert doc["summary"]["steps_todo"] == 1
    code, out, _ = run(capsys, "upgrade-plan", "-f", str(fleet), "-i", str(inventory),
                       "--to", "2025 R2", "--output", "markdown")
    assert code == 0 and out.count("**to do**") == 1

    # finish the upgrade: the API Gateway installer of 2025 R2 ran on hq-gw1
    products = site.host_root("hq-gw1") / ".host" / "installed-products.json"
    data = json.loads(products.read_text("utf-8"))
    data[GATEWAY_PRODUCT] = "25.2.5700.1"
    products.write_text(json.dumps(data), "utf-8")
    code, out, _ = run(capsys, "upgrade-plan", "-f", str(fleet), "-i", str(inventory),
                       "--to", "2025 R2", "--output", "json")
    assert code == 0
    assert json.loads(out)["sites"][0]["status"] == "done"
    code, out, _ = run(capsys, "check-versions", "-f", str(fleet), "-i", str(inventory))
    assert code == 0, out
    assert "installed versions ok" in out


def test_versions_sarif_and_markdown(half_upgraded: tuple[Any, Path, Path],
                                     capsys: pytest.CaptureFixture[str]) -> None:
    _, fleet, inventory = half_upgraded
    code, out, _ = run(capsys, "versions", "-f", str(fleet), "-i", str(inventory),
                       "--output", "sarif")
    assert code == 0
    doc = json.loads(out)
    (result,) = doc["runs"][0]["results"]
    assert result["ruleId"] == "version-gateway-behind" and result["level"] == "error"
    assert "hq/hq-gw1" in result["message"]["text"]
    rules = doc["runs"][0]["tool"]["driver"]["rules"]
    assert rules[0]["id"] == "version-gateway-behind" and rules[0]["help"]["markdown"]
    code, out, _ = run(capsys, "versions", "-f", str(fleet), "-i", str(inventory),
                       "--output", "markdown")
    assert code == 0
    assert "#### site `hq`: management server" in out and "installed 2025 R2 (25.2." in out
    row = next(line for line in out.splitlines() if line.startswith("| `hq-gw1`"))
    assert "| 2025 R1 (25.1." in row and "≠ declared" in row
    assert "### gwctl: 1 error(s), 0 warning(s)" in out
    assert "| ❌ |" in out and "`version-gateway-behind`" in out
