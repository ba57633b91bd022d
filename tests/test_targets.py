"""Choosing gateways: --limit (Ansible's pattern language), repeated --gateway/--site,
--workers bounds, unknown names as usage errors, and problems elsewhere in the fleet not
blocking the selected gateways."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml
from test_deploy import CORS, files, gwctl, write_fleet

from gwctl import api
from gwctl.errors import UsageError
from gwctl.hosts.inventory import load_inventory
from gwctl.hosts.selection import choose

if TYPE_CHECKING:
    from collections.abc import Callable

    from gwctl.fleet.model import Fleet
    from gwctl.hosts.inventory import InventoryHost
    from gwctl.sim.server import SimSite

TWO_SITES = """\
apiVersion: gwctl/v1
sites:
  north:
    management_server: {host: north-ms, version: "2025 R2"}
    gateways:
      north-ms: {host: north-ms, colocated: true}
      north-gw1: {host: north-gw1}
      north-gw2: {host: north-gw2}
      north-gw3: {host: north-gw3}
  south-east:
    management_server: {host: se-ms, version: "2025 R2"}
    gateways:
      se-ms: {host: se-ms, colocated: true}
      se-gw1: {host: se-gw1}
"""

INVENTORY = """\
[canary]
north-gw1
se-gw1

[north_hosts]
north-ms
north-gw1
north-gw2
north-gw3

