"""``playbooks/site.yml`` over two sites in one run: real ansible-playbook through Ansible's
winrm connection against two simulators (``gwctl sim up`` twice, one inventory and one
fleet holding both sites). Each site's management server host first, then its canary,
then its batches, before the next site; a failed canary stops its site's rest."""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_ansible_role import BIN, CORS, ORIGIN, PROD, ROOT, environment, recap

from gwctl.ansible.rollout_order import rollout_order

pytestmark = pytest.mark.timeout(400)
SITES = {"north": 4, "south": 3}  # the management server host's gateway and 3, resp. 2
INSTALL = "C/Program Files/Milestone/XProtect API Gateway"
DEAD = {"reverse_proxy": {"clusters": {"managementserver": {"Destinations": {
    "hostname": {"Address": "http://127.0.0.1:9/"}}}}}}


def gwctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gwctl.cli.main", *args], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)


@pytest.fixture
def two_sites(tmp_path: Path) -> Iterator[Path]:
    """Two simulated sites; ``inventory.yml`` and ``fleet.yaml`` in the returned directory
    hold both (north's hosts first)."""
    inventory: dict[str, Any] = {"all": {"vars": {}, "children": {}}}
    fleet: dict[str, Any] = {"apiVersion": "gwctl/v1", "sites": {}}
    try:
        for site, gateways in SITES.items():
            state = tmp_path / site
            up = gwctl("sim", "up", "--state", str(state), "--site", site, "--gateways",
                       str(gateways))
            assert up.returncode == 0, up.stdout + up.stderr
            inventory["all"]["children"].update(
                yaml.safe_load((state / "inventory.yml").read_text())["all"]["children"])
            fleet["sites"].update(yaml.safe_load((state / "fleet.yaml").read_text())["sites"])
        for site in fleet["sites"].values():
            site["settings"] = {"cors": CORS}
        (tmp_path / "fleet.yaml").write_text(yaml.safe_dump(fleet, sort_keys=False))
        inventory["all"]["vars"]["xprotect_api_gateway_fleet"] = str(tmp_path / "fleet.yaml")
        (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory, sort_keys=False))
        yield tmp_path
    finally:
        for site in SITES:
            gwctl("sim", "down", "--state", str(tmp_path / site))


def site_playbook(base: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    home = base / "home"
    home.mkdir(exist_ok=True)
    return subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(base / "inventory.yml"),
         str(ROOT / "playbooks/site.yml"), *extra],
        cwd=home, env=environment(home), capture_output=True, text=True, check=False,
        timeout=360)


def production(base: Path, host: str) -> Path:
    return base / host.split("-")[0] / "hosts" / host / INSTALL / PROD


def waves_run(stdout: str) -> list[set[str]]:
    """The hosts changed by each batch of the converge play, in the order they ran."""
    chunks = stdout.split("PLAY [Converge the gateways site by site")[1:]
    return [{line.split("[", 1)[1].split("]", 1)[0] for line in chunk.splitlines()
             if line.startswith(("changed: [", "fatal: ["))} for chunk in chunks]


WAVES = [{"north-ms"}, {"north-gw1"}, {"north-gw2", "north-gw3"},
         {"south-ms"}, {"south-gw1"}, {"south-gw2"}]


def test_one_run_rolls_out_site_by_site_ms_host_canary_then_batches(two_sites: Path) -> None:
    r = site_playbook(two_sites, "-e", "xprotect_api_gateway_batch=50%")
    assert r.returncode == 0, r.stdout + r.stderr
    for text in ("north: management server host: north-ms", "north: canary: north-gw1",
                 "north: batch 1/1: north-gw2, north-gw3",
                 "south: management server host: south-ms", "south: canary: south-gw1",
                 "south: batch 1/1: south-gw2"):
        assert f'"msg": "{text}"' in r.stdout, r.stdout
    assert waves_run(r.stdout) == WAVES
    counts = recap(r.stdout)
    for wave in WAVES:
        for host in wave:
            assert counts[host]["changed"] == 1 and counts[host]["failed"] == 0
            assert ORIGIN in production(two_sites, host).read_text("utf-8")
    # the files on the hosts were written wave after wave
    written = [[production(two_sites, h).stat().st_mtime_ns for h in sorted(w)] for w in WAVES]
    for earlier, later in itertools.pairwise(written):
        assert max(earlier) <= min(later)


def test_failed_canary_stops_its_sites_rest_and_the_later_sites(two_sites: Path) -> None:
    fleet_path = two_sites / "fleet.yaml"
    fleet = yaml.safe_load(fleet_path.read_text())
    fleet["sites"]["north"]["gateways"]["north-gw1"]["settings"] = DEAD
    fleet_path.write_text(yaml.safe_dump(fleet, sort_keys=False))
    untouched = ["north-gw2", "north-gw3", "south-ms", "south-gw1", "south-gw2"]
    r = site_playbook(two_sites, "-e", "xprotect_api_gateway_health_timeout=2")
    assert r.returncode == 2, r.stdout + r.stderr
    assert waves_run(r.stdout) == [{"north-ms"}, {"north-gw1"}]
    assert '"msg": "rolled back: health check failed: /.well-known/uris answered 502"' \
        in r.stdout, r.stdout
    counts = recap(r.stdout)
    assert counts["north-ms"]["changed"] == 1 and counts["north-gw1"]["failed"] == 1
    assert ORIGIN in production(two_sites, "north-ms").read_text("utf-8")
    assert not production(two_sites, "north-gw1").exists()  # rolled back to no file
    for host in untouched:
        assert counts[host]["changed"] == 0 and counts[host]["failed"] == 0
        assert not production(two_sites, host).exists()


def test_limit_narrows_the_ordered_rollout_instead_of_skipping_it(two_sites: Path) -> None:
    r = site_playbook(two_sites, "--limit", "north")
    assert r.returncode == 0, r.stdout + r.stderr
    assert '"msg": "north: batch 1/2: north-gw2"' in r.stdout, r.stdout
    assert "south" not in r.stdout
    assert waves_run(r.stdout) == [{"north-ms"}, {"north-gw1"}, {"north-gw2"}, {"north-gw3"}]
    for host in ("north-ms", "north-gw1", "north-gw2", "north-gw3"):
        assert ORIGIN in production(two_sites, host).read_text("utf-8")
    for host in ("south-ms", "south-gw1", "south-gw2"):
        assert not production(two_sites, host).exists()


def test_rollout_order_keeps_sites_and_ms_hosts_apart() -> None:
    def cls(site: str, colocated: bool) -> dict[str, Any]:
        return {"xprotect_api_gateway_class": {"site": site, "colocated": colocated}}

    hostvars = {"a-gw1": cls("a", False), "b-ms": cls("b", True), "a-ms": cls("a", True),
                "a-gw2": cls("a", False), "b-gw1": cls("b", False), "a-gw3": cls("a", False),
                "stray": {"xprotect_api_gateway_class": {"skipped": True}}, "unclassified": {}}
    order = rollout_order(list(hostvars), hostvars, "2")
    # sites in inventory order (a's first host comes first); a's ms host before its canary
    assert order["hosts"] == ["a-ms", "a-gw1", "a-gw2", "a-gw3", "b-ms", "b-gw1"]
    assert order["serial"] == [1, 1, 2, 1, 1]
    assert [(w["site"], w["wave"]) for w in order["waves"]] == [
        ("a", "management server host"), ("a", "canary"), ("a", "batch 1/1"),
        ("b", "management server host"), ("b", "canary")]
    assert rollout_order([], {}, "25%") == {"hosts": [], "serial": [], "waves": []}
