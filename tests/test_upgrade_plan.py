"""upgrade-plan: order, done steps, blocks and notes; text, markdown and JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_version_rules import (
    ABSENT,
    COLO,
    ICE_ONE,
    ICE_TURN,
    Found,
    discovery_for,
    make_fleet,
    remote,
)

from gwctl.versions.release import Version
from gwctl.versions.state import site_states
from gwctl.versions.upgrade import UpgradePlan, plan_upgrade, render_markdown, render_text

pytestmark = pytest.mark.timeout(60)


def plan(ms: str, gateways: dict[str, dict[str, Any]], to: str, *,
         found: Found | None = None, settings: dict[str, Any] | None = None) -> UpgradePlan:
    fleet = make_fleet(ms, gateways, settings=settings)
    disc = discovery_for(fleet, found) if found is not None else None
    return plan_upgrade(site_states(fleet, disc), Version.parse(to), fleet_path="fleet.yaml",
                        inventory_path="inv.yml" if found else None,
                        discovered=found is not None)


def test_order_management_server_host_first_then_remote_gateways() -> None:
    p = plan("2025 R1", {"g2": remote("g2"), "g1": COLO, "g3": remote("g3")}, "2025 R2")
    (site,) = p.sites
    assert [s.order for s in site.steps] == [1, 2, 3]
    first = site.steps[0]
    assert [c.kind for c in first.components] == ["management_server", "gateway"]
    assert first.components[1].name == "g1" and first.components[1].colocated
    assert "co-located gateway(s) g1 are upgraded with it" in first.title
    assert [s.components[0].name for s in site.steps[1:]] == ["g2", "g3"]
    assert all(s.status == "todo" for s in site.steps)
    assert any("XProtect VMS Products installer" in h for h in first.how)
    assert any("API Gateway installer" in h and "right after" in h for h in site.steps[1].how)
    assert any("ProductVersion" in c.expect and "25.2.*" in c.expect for c in first.checks)
    assert [u.path for u in site.fleet_updates] == ["sites.s.management_server.version"]
    commands = [c.command or "" for c in site.final_checks]
    assert commands[0].startswith("gwctl check-versions -f fleet.yaml -i INVENTORY")
    assert any(c.startswith("gwctl diff") for c in commands)
    assert not p.blocked and site.status == "todo"


def test_half_upgraded_site_shows_only_the_remaining_step() -> None:
    p = plan("2025 R2", {"g1": COLO, "g2": remote("g2"), "g3": remote("g3")}, "2025 R2",
             found=Found(server_config="25.2.20.1", server_config_on="g1",
                         gateways={"g1": "25.2.20.1", "g2": "25.1.10.1", "g3": "25.2.20.1"}))
    (site,) = p.sites
    assert [(s.order, s.status) for s in site.steps] == [(1, "done"), (2, "todo"),
                                                          (3, "done")]
    (todo,) = site.todo
    assert todo.components[0].name == "g2" and todo.components[0].current == Version(2025, 1,
                                                                                     10, 1)
    assert "from 2025 R1 to 2025 R2" in todo.title
    assert site.fleet_updates == []
    text = render_text(p)
    assert "[done]" in text and text.count("[todo]") == 1
    assert "how:" in text and "then check:" in text
    assert "1 step(s) to do" in text


def test_everything_done() -> None:
    p = plan("2025 R2", {"g1": COLO}, "2025 R2")
    (site,) = p.sites
    assert site.status == "done" and not site.todo
    assert "when every step is done" not in render_text(p)


def test_colocated_gateway_left_behind_is_its_own_remaining_step() -> None:
    p = plan("2025 R2", {"g1": COLO}, "2025 R2",
             found=Found(server_config="25.2.20.1", server_config_on="g1",
                         gateways={"g1": "25.1.10.1"}))
    (step,) = p.sites[0].todo
    assert step.order == 1 and "co-located gateway(s) g1" in step.title
    assert "already on 2025 R2" in step.title


@pytest.mark.parametrize(("ms", "gateways", "to", "code"), [
    ("2025 R2", {"g1": COLO}, "2025 R1", "downgrade"),
    ("2025 R1", {"g1": COLO, "g2": remote("g2", "2025 R2")}, "2025 R1", "downgrade"),
    ("2021 R2", {"g1": COLO}, "2021 R2", "below-minimum"),
    ("2023 R2", {}, "2023 R3", "missing-gateway"),
    ("2024 R1", {"g2": remote("g2")}, "2024 R2", "missing-colocated-gateway"),
    ("2022 R3", {"g1": COLO}, "2023 R1", None),
    ("2024 R1", {"g2": remote("g2")}, "2024 R1", None),
])
def test_blocks(ms: str, gateways: dict[str, dict[str, Any]], to: str,
                code: str | None) -> None:
    site = plan(ms, gateways, to).sites[0]
    assert {b.code for b in site.blocks} == ({code} if code else set())
    assert (site.status == "blocked") is bool(code)


def test_gateway_discovered_absent_counts_as_missing() -> None:
    site = plan("2023 R2", {"g1": COLO}, "2023 R3",
                found=Found(well_known="23.2.1.1", server_config="23.2.1.1",
                            server_config_on="g1", gateways={"g1": ABSENT})).sites[0]
    assert [b.code for b in site.blocks] == ["missing-gateway"]


def test_feature_the_target_lacks_blocks() -> None:
    site = plan("2022 R3", {"g1": COLO}, "2023 R2", settings=ICE_TURN).sites[0]
    assert [b.code for b in site.blocks] == ["feature-missing"]
    assert "a TURN server" in site.blocks[0].message
    assert site.blocks[0].pointer == "/sites/s/settings/webrtc/ice_servers/0/url"


def test_single_stun_shape_is_a_note_not_a_block() -> None:
    site = plan("2023 R2", {"g1": COLO, "g2": remote("g2")}, "2025 R2",
                settings=ICE_ONE).sites[0]
    assert site.blocks == []
    (note,) = [n for n in site.notes if "single-STUN" in n]
    assert "re-rendered for 2025 R2 as WebRTC:iceServers" in note
    assert "(gateways: g1, g2)" in note


def test_raw_single_stun_shape_blocks() -> None:
    raw = {"appsettings": {"WebRTC": {"STUN": {"Hostname": {"Address": "stun:x:3478"}}}}}
    site = plan("2023 R2", {"g1": COLO}, "2023 R3", settings=raw).sites[0]
    assert [b.code for b in site.blocks] == ["raw-shape"]
    assert "gwctl does not rewrite raw keys" in site.blocks[0].message


def test_prerelease_gateway_is_uninstalled_first() -> None:
    site = plan("2022 R1", {"g1": COLO, "g2": remote("g2", "2021 R2")}, "2022 R2").sites[0]
    step = site.steps[1]
    assert step.how[0].startswith("uninstall the 2021 R2 pre-release")
    assert site.blocks == []


def test_markdown_is_a_change_ticket() -> None:
    p = plan("2025 R2", {"g1": COLO, "g2": remote("g2")}, "2025 R2",
             found=Found(server_config="25.2.20.1", server_config_on="g1",
                         gateways={"g1": "25.2.20.1", "g2": "25.1.10.1"}))
    md = render_markdown(p)
    assert md.startswith("# Upgrade plan: XProtect VMS and API Gateways to 2025 R2\n")
    assert "| `s` | todo | 1 | 0 |" in md
    assert "| 1 | done |" in md and "| 2 | **to do** |" in md
    assert "#### Step 2: Upgrade gateway g2" in md
    assert "- [ ] `gwctl versions -f fleet.yaml -i inv.yml --site s` — shows g2 on 2025 R2" in md
    assert "- [ ] `gwctl check-versions -f fleet.yaml -i inv.yml --site s` — exits 0" in md
    assert "#### Step 1" not in md  # done steps are not repeated


def test_json_is_stable() -> None:
    p = plan("2025 R1", {"g1": COLO, "g2": remote("g2", "2025 R1")}, "25.2")
    doc = json.loads(json.dumps(p.to_json()))
    assert doc["version"] == 1 and doc["target"] == "2025 R2" and doc["target_product"] == "25.2"
    assert doc["versions_from"] == "fleet"
    site = doc["sites"][0]
    assert set(site) == {"site", "status", "management_server", "steps", "blocks", "notes",
                         "fleet_updates", "final_checks", "base_problems"}
    step = site["steps"][1]
    assert set(step) == {"order", "status", "title", "components", "how", "checks"}
    assert set(step["components"][0]) == {"kind", "name", "host", "current", "current_full",
                                          "source", "colocated", "target", "done"}
    assert set(step["checks"][0]) == {"command", "expect"}
    assert site["fleet_updates"][1] == {
        "path": "sites.s.gateways.g2.version", "value": "2025 R2",
        "note": "or remove it: a gateway defaults to the management server's version"}
    assert doc["summary"] == {"sites": 1, "blocked": 0, "steps_todo": 2, "steps_done": 0}


def test_cli_upgrade_plan_without_inventory(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from gwctl.cli.main import main

    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(f"""
sites:
  s:
    management_server: {{host: {COLO['host']}, version: "2024 R1"}}
    gateways:
      g2: {{host: g2.example.com}}
""")
    assert main(["upgrade-plan", "-f", str(fleet), "--to", "2025 R2"]) == 1  # blocked
    out = capsys.readouterr().out
    assert "missing-colocated-gateway" in out
    assert main(["upgrade-plan", "-f", str(fleet), "--to", "2024 R1", "--output", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["sites"][0]["status"] == "done"
    assert main(["upgrade-plan", "-f", str(fleet), "--to", "2024 R7"]) == 64
    assert main(["upgrade-plan", "-f", str(fleet), "--to", "2024 R2",
                 "--output", "markdown"]) == 1
    assert capsys.readouterr().out.startswith("# Upgrade plan")
