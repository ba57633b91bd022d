"""``gwctl import`` over several hosts of a simulated site, merged into a commented fleet:
host names (not connection addresses), co-location found, comments kept byte for byte,
and a fleet that validates -- whether one run with --limit or three runs with --host."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from gwctl import api
from gwctl.cli.main import main
from gwctl.problems import Level

if TYPE_CHECKING:
    from gwctl.sim.server import SimSite

pytestmark = pytest.mark.timeout(120)

COMMENTED = """\
# Our fleet: reviewed in pull requests.
apiVersion: gwctl/v1

sites:
  # the north site, written by hand
  north:
    management_server: {host: north-ms.example.com, version: "2025 R2", encryption: true}
    gateways:
      north-ms:   # on the management server
        host: north-ms.example.com
        settings:
          cors:
            enabled: true
            allow_origins:
              - https://portal.example.com   # the portal
            allow_headers: [Authorization, Content-Type]
            allow_methods: [GET, POST, PATCH]
  # more sites below
"""
HAND_EDITED = """{
  // edited by hand on the host
  "cors": {"enabled": true, "Access-Control-Allow-Origin": "https://ops.example",},
  "WebRTC": {"iceServers": [{"url": "turns:t.example:5349", "username": "u",
                             "credential": "hand-secret-xyz"}]},
}"""


@pytest.fixture
def three(sim_factory: Callable[..., Any]) -> SimSite:
    site: SimSite = sim_factory(site="demo", gateways=3)
    site.production_path("demo-gw1").write_text(HAND_EDITED)
    return site


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def is_subsequence(lines: list[str], of: list[str]) -> bool:
    it = iter(of)
    return all(any(line == other for other in it) for line in lines)


def check_imported(fleet: Path) -> dict[str, Any]:
    result = api.validate(fleet)
    assert result.fleet is not None
    assert [p for p in result.problems if p.level is Level.ERROR] == []
    doc: dict[str, Any] = {}
    for f in sorted(fleet.glob("*.yaml")) if fleet.is_dir() else [fleet]:
        for site, data in (yaml.safe_load(f.read_text()).get("sites") or {}).items():
            doc.setdefault(site, {}).update(data)
    gws: dict[str, Any] = doc["demo"]["gateways"]
    assert sorted(gws) == ["demo-gw1", "demo-gw2", "demo-ms"]
    # the names the inventory knows, never its connection address (127.0.0.1)
    assert {n: g["host"] for n, g in gws.items()} == {n: n for n in gws}
    assert gws["demo-ms"]["colocated"] is True
    assert "colocated" not in gws["demo-gw1"] and "colocated" not in gws["demo-gw2"]
    assert doc["demo"]["management_server"]["host"] == "demo-ms"
    cors = gws["demo-gw1"]["settings"]["cors"]
    assert cors["allow_origins"] == ["https://ops.example"]
    ice = gws["demo-gw1"]["settings"]["webrtc"]["ice_servers"][0]
    assert ice["credential"] == "env:DEMO_GW1_ICE_0_CREDENTIAL"
    assert fleet.is_dir() or doc["north"]["gateways"]["north-ms"]["host"] \
        == "north-ms.example.com"
    gw_ids = sorted(gw.id for gw in result.fleet.gateways())
    assert [g for g in gw_ids if g.startswith("demo/")] == ["demo/demo-gw1", "demo/demo-gw2",
                                                            "demo/demo-ms"]
    return gws


def test_one_limit_run_over_three_hosts_into_a_commented_file(
        three: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(COMMENTED)
    code, out, err = run(capsys, "import", "--limit", "demo", "-i", str(three.inventory_path),
                         "--into", str(fleet))
    assert code == 0, err + out
    assert "added demo/demo-ms" in err and "added demo/demo-gw2" in err
    assert "warning" not in err  # nothing in the fleet changes what the hosts run
    # the live files' own findings are reported (the stock nlog.config's layout typo)
    assert "0 error(s)" in out and "(nlog-layout-missing-dollar)" in out
    text = fleet.read_text()
    assert "hand-secret-xyz" not in text and "127.0.0.1" not in text
    # every line written by hand is still there, byte for byte and in order
    assert is_subsequence(COMMENTED.splitlines(), text.splitlines())
    assert text.startswith(COMMENTED.split("  # more sites below")[0])
    assert "      # SECRET: set DEMO_GW1_ICE_0_CREDENTIAL to the value of " \
           "WebRTC:iceServers:0:credential" in text
    # the management server's version came from demo-ms: no host needs the note
    assert "was not readable" not in text
    check_imported(fleet)


def test_three_runs_into_a_directory(three: SimSite, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    fleet = tmp_path / "fleet"
    fleet.mkdir()
    (fleet / "00-north.yaml").write_text(COMMENTED)
    inv = str(three.inventory_path)
    # the co-located gateway first: a site of remote gateways only fails 2024 R2's rule
    for host in ("demo-ms", "demo-gw1", "demo-gw2"):
        code, out, err = run(capsys, "import", "--host", host, "-i", inv, "--into", str(fleet))
        assert code == 0, err + out
        assert f"added demo/{host}" in err
    assert (fleet / "00-north.yaml").read_text() == COMMENTED  # untouched
    site_file = fleet / "demo.yaml"
    first = site_file.read_text()
    # the earlier runs' comments survive the later runs
    assert "# Imported by gwctl from inventory host demo-ms." in first
    assert "# Imported by gwctl from inventory host demo-gw1." in first
    assert "# SECRET: set DEMO_GW1_ICE_0_CREDENTIAL" in first
    check_imported(fleet)
    # importing a gateway again replaces it where it is written, nothing else moves
    before = first.splitlines()
    code, out, err = run(capsys, "import", "--host", "demo-gw2", "-i", inv, "--into",
                         str(fleet))
    assert code == 0 and "replaced demo/demo-gw2" in err
    assert site_file.read_text().splitlines()[:before.index("      demo-gw2:") - 1] \
        == before[:before.index("      demo-gw2:") - 1]
    check_imported(fleet)


def test_a_merge_that_would_not_load_writes_nothing(
        three: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "repo").mkdir()
    fleet = tmp_path / "repo" / "fleet.yaml"
    broken = COMMENTED.replace("encryption: true", "encryption: maybe")
    fleet.write_text(broken)
    code, out, err = run(capsys, "import", "--host", "demo-gw1", "-i",
                         str(three.inventory_path), "--into", str(fleet))
    assert code == 1
    assert "(schema)" in out and "the merged fleet does not load; nothing written" in err
    assert fleet.read_text() == broken
    assert [p.name for p in fleet.parent.iterdir()] == ["fleet.yaml"]


def test_limit_errors_and_printing(three: SimSite, capsys: pytest.CaptureFixture[str]) -> None:
    inv = str(three.inventory_path)
    code, _, err = run(capsys, "import", "-i", inv)
    assert code == 64 and "give --host NAME (repeatable) or --limit PATTERN" in err
    code, _, err = run(capsys, "import", "--limit", "nosuch*", "-i", inv)
    assert code == 64 and "'nosuch*' matches no inventory group or host" in err
    code, out, _ = run(capsys, "import", "--limit", "demo:!demo-ms", "-i", inv)
    assert code == 0
    doc = yaml.safe_load(out)
    gws = doc["sites"]["demo"]["gateways"]
    assert sorted(gws) == ["demo-gw1", "demo-gw2"]
    assert gws["demo-gw1"]["host"] == "demo-gw1"
    assert "# NOTE: the management server's version was not readable" in out


def test_fleet_defaults_that_change_an_import_are_named(
        three: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(COMMENTED.replace("sites:\n", "defaults:\n  settings:\n    logging:\n"
                                       "      levels: {Default: Warning}\n\nsites:\n", 1))
    code, out, err = run(capsys, "import", "--host", "demo-ms", "--host", "demo-gw1", "-i",
                         str(three.inventory_path), "--into", str(fleet))
    assert code == 0, err + out
    for gw in ("demo-ms", "demo-gw1"):
        assert (f"warning: demo/{gw}: the fleet's defaults or site settings change what it "
                "renders (Logging:LogLevel:Default); 'gwctl diff' shows it on the host") in err
    # and it is so: diff sees the change the defaults bring
    code, out, _ = run(capsys, "diff", "-f", str(fleet), "-i", str(three.inventory_path),
                       "--limit", "demo-ms", "--detailed-exitcode")
    assert code == 2 and "Logging:LogLevel:Default: 'Information' -> 'Warning'" in out


def test_a_declared_fqdn_is_the_host(three: SimSite, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    data = yaml.safe_load(three.inventory_path.read_text())
    (group,) = data["all"]["children"].values()
    group["hosts"]["demo-gw2"]["gwctl_host"] = "demo-gw2.video.example.com"
    group["hosts"]["demo-gw1"]["ansible_winrm_kerberos_hostname_override"] = \
        "demo-gw1.ad.example.com"
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump(data))
    code, out, _ = run(capsys, "import", "--limit", "demo-gw*", "-i", str(inventory))
    assert code == 0
    gws = yaml.safe_load(out)["sites"]["demo"]["gateways"]
    assert gws["demo-gw2"]["host"] == "demo-gw2.video.example.com"
    assert gws["demo-gw1"]["host"] == "demo-gw1.ad.example.com"


def test_a_host_without_gateway_is_skipped_and_an_unreachable_one_stops_all(
        sim_factory: Callable[..., Any], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    site = sim_factory(site="lab", gateways=1, colocated=False)
    code, out, err = run(capsys, "import", "--limit", "lab", "-i", str(site.inventory_path))
    assert code == 0, err
    assert "skipped lab-ms: no API Gateway here" in err
    assert sorted(yaml.safe_load(out)["sites"]["lab"]["gateways"]) == ["lab-gw1"]
    # a host nobody answers on: bound, never listening, so connections are refused
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        data = yaml.safe_load(site.inventory_path.read_text())
        (group,) = data["all"]["children"].values()
        ghost = dict(group["hosts"]["lab-gw1"], ansible_port=closed.getsockname()[1],
                     ansible_winrm_connection_timeout=5)
        group["hosts"]["lab-gw2"] = ghost
        inventory = tmp_path / "inventory.yml"
        inventory.write_text(yaml.safe_dump(data))
        fleet = tmp_path / "fleet.yaml"
        fleet.write_text(COMMENTED)
        code, out, err = run(capsys, "import", "--limit", "lab", "-i", str(inventory),
                             "--into", str(fleet))
    assert code == 1
    assert "error: lab-gw2: " in err
    assert "1 of 3 host(s) could not be read; nothing imported" in err
    assert fleet.read_text() == COMMENTED


def test_reimporting_keeps_comments_inside_and_around_the_gateway(
        three: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(COMMENTED)
    inv = str(three.inventory_path)
    assert run(capsys, "import", "--limit", "demo", "-i", inv, "--into", str(fleet))[0] == 0
    text = fleet.read_text().replace("      demo-gw1:\n        host: demo-gw1\n",
                                     "      demo-gw1:\n        host: demo-gw1   # ours\n", 1)
    assert "# ours" in text
    fleet.write_text(text)
    code, _, err = run(capsys, "import", "--host", "demo-gw1", "-i", inv, "--into",
                         str(fleet))
    assert code == 0 and "replaced demo/demo-gw1" in err
    # nothing changed on the host: the file is byte for byte what it was, the comment
    # inside the gateway and the one above the next gateway included
    assert fleet.read_text() == text
    assert "was not readable" not in err  # the fleet declares the site's server
    # a change on the host changes only what it touches
    three.production_path("demo-gw1").write_text(
        HAND_EDITED.replace("https://ops.example", "https://ops2.example"))
    assert run(capsys, "import", "--host", "demo-gw1", "-i", inv, "--into",
               str(fleet))[0] == 0
    after = fleet.read_text()
    assert after == text.replace("https://ops.example", "https://ops2.example")