[se]
se-ms
se-gw1-host gwctl_gateway=south-east/se-gw1
"""


@pytest.fixture
def two_sites(tmp_path: Path) -> tuple[Fleet, list[InventoryHost]]:
    (tmp_path / "fleet.yaml").write_text(TWO_SITES)
    (tmp_path / "inventory.ini").write_text(INVENTORY.replace("se-gw1\n\n", "\n"))
    result = api.load(tmp_path / "fleet.yaml")
    assert result.fleet is not None, result.problems
    return result.fleet, load_inventory(str(tmp_path / "inventory.ini"))


@pytest.mark.parametrize(("pattern", "expected"), [
    ("north:!north-gw3", ["north-ms", "north-gw1", "north-gw2"]),   # site minus a host
    ("south-east", ["se-ms", "se-gw1"]),                             # a site, always a group
    ("north-gw*", ["north-gw1", "north-gw2", "north-gw3"]),          # a glob
    ("~north-gw[13]$", ["north-gw1", "north-gw3"]),                  # a regular expression
    ("canary", ["north-gw1"]),                                       # an inventory group
    ("north:&canary", ["north-gw1"]),                                # an intersection
    ("se-gw1-host,north-ms", ["north-ms", "se-gw1"]),                # inventory host names
    ("all:!north_hosts", ["se-ms", "se-gw1"]),
])
def test_limit_patterns(two_sites: tuple[Fleet, list[InventoryHost]],
                        pattern: str, expected: list[str]) -> None:
    fleet, hosts = two_sites
    assert [gw.name for gw in choose(fleet, hosts, limit=pattern)] == expected


def test_limit_narrows_gateway_and_site_options(
        two_sites: tuple[Fleet, list[InventoryHost]]) -> None:
    fleet, hosts = two_sites
    chosen = choose(fleet, hosts, gateways=["se-gw1", "north/north-gw2"], sites=["north"],
                    limit="!north-ms")
    assert [gw.id for gw in chosen] == ["north/north-gw1", "north/north-gw2",
                                        "north/north-gw3", "south-east/se-gw1"]


@pytest.mark.parametrize(("pattern", "message"), [
    ("nosuch", "'nosuch' matches no gateway, site, inventory group or host"),
    ("north,nosuch*", "'nosuch*' matches no gateway"),
    ("north:&south-east", "selects no gateway"),
])
def test_limit_that_matches_nothing_is_a_usage_error(
        two_sites: tuple[Fleet, list[InventoryHost]], pattern: str,
        message: str) -> None:
    fleet, hosts = two_sites
    with pytest.raises(UsageError, match=re.escape(message)):
        choose(fleet, hosts, limit=pattern)


def test_diff_limit_reads_only_the_chosen_hosts(sim_factory: Callable[..., SimSite],
                                                tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    site: SimSite = sim_factory(site="north", gateways=4)
    fleet = write_fleet(site, tmp_path / "fleet.yaml", site_settings={"cors": CORS})
    inv = str(site.inventory_path)
    code, out = gwctl(capsys, "diff", "-f", str(fleet), "-i", inv, "--output", "json",
                      "--limit", "north:!north-ms:!north-gw3")
    assert code == 0, out
    doc = json.loads(out)
    assert [g["gateway"] for g in doc["gateways"]] == ["north/north-gw1", "north/north-gw2"]

    # apply with the same pattern changes exactly those hosts
    untouched = files(site, "north-gw3")
    code, out = gwctl(capsys, "apply", "-f", str(fleet), "-i", inv, "--yes",
                      "--limit", "north-gw*:!north-gw3", "--canary", "0")
    assert code == 0, out
    assert b"portal.example.com" in (files(site, "north-gw1")["appsettings.Production.json"]
                                     or b"")
    assert b"portal.example.com" in (files(site, "north-gw2")["appsettings.Production.json"]
                                     or b"")
    assert files(site, "north-gw3") == untouched


def test_repeated_gateway_options_add_up(sim_site: SimSite, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    fleet = write_fleet(sim_site, tmp_path / "fleet.yaml", site_settings={"cors": CORS})
    code, out = gwctl(capsys, "diff", "-f", str(fleet), "-i", str(sim_site.inventory_path),
                      "--gateway", "demo-ms", "--gateway", "demo/demo-gw1", "--output", "json")
    assert code == 0, out
    doc = json.loads(out)
    assert [g["gateway"] for g in doc["gateways"]] == ["demo/demo-ms", "demo/demo-gw1"]


@pytest.mark.parametrize("workers", ["0", "-3", "many"])
def test_workers_below_one_is_a_usage_error(sim_site: SimSite, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str],
                                            workers: str) -> None:
    fleet = write_fleet(sim_site, tmp_path / "fleet.yaml", site_settings={"cors": CORS})
    before = files(sim_site, "demo-gw1")
    for command in ("diff", "apply", "versions", "check-versions"):
        code, out = gwctl(capsys, command, "-f", str(fleet), "-i",
                          str(sim_site.inventory_path), f"--workers={workers}")
        assert code == 64, (command, out)
        assert "--workers" in out and "(see 'gwctl " in out
    assert files(sim_site, "demo-gw1") == before


def test_unknown_gateway_or_site_is_a_usage_error(sim_site: SimSite, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    fleet = write_fleet(sim_site, tmp_path / "fleet.yaml")
    inv = str(sim_site.inventory_path)
    code, out = gwctl(capsys, "diff", "-f", str(fleet), "-i", inv, "--gateway", "nosuch")
    assert code == 64
    assert "no gateway named 'nosuch' in the fleet (gateways: demo/demo-ms, demo/demo-gw1)" \
        in out
    assert "(usage)" not in out
    code, out = gwctl(capsys, "apply", "-f", str(fleet), "-i", inv, "--yes", "--site", "x")
    assert code == 64 and "no site named 'x'" in out
    code, out = gwctl(capsys, "diff", "-f", str(fleet), "-i", inv, "--limit", "nosuch")
    assert code == 64 and "'nosuch' matches no gateway" in out


def test_errors_elsewhere_do_not_block_the_selection(sim_site: SimSite, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    """One gateway mid-upgrade (its version differs from the management server's) and a
    CORS wildcard on it: the healthy gateway can still be diffed and applied."""
    fleet = write_fleet(sim_site, tmp_path / "fleet.yaml",
                        gateway_settings={"demo-ms": {"cors": {
                            "enabled": True, "allow_origins": ["*"]}}})
    doc = yaml.safe_load(fleet.read_text())
    doc["sites"]["demo"]["gateways"]["demo-gw1"]["settings"] = {"cors": CORS}
    fleet.write_text(yaml.safe_dump(doc, sort_keys=False))
    inv = str(sim_site.inventory_path)

    code, out = gwctl(capsys, "diff", "-f", str(fleet), "-i", inv, "--gateway", "demo-gw1")
    assert code == 0, out
    assert "~ demo/demo-gw1 (demo-gw1)" in out
    assert "error(s) outside the selected gateways, not blocking" in out
    assert "cors-wildcard-origin" in out
    assert "demo-ms (demo-ms)" not in out

    code, out = gwctl(capsys, "diff", "-f", str(fleet), "-i", inv, "--gateway", "demo-ms")
    assert code == 1 and "cors-wildcard-origin" in out and "~ demo/" not in out

    ms_before = files(sim_site, "demo-ms")
    code, out = gwctl(capsys, "apply", "-f", str(fleet), "-i", inv, "--yes",
                      "--limit", "all:!demo-ms")
    assert code == 0, out
    assert b"portal.example.com" in (files(sim_site, "demo-gw1")["appsettings.Production.json"]
                                     or b"")
    assert files(sim_site, "demo-ms") == ms_before


def test_versions_and_check_versions_take_limit(sim_factory: Callable[..., SimSite],
                                                tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    site: SimSite = sim_factory(site="north", gateways=3,
                                gateway_versions={"north-gw2": "2025 R1"})
    inv = str(site.inventory_path)
    fleet = str(site.fleet_path)
    code, out = gwctl(capsys, "check-versions", "-f", fleet, "-i", inv)
    assert code == 1 and "north-gw2" in out
    code, out = gwctl(capsys, "check-versions", "-f", fleet, "-i", inv,
                      "--limit", "north:!north-gw2", "--output", "json")
    assert code == 0, out
    assert json.loads(out)["summary"]["errors"] == 0
    code, out = gwctl(capsys, "versions", "-f", fleet, "-i", inv, "--limit", "north-gw2",
                      "--output", "json")
    assert code == 0, out
    (state,) = json.loads(out)["sites"]
    read = {g["gateway"]: g["discovered"] for g in state["gateways"]}
    # only the chosen host was asked; the others keep no discovered version
    assert read["north-gw2"] == "2025 R1"
    assert read["north-gw1"] is None and read["north-ms"] is None
