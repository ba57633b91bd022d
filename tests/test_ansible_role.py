"""The Ansible role, run by real ansible-playbook against the simulator:
check mode -> apply -> idempotent re-apply, asserting the recap lines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    from gwctl.sim.server import SimSite

ROOT = Path(__file__).resolve().parent.parent


def playbook(site: SimSite, fleet: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "playbooks" / "ansible.cfg"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(site.inventory_path),
         str(ROOT / "playbooks" / "apply.yml"), "-e", f"gwctl_fleet={fleet}", *extra],
        capture_output=True, text=True, env=env, check=False, timeout=180)


def recap(out: str, host: str) -> str:
    line = next(x for x in out.splitlines() if x.startswith(f"{host} ") and "ok=" in x)
    return " ".join(line.split()[2:5])


def test_check_apply_reapply(sim_site: SimSite, tmp_path: Path) -> None:
    doc = yaml.safe_load(sim_site.fleet_path.read_text())
    (site,) = doc["sites"].values()
    site["settings"] = {"cors": {"enabled": True, "allow_origins": ["https://p.example.com"],
                                 "allow_headers": ["Authorization", "Content-Type"],
                                 "allow_methods": ["GET", "POST", "PATCH"]}}
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(yaml.safe_dump(doc))
    production = sim_site.production_path("demo-gw1")

    r = playbook(sim_site, fleet, "--check", "--diff")
    assert r.returncode == 0, r.stdout + r.stderr
    assert recap(r.stdout, "demo-gw1") == "ok=1 changed=1 unreachable=0"
    assert '+    "Access-Control-Allow-Origin": "https://p.example.com",' in r.stdout
    assert not production.exists()

    r = playbook(sim_site, fleet)
    assert r.returncode == 0, r.stdout + r.stderr
    assert recap(r.stdout, "demo-gw1") == "ok=1 changed=1 unreachable=0"
    assert b"https://p.example.com" in production.read_bytes()

    r = playbook(sim_site, fleet)
    assert r.returncode == 0, r.stdout + r.stderr
    assert recap(r.stdout, "demo-ms") == "ok=1 changed=0 unreachable=0"
    assert recap(r.stdout, "demo-gw1") == "ok=1 changed=0 unreachable=0"
    _, password = sim_site.windows_admin
    assert password not in r.stdout + r.stderr


def test_invalid_fleet_fails_the_task(sim_site: SimSite, tmp_path: Path) -> None:
    doc = yaml.safe_load(sim_site.fleet_path.read_text())
    (site,) = doc["sites"].values()
    site["settings"] = {"cors": {"enabled": True, "allow_origins": ["*"]}}
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(yaml.safe_dump(doc))
    r = playbook(sim_site, fleet)
    assert r.returncode != 0
    assert "the fleet does not validate" in r.stdout and "cors-wildcard-origin" in r.stdout


def test_mistyped_option_fails_the_task_before_any_host_is_touched(
        sim_site: SimSite, tmp_path: Path) -> None:
    doc = yaml.safe_load(sim_site.fleet_path.read_text())
    (site,) = doc["sites"].values()
    site["settings"] = {"cors": {"enabled": True, "allow_origins": ["https://p.example.com"]}}
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(yaml.safe_dump(doc))
    r = playbook(sim_site, fleet, "-e", "gwctl_health_timeout=soon")
    assert r.returncode != 0
    assert "argument 'health_timeout' is of type" in r.stdout, r.stdout + r.stderr
    assert "unable to convert to float" in r.stdout
    assert not sim_site.production_path("demo-gw1").exists()
