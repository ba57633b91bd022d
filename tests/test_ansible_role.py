"""The Ansible role and playbooks, run by real ansible-playbook through Ansible's own
``winrm`` connection plugin against the simulator's WS-Management endpoint.

The README's commands are run verbatim from the directories it names: the repository
root (a directory holding exactly the repository's top-level entries, as links, plus the
simulator's ``.sim/``) and another directory after ``ansible-galaxy collection install
./``. No ANSIBLE_CONFIG is set: configuration comes from where Ansible finds it, as for a
user (the bug this file guards against hid behind that variable)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from gwctl.sim.server import SimSite

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PROD = "appsettings.Production.json"
ORIGIN = "https://p.example.com"
CORS = {"enabled": True, "allow_origins": [ORIGIN],
        "allow_headers": ["Authorization", "Content-Type"], "allow_methods": ["GET", "POST"]}


def environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(HOME=str(home), PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    return env


def run(line: str, cwd: Path, home: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """One documented command line, as a shell would split it (comments dropped)."""
    args = [*shlex.split(line, comments=True), *extra]
    return subprocess.run(args, cwd=cwd, env=environment(home), capture_output=True,
                          text=True, check=False, timeout=180)


def recap(out: str) -> dict[str, dict[str, int]]:
    counts = {}
    for line in out.splitlines():
        m = re.match(r"^(\S+)\s+: (ok=.*)$", line)
        if m:
            counts[m[1]] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m[2])}
    return counts


def readme_blocks() -> list[list[str]]:
    """The command lines of the ```sh blocks in the README's Ansible section."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("\n## Ansible\n"):]
    section = section[:section.index("\n## ", 5)]
    return [[x for x in block.splitlines() if x.strip()]
            for block in re.findall(r"```sh\n(.*?)```", section, re.S)]


def repo_root_view(tmp_path: Path) -> Path:
    """A directory whose entries are the repository's top-level entries: the repository
    root as Ansible sees it (including the package folder ./gwctl that once shadowed the
    role), with room for a .sim/ of its own."""
    view = tmp_path / "repo"
    view.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in (".git", ".sim", ".venv"):
            (view / entry.name).symlink_to(entry)
    return view


def set_settings(fleet: Path, site_settings: dict[str, Any] | None = None,
                 gateway_settings: dict[str, dict[str, Any]] | None = None) -> None:
    doc = yaml.safe_load(fleet.read_text())
    (site,) = doc["sites"].values()
    if site_settings is not None:
        site["settings"] = site_settings
    for name, settings in (gateway_settings or {}).items():
        site["gateways"][name]["settings"] = settings
    fleet.write_text(yaml.safe_dump(doc, sort_keys=False))


def host_files(site: SimSite, name: str) -> dict[str, bytes | None]:
    d = site.install_dir(name)
    return {n: (d / n).read_bytes() if (d / n).exists() else None
            for n in (PROD, "nlog.config")}


def test_readme_commands_from_the_repository_root_and_from_elsewhere(
        sim_factory: Callable[..., SimSite], tmp_path: Path) -> None:
    root_block, elsewhere_block = readme_blocks()
    check, apply, upgrade_check, verify, galaxy = root_block
    repo, home = repo_root_view(tmp_path), tmp_path / "home"
    home.mkdir()
    site = sim_factory(state_dir=repo / ".sim")
    set_settings(site.fleet_path, {"cors": CORS})
    gateways = ("demo-ms", "demo-gw1")
    before = {n: host_files(site, n) for n in gateways}
    outputs = []

    r = run(check, repo, home)
    outputs.append(r.stdout + r.stderr)
    assert r.returncode == 0, r.stdout + r.stderr
    counts = recap(r.stdout)
    for gw in gateways:
        assert counts[gw]["changed"] == 1 and counts[gw]["failed"] == 0, r.stdout
    # Ansible's own unified diff of the before/after texts
    assert f"+++ after: C:\\Program Files\\Milestone\\XProtect API Gateway\\{PROD} (gwctl)" \
        in r.stdout
    assert f'+    "Access-Control-Allow-Origin": "{ORIGIN}",' in r.stdout
    assert {n: host_files(site, n) for n in gateways} == before

    r = run(apply, repo, home)
    outputs.append(r.stdout + r.stderr)
    assert r.returncode == 0, r.stdout + r.stderr
    # the management server host's gateway runs in its own play, before the canary
    assert r.stdout.index("changed: [demo-ms]") < r.stdout.index("changed: [demo-gw1]")
    for gw in gateways:
        assert recap(r.stdout)[gw]["changed"] == 1
        assert ORIGIN.encode() in (site.install_dir(gw) / PROD).read_bytes()

    r = run(upgrade_check, repo, home)
    outputs.append(r.stdout + r.stderr)
    assert r.returncode == 0, r.stdout + r.stderr
    assert all(recap(r.stdout)[gw] | {"failed": 0} == recap(r.stdout)[gw] for gw in gateways)
    assert "TASK [xprotect_api_gateway : Check the gateway's installed version" in r.stdout

    r = run(verify, repo, home, "-v")
    outputs.append(r.stdout + r.stderr)
    assert r.returncode == 0, r.stdout + r.stderr
    for gw in gateways:
        assert f'"msg": "demo/{gw}: in sync, versions ok, healthy"' in r.stdout

    r = run(apply, repo, home)  # again: nothing to do
    outputs.append(r.stdout + r.stderr)
    assert r.returncode == 0
    assert {gw: recap(r.stdout)[gw]["changed"] for gw in gateways} == \
        {"demo-ms": 0, "demo-gw1": 0}
    assert "ok: [demo-gw1]" in r.stdout.split("Converge the API gateway to the fleet file")[-1]

    # from another directory, through the collection installed from the repository itself
    # (ansible-galaxy does not follow the view's links out of the directory)
    r = run(galaxy, ROOT, home)
    assert r.returncode == 0, r.stdout + r.stderr
    installed = home / ".ansible/collections/ansible_collections/gwctl/xprotect"
    assert (installed / "roles/xprotect_api_gateway/meta/argument_specs.yml").is_file()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "inventory.yml").write_bytes(site.inventory_path.read_bytes())
    set_settings(site.fleet_path, {"cors": {**CORS, "allow_origins": [ORIGIN, "https://q.example"]}})
    other_check, other_verify = elsewhere_block

    r = run(other_check, elsewhere, home)
    outputs.append(r.stdout + r.stderr)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "TASK [gwctl.xprotect.xprotect_api_gateway : Converge the API gateway" in r.stdout
    assert '+    "Access-Control-Allow-Origin": "https://p.example.com,https://q.example",' \
        in r.stdout
    assert all(recap(r.stdout)[gw]["changed"] == 1 for gw in gateways)

    r = run(other_verify, elsewhere, home)
    outputs.append(r.stdout + r.stderr)
    assert r.returncode == 2, r.stdout + r.stderr
    for gw in gateways:
        assert recap(r.stdout)[gw]["failed"] == 1
        assert (f"demo/{gw}: drift: C:\\\\Program Files\\\\Milestone\\\\XProtect API "
                f"Gateway\\\\{PROD} (update)") in r.stdout

    _, password = site.windows_admin
    assert all(password not in out for out in outputs)


def playbook(site: SimSite, name: str, home: Path, *extra: str,
             inventory: Path | None = None,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """A playbook by its path, from a directory that is not the repository root."""
    cmd = [str(BIN / "ansible-playbook"), "-i", str(inventory or site.inventory_path),
           str(ROOT / "playbooks" / name), *extra]
    return subprocess.run(cmd, cwd=home, env={**environment(home), **(env or {})},
                          capture_output=True, text=True, check=False, timeout=180)


def test_role_and_gwctl_apply_write_the_same_bytes(sim_site: SimSite, tmp_path: Path) -> None:
    turn = {"ice_servers": [{"url": "turn:turn.example.com:3478", "username": "u",
                             "credential": "env:ROLE_TURN"}]}
    set_settings(sim_site.fleet_path, {"cors": CORS, "webrtc": turn,
                                       "logging": {"levels": {"Default": "Warning"}},
                                       "nlog": {"min_level": "Warn"}})
    gateways = ("demo-ms", "demo-gw1")
    original = {gw: host_files(sim_site, gw) for gw in gateways}
    home = tmp_path / "home"
    home.mkdir()
    secret = {"ROLE_TURN": "role-turn-secret-1"}
    r = playbook(sim_site, "site.yml", home, env=secret)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "role-turn-secret-1" not in r.stdout + r.stderr
    by_role = {gw: host_files(sim_site, gw) for gw in gateways}
    for gw in gateways:
        assert recap(r.stdout)[gw]["changed"] == 1
        assert by_role[gw] != original[gw]
        assert b"role-turn-secret-1" in (by_role[gw][PROD] or b"")
        # put the host back as it was, for gwctl apply to do the same change again
        for name, content in original[gw].items():
            path = sim_site.install_dir(gw) / name
            if content is None:
                path.unlink()
            else:
                path.write_bytes(content)
    cli = subprocess.run([str(BIN / "gwctl"), "apply", "-f", str(sim_site.fleet_path), "-i",
                          str(sim_site.inventory_path), "--yes"], capture_output=True,
                         text=True, check=False, timeout=180,
                         env={**environment(home), **secret})
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert "demo/demo-gw1: changed" in cli.stdout, cli.stdout
    assert {gw: host_files(sim_site, gw) for gw in gateways} == by_role


def test_bad_change_is_rolled_back_and_fails_that_host_only(
        sim_site: SimSite, tmp_path: Path) -> None:
    # valid, but demo-gw1's health probe route goes to a dead destination
    dead = {"reverse_proxy": {"clusters": {"managementserver": {"Destinations": {
        "hostname": {"Address": "http://127.0.0.1:9/"}}}}}}
    set_settings(sim_site.fleet_path, {"cors": CORS}, {"demo-gw1": dead})
    before = host_files(sim_site, "demo-gw1")
    home = tmp_path / "home"
    home.mkdir()
    r = playbook(sim_site, "site.yml", home, "-e", "xprotect_api_gateway_health_timeout=2")
    assert r.returncode == 2, r.stdout + r.stderr
    counts = recap(r.stdout)
    assert counts["demo-ms"]["changed"] == 1 and counts["demo-ms"]["failed"] == 0
    assert counts["demo-gw1"]["failed"] == 1
    assert '"msg": "rolled back: health check failed: /.well-known/uris answered 502"' \
        in r.stdout, r.stdout
    assert host_files(sim_site, "demo-gw1") == before
    assert ORIGIN.encode() in (sim_site.install_dir("demo-ms") / PROD).read_bytes()


def test_failed_management_server_host_gateway_stops_the_rollout(
        sim_site: SimSite, tmp_path: Path) -> None:
    dead = {"reverse_proxy": {"clusters": {"managementserver": {"Destinations": {
        "hostname": {"Address": "http://127.0.0.1:9/"}}}}}}
    set_settings(sim_site.fleet_path, {"cors": CORS}, {"demo-ms": dead})
    before = {n: host_files(sim_site, n) for n in ("demo-ms", "demo-gw1")}
    home = tmp_path / "home"
    home.mkdir()
    r = playbook(sim_site, "site.yml", home, "-e", "xprotect_api_gateway_health_timeout=2")
    assert r.returncode == 2, r.stdout + r.stderr
    counts = recap(r.stdout)
    assert counts["demo-ms"]["failed"] == 1
    # demo-gw1 was only classified: its wave never started
    assert counts["demo-gw1"]["changed"] == 0 and counts["demo-gw1"]["failed"] == 0
    assert r.stdout.count("PLAY [Converge the gateways site by site") == 1
    assert {n: host_files(sim_site, n) for n in ("demo-ms", "demo-gw1")} == before


def test_inventory_host_without_a_gateway_is_skipped_with_the_reason(
        sim_site: SimSite, tmp_path: Path) -> None:
    set_settings(sim_site.fleet_path, {"cors": CORS})
    inv = yaml.safe_load(sim_site.inventory_path.read_text())
    (group,) = inv["all"]["children"].values()
    group["hosts"]["stray"] = dict(group["hosts"]["demo-gw1"])
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump(inv))
    home = tmp_path / "home"
    home.mkdir()
    r = playbook(sim_site, "site.yml", home, "-v", inventory=inventory)
    assert r.returncode == 0, r.stdout + r.stderr
    counts = recap(r.stdout)
    assert counts["stray"]["failed"] == 0 and counts["stray"]["changed"] == 0
    assert counts["stray"]["skipped"] >= 1
    assert "stray: no gateway of the fleet is named 'stray'" in r.stdout
    assert counts["demo-gw1"]["changed"] == 1


def test_invalid_fleet_and_mistyped_variable_fail_before_any_host_is_touched(
        sim_site: SimSite, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    set_settings(sim_site.fleet_path, {"cors": {"enabled": True, "allow_origins": ["*"]}})
    r = playbook(sim_site, "site.yml", home)
    assert r.returncode != 0
    assert "the fleet does not validate" in r.stdout and "cors-wildcard-origin" in r.stdout

    set_settings(sim_site.fleet_path, {"cors": CORS})
    r = playbook(sim_site, "site.yml", home, "-e", "xprotect_api_gateway_health_timeout=soon")
    assert r.returncode != 0
    assert "argument 'xprotect_api_gateway_health_timeout' is of type" in r.stdout, r.stdout
    assert "Validating arguments against arg spec 'main'" in r.stdout
    assert not sim_site.production_path("demo-gw1").exists()
    assert not sim_site.production_path("demo-ms").exists()


def test_upgrade_check_fails_fast_on_a_mid_upgrade_site_as_gwctl_check_versions_does(
        sim_factory: Callable[..., SimSite], tmp_path: Path) -> None:
    # the management server (and its co-located gateway) upgraded; the others not yet
    site = sim_factory(gateways=3, version="2025 R1")
    site.upgrade("demo-ms", "2025 R2")
    home = tmp_path / "home"
    home.mkdir()
    cli = subprocess.run([str(BIN / "gwctl"), "check-versions", "-f", str(site.fleet_path),
                          "-i", str(site.inventory_path), "--output", "json"],
                         capture_output=True, text=True, check=False, timeout=180,
                         env=environment(home))
    assert cli.returncode == 1, cli.stdout + cli.stderr
    expected = [f"{p['file']}:{p['line']}:{p['column']}: {p['message']} ({p['rule']})"
                for p in json.loads(cli.stdout)["problems"]]
    rules = {line.rsplit("(", 1)[1] for line in expected}
    assert rules == {"version-declared-vs-discovered)", "version-gateway-behind)"}

    r = playbook(site, "upgrade_check.yml", home)
    assert r.returncode == 2, r.stdout + r.stderr
    failure = r.stdout.split("TASK [xprotect_api_gateway : Check each site's upgrade order]")[1]
    assert "the upgrade order is broken:\n" + "\n".join(expected) in failure, failure
    # every host was read, the site-level check ran once and stopped the play before the
    # per-gateway gate
    read = r.stdout.split("TASK [xprotect_api_gateway : Read the installed versions")[1]
    assert all(f"ok: [{gw}]" in read.split("TASK [")[0]
               for gw in ("demo-ms", "demo-gw1", "demo-gw2"))
    assert "Check the gateway's installed version against" not in r.stdout
    counts = recap(r.stdout)
    assert counts["demo-ms"]["failed"] == 1
    assert counts["demo-gw1"]["failed"] == counts["demo-gw2"]["failed"] == 0

    # once the gateways are upgraded too and the fleet says so, the check passes
    for gw in ("demo-gw1", "demo-gw2"):
        site.upgrade(gw, "2025 R2")
    doc = yaml.safe_load(site.fleet_path.read_text())
    doc["sites"]["demo"]["management_server"]["version"] = "2025 R2"
    for gateway in doc["sites"]["demo"]["gateways"].values():
        gateway["version"] = "2025 R2"
    site.fleet_path.write_text(yaml.safe_dump(doc, sort_keys=False))
    r = playbook(site, "upgrade_check.yml", home, "-v")
    assert r.returncode == 0, r.stdout + r.stderr
    assert '"msg": "installed versions ok (1 site(s), 3 gateway(s))"' in r.stdout
    assert all(recap(r.stdout)[gw]["ok"] == 4 for gw in ("demo-gw1", "demo-gw2"))


def test_operation_output_stays_out_of_ansibles_debug_log(
        sim_site: SimSite, tmp_path: Path) -> None:
    # read_file results carry live files, TURN credentials included: at -vvvvv Ansible's
    # winrm plugin prints command output unless the play context says no_log
    set_settings(sim_site.fleet_path, {"cors": CORS})
    home = tmp_path / "home"
    home.mkdir()
    r = playbook(sim_site, "site.yml", home, "--check", "-vvvvv")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert "WINRM RESULT <Response code 0, out '<censored due to no log>'" in r.stdout
    assert "GWCTL-RESULT" not in r.stdout + r.stderr
    assert recap(r.stdout)["demo-gw1"]["changed"] == 1


def test_become_is_refused_naming_the_settings_not_silently_ignored(
        sim_site: SimSite, tmp_path: Path) -> None:
    set_settings(sim_site.fleet_path, {"cors": CORS})
    home = tmp_path / "home"
    home.mkdir()
    before = {n: host_files(sim_site, n) for n in ("demo-ms", "demo-gw1")}
    r = playbook(sim_site, "site.yml", home, "--become", "--become-method", "runas",
                 "--become-user", "SYSTEM")
    assert r.returncode == 2, r.stdout + r.stderr
    assert ("demo-ms: become (become_method=runas, become_user=SYSTEM) cannot be applied "
            "to gwctl's operations: over ansible_connection=winrm they run as the "
            "connecting user") in r.stdout, r.stdout
    counts = recap(r.stdout)
    assert counts["demo-ms"]["failed"] == 1 and counts["demo-ms"]["changed"] == 0
    # refused before any wave of the rollout started
    assert "PLAY [Converge the gateways site by site" not in r.stdout
    assert {n: host_files(sim_site, n) for n in ("demo-ms", "demo-gw1")} == before


def test_the_role_takes_gwctl_applys_site_lock_and_refuses_a_held_one(
        sim_site: SimSite, tmp_path: Path) -> None:
    from gwctl.deploy.sitelock import SITE_LOCK_PATH
    from gwctl.ops.pyimpl import DirectoryHost

    set_settings(sim_site.fleet_path, {"cors": CORS})
    home = tmp_path / "home"
    home.mkdir()
    anchor = DirectoryHost(sim_site.host_root("demo-ms"))
    lock = anchor.map_path(SITE_LOCK_PATH)
    # a CLI apply of another controller holds the site
    held = anchor.run("lock_acquire", {"path": SITE_LOCK_PATH, "owner": "alice@laptop-9 pid 4242",
                                       "ttl_seconds": 3600})
    before = {n: host_files(sim_site, n) for n in ("demo-ms", "demo-gw1")}
    r = playbook(sim_site, "site.yml", home)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "site demo is locked by alice@laptop-9 pid 4242 (until " in r.stdout, r.stdout
    assert "lock on host demo-ms" in r.stdout
    assert "PLAY [Converge the gateways site by site" not in r.stdout
    assert {n: host_files(sim_site, n) for n in ("demo-ms", "demo-gw1")} == before

    anchor.run("lock_release", {"path": SITE_LOCK_PATH, "token": held["token"]})
    r = playbook(sim_site, "site.yml", home, "-v")
    assert r.returncode == 0, r.stdout + r.stderr
    taken = r.stdout.split("TASK [xprotect_api_gateway : Find the gateway's site")[1]
    assert '"lock": "locked site demo on demo-ms"' in taken.split("TASK [")[0]
    # only the lock host releases it, in the last play
    released = r.stdout.split("PLAY [Release the site locks]")[1]
    assert "ok: [demo-ms]" in released and "demo-gw1" not in released.split("PLAY RECAP")[0]
    assert not lock.exists()
    assert all(recap(r.stdout)[n]["changed"] == 1 for n in ("demo-ms", "demo-gw1"))


def test_a_run_narrowed_to_a_site_and_a_play_without_the_lock_host_is_refused(
        sim_site: SimSite, tmp_path: Path) -> None:
    set_settings(sim_site.fleet_path, {"cors": CORS})
    home = tmp_path / "home"
    home.mkdir()
    # README: -e xprotect_api_gateway_hosts=SITE_GROUP narrows a run
    r = playbook(sim_site, "site.yml", home, "-e", "xprotect_api_gateway_hosts=demo")
    assert r.returncode == 0, r.stdout + r.stderr
    assert {n: recap(r.stdout)[n]["changed"] for n in ("demo-ms", "demo-gw1")} == \
        {"demo-ms": 1, "demo-gw1": 1}
    assert r.stdout.index("changed: [demo-ms]") < r.stdout.index("changed: [demo-gw1]")

    set_settings(sim_site.fleet_path, {"cors": {**CORS, "allow_methods": ["GET"]}})
    before = host_files(sim_site, "demo-gw1")
    r = playbook(sim_site, "site.yml", home, "-e", "xprotect_api_gateway_hosts=demo-gw1")
    assert r.returncode == 2, r.stdout + r.stderr
    assert ("demo-gw1: site demo's lock is on demo-ms, which this play does not include"
            in r.stdout), r.stdout
    assert host_files(sim_site, "demo-gw1") == before


def test_reconcile_playbook_restores_what_an_upgrade_reset(
        sim_site: SimSite, tmp_path: Path) -> None:
    set_settings(sim_site.fleet_path, {"cors": CORS, "nlog": {"min_level": "Warn"}})
    home = tmp_path / "home"
    home.mkdir()
    assert playbook(sim_site, "site.yml", home).returncode == 0
    managed = host_files(sim_site, "demo-ms")
    sim_site.upgrade("demo-ms", "2025 R2", reset_nlog=True)
    reset = host_files(sim_site, "demo-ms")
    assert reset != managed
    r = playbook(sim_site, "reconcile.yml", home, "--check", "--diff")
    assert r.returncode == 0, r.stdout + r.stderr
    assert recap(r.stdout)["demo-ms"]["changed"] == 1
    assert recap(r.stdout)["demo-gw1"]["changed"] == 0
    assert 'minlevel="Warn"' in r.stdout  # the diff of the reset nlog.config
    assert host_files(sim_site, "demo-ms") == reset
    r = playbook(sim_site, "reconcile.yml", home)
    assert r.returncode == 0, r.stdout + r.stderr
    assert host_files(sim_site, "demo-ms") == managed


def test_role_refuses_outside_a_maintenance_window_unless_given_a_reason(
        sim_site: SimSite, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from gwctl.ansible.bridge import converge
    from gwctl.hosts.inventory import load_inventory
    from gwctl.hosts.targets import open_transport

    set_settings(sim_site.fleet_path, {"cors": CORS})
    doc = yaml.safe_load(sim_site.fleet_path.read_text())
    doc["sites"]["demo"]["maintenance_windows"] = [
        {"cron": "0 22 * * 1-5", "duration": "4h", "timezone": "Europe/Copenhagen"}]
    sim_site.fleet_path.write_text(yaml.safe_dump(doc, sort_keys=False))
    (host,) = [h for h in load_inventory(str(sim_site.inventory_path)) if h.name == "demo-gw1"]
    noon = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)  # Wednesday 13:00 in Copenhagen
    before = host_files(sim_site, "demo-gw1")
    args: dict[str, Any] = {"fleet": str(sim_site.fleet_path), "host": "demo-gw1",
                            "groups": host.groups, "host_vars": host.vars,
                            "transports": open_transport, "want_diff": False, "now": noon}
    checked = converge(**args, check=True)
    assert checked["changed"] and not checked.get("failed")  # check mode: a plan only
    refused = converge(**args, check=False)
    assert refused["failed"] and not refused["changed"]
    assert refused["msg"].startswith("site demo is outside its maintenance windows")
    assert "set xprotect_api_gateway_outside_window to the reason" in refused["msg"]
    assert host_files(sim_site, "demo-gw1") == before
    done = converge(**args, check=False, outside_window="INC-7: hotfix")
    assert done["outcome"] == "changed" and done["outside_window"] == "INC-7: hotfix"
    assert host_files(sim_site, "demo-gw1") != before


def test_the_role_writes_gwctl_applys_audit_record_per_applied_host(
        sim_site: SimSite, tmp_path: Path) -> None:
    from gwctl import api
    from gwctl.deploy.saved_plan import fleet_digest
    from gwctl.ops.eventlog import read_entries

    turn = {"ice_servers": [{"url": "turn:turn.example.com:3478", "username": "u",
                             "credential": "env:ROLE_TURN"}]}
    # demo-ms takes the change; demo-gw1's health probe route goes to a dead destination
    dead = {"reverse_proxy": {"clusters": {"managementserver": {"Destinations": {
        "hostname": {"Address": "http://127.0.0.1:9/"}}}}}}
    set_settings(sim_site.fleet_path, {"cors": CORS, "webrtc": turn}, {"demo-gw1": dead})
    home = tmp_path / "home"
    home.mkdir()
    log = tmp_path / "controller" / "role-audit.jsonl"
    r = playbook(sim_site, "site.yml", home, "-e", "xprotect_api_gateway_health_timeout=2",
                 "-e", f"xprotect_api_gateway_audit_log={log}",
                 "-e", "xprotect_api_gateway_change_ref=CHG-42",
                 env={"ROLE_TURN": "role-audit-secret-9"})
    assert r.returncode == 2, r.stdout + r.stderr
    text = log.read_text()
    assert "role-audit-secret-9" not in text
    assert oct(log.stat().st_mode & 0o777) == "0o600"
    records = {rec["ansible_host"]: rec for rec in map(json.loads, text.splitlines())}
    assert set(records) == {"demo-ms", "demo-gw1"}
    loaded = api.load(str(sim_site.fleet_path))
    assert loaded.fleet is not None, loaded.problems
    digest = fleet_digest(loaded.fleet)
    for name, outcome in (("demo-ms", "changed"), ("demo-gw1", "rolled back")):
        rec = records[name]
        assert rec["gwctl_audit"] == 1 and rec["action"] == "apply"
        assert rec["via"] == "ansible" and rec["exit_code"] is None
        assert rec["change_ref"] == "CHG-42" and rec["outside_window"] is None
        assert rec["fleet"]["path"] == str(sim_site.fleet_path)
        assert rec["fleet"]["sha256"] == digest
        assert re.fullmatch(r"[0-9a-f]{64}", rec["plan_sha256"])
        assert rec["user"] and rec["controller"]
        (host,) = rec["hosts"]
        assert host["gateway"] == f"demo/{name}" and host["host"] == name
        assert host["outcome"] == outcome
        assert set(host["backups"]) >= {PROD}
        # the host's event log has the same record (written before the task ended)
        events = [e for e in read_entries(sim_site.host_root(name)) if e["source"] == "gwctl"]
        assert [e["event_id"] for e in events] == [1000]
        on_host = json.loads(events[0]["message"])
        assert {k: v for k, v in on_host.items() if k != "time"} == \
            {k: v for k, v in rec.items() if k != "time"}
    assert records["demo-gw1"]["hosts"][0]["detail"] == \
        "health check failed: /.well-known/uris answered 502"


def test_the_role_refuses_a_change_without_the_change_ref_its_site_requires(
        sim_site: SimSite, tmp_path: Path, monkeypatch: Any) -> None:
    from gwctl.ansible.bridge import converge
    from gwctl.hosts.inventory import load_inventory
    from gwctl.hosts.targets import open_transport

    log = tmp_path / "audit.jsonl"
    monkeypatch.setenv("GWCTL_AUDIT_LOG", str(log))
    set_settings(sim_site.fleet_path, {"cors": CORS})
    doc = yaml.safe_load(sim_site.fleet_path.read_text())
    doc["sites"]["demo"]["change_ref_required"] = True
    sim_site.fleet_path.write_text(yaml.safe_dump(doc, sort_keys=False))
    (host,) = [h for h in load_inventory(str(sim_site.inventory_path)) if h.name == "demo-gw1"]
    before = host_files(sim_site, "demo-gw1")
    args: dict[str, Any] = {"fleet": str(sim_site.fleet_path), "host": "demo-gw1",
                            "groups": host.groups, "host_vars": host.vars,
                            "transports": open_transport, "want_diff": False,
                            "check": False}
    refused = converge(**args)
    assert refused["failed"] and not refused["changed"]
    assert refused["msg"] == ("site demo requires a change reference (change_ref_required "
                              "in the fleet): set xprotect_api_gateway_change_ref. Nothing "
                              "applied")
    assert host_files(sim_site, "demo-gw1") == before and not log.exists()
    done = converge(**args, change_ref="CHG-7")
    assert done["outcome"] == "changed" and "warnings" not in done
    (rec,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert rec["change_ref"] == "CHG-7" and rec["hosts"][0]["outcome"] == "changed"
    # in sync now: a second converge writes no record
    assert converge(**args, change_ref="CHG-7")["msg"] == "in sync"
    assert len(log.read_text().splitlines()) == 1


def test_the_roles_health_check_logs_on_as_the_hosts_health_user(
        sim_site: SimSite, tmp_path: Path) -> None:
    # demo-gw1's inventory names a health user whose password is stale: its health check
    # takes no token, so its change is rolled back; demo-ms names none and changes
    set_settings(sim_site.fleet_path, {"cors": CORS})
    user, password = next(iter(sim_site.users.items()))
    from test_deploy import inventory_with_health_user

    inventory = inventory_with_health_user(sim_site, tmp_path / "inventory.yml", "demo-gw1",
                                           user, f"{password}-stale")
    before = host_files(sim_site, "demo-gw1")
    home = tmp_path / "home"
    home.mkdir()
    r = playbook(sim_site, "site.yml", home, inventory=inventory)
    assert r.returncode == 2, r.stdout + r.stderr
    counts = recap(r.stdout)
    assert counts["demo-ms"]["changed"] == 1 and counts["demo-ms"]["failed"] == 0
    assert counts["demo-gw1"]["failed"] == 1
    refused = ("token request answered 400 (invalid_grant: the health user's credentials "
               "were refused)")
    assert (f'"msg": "failed: health check failed: {refused}; after rollback still '
            f'unhealthy: {refused}"') in r.stdout, r.stdout
    assert host_files(sim_site, "demo-gw1") == before
    assert f"{password}-stale" not in r.stdout + r.stderr
