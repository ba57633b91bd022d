"""diff / apply / rollback / import against the simulator, over real WinRM and HTTP.

Each test goes the way a user would: check (diff) -> apply -> idempotent re-apply, and
asserts what the hosts end up holding byte for byte.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import yaml

from gwctl.cli.main import main
from gwctl.deploy.apply import LOCK_PATH, ApplyOptions, apply_gateway
from gwctl.deploy.health import HealthSettings
from gwctl.errors import TransportError
from gwctl.hosts.inventory import InventoryHost
from gwctl.hosts.targets import Target, open_transport
from gwctl.ops.batch import Step
from gwctl.transport.base import Transport

if TYPE_CHECKING:
    from gwctl.sim.server import SimSite

TURN_SECRET = "tUrN-S3cret-9f4c2a"
ORIGIN = "https://portal.example.com"
CORS = {"enabled": True, "allow_origins": [ORIGIN],
        "allow_headers": ["Authorization", "Content-Type"],
        "allow_methods": ["GET", "POST", "PATCH", "OPTIONS"]}


def inventory_with_health_user(site: SimSite, path: Path, host: str, user: str,
                                password: str) -> Path:
    """The site's inventory written to `path`, with `host`'s health user and password as
    inventory variables (what verify, probe and the health checks of apply read)."""
    path.write_text(site.inventory_path.read_text().replace(
        f"        {host}:\n", f"        {host}:\n"
        f"          gwctl_health_user: {user}\n"
        f"          gwctl_health_password: {password}\n", 1))
    return path


def write_fleet(site: SimSite, path: Path, *, site_settings: dict[str, Any] | None = None,
                gateway_settings: dict[str, dict[str, Any]] | None = None) -> Path:
    doc = yaml.safe_load(site.fleet_path.read_text())
    (site_doc,) = doc["sites"].values()
    site_doc["management_server"]["version"] = "2025 R2"
    if site_settings:
        site_doc["settings"] = site_settings
    for name, settings in (gateway_settings or {}).items():
        site_doc["gateways"][name]["settings"] = settings
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def gwctl(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out + err


def files(site: SimSite, name: str) -> dict[str, bytes | None]:
    d = site.install_dir(name)
    return {n: (d / n).read_bytes() if (d / n).exists() else None
            for n in ("appsettings.Production.json", "nlog.config")}


def last_recycle(site: SimSite, name: str) -> Any:
    (gw,) = [g for g in site.status()["gateways"] if g["name"] == name]
    return gw["app_pool"]["last_recycle"]


def test_check_apply_reapply(sim_site: SimSite, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    fleet = write_fleet(sim_site, tmp_path / "fleet.yaml", site_settings={"cors": CORS})
    inv = str(sim_site.inventory_path)
    code, out = gwctl(capsys, "diff", "-f", str(fleet), "-i", inv, "--detailed-exitcode")
    assert code == 2, out
    assert "~ demo/demo-gw1 (demo-gw1): recycle needed" in out
    assert "    + CORS:Access-Control-Allow-Origin: 'https://portal.example.com'" in out
    assert "    ~ CORS:Enabled: 'False' -> 'True'" in out
    assert "2 gateway(s): 2 to create, 0 to change, 0 in sync, 0 unreachable/failed" in out

    code, out = gwctl(capsys, "apply", "-f", str(fleet), "-i", inv, "--yes")
    assert code == 0, out
    assert "  demo/demo-gw1: changed" in out
    assert b'"Access-Control-Allow-Origin": "https://portal.example.com"' in \
        (files(sim_site, "demo-gw1")["appsettings.Production.json"] or b"")
    r = httpx.options(f"{sim_site.gateway_url('demo-gw1')}/rest/v1/sites",
                      headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
    assert r.headers.get("access-control-allow-origin") == ORIGIN
    recycled = last_recycle(sim_site, "demo-gw1")
    assert recycled is not None

    code, out = gwctl(capsys, "diff", "-f", str(fleet), "-i", inv, "--detailed-exitcode")
    assert code == 0, out
    assert "= demo/demo-gw1 (demo-gw1): in sync" in out
    before = files(sim_site, "demo-gw1")
    code, out = gwctl(capsys, "apply", "-f", str(fleet), "-i", inv, "--yes")
    assert code == 0 and "nothing to apply" in out
    assert files(sim_site, "demo-gw1") == before
    assert last_recycle(sim_site, "demo-gw1") == recycled


def test_diff_json_is_a_stable_plan(sim_site: SimSite, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    import json

    fleet = write_fleet(sim_site, tmp_path / "fleet.yaml",
                        gateway_settings={"demo-gw1": {"logging": {"levels": {"Yarp": "Debug"}}}})
    code, out = gwctl(capsys, "diff", "-f", str(fleet), "-i", str(sim_site.inventory_path),
                      "--output", "json", "--gateway", "demo-gw1")
    assert code == 0
    doc = json.loads(out)
    assert doc["version"] == 1
    assert doc["summary"] == {"in_sync": 0, "drift": 1, "error": 0, "blocked": 0,
                              "recycle": 1}
    (gw,) = doc["gateways"]
    assert gw["status"] == "drift" and gw["recycle"] is True
    assert {"key": "Logging:LogLevel:Yarp", "action": "changed", "old": "Warning",
            "new": "Debug"} in gw["semantic"]


def test_secrets_never_appear_in_any_output(sim_site: SimSite, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str],
                                            caplog: pytest.LogCaptureFixture,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIM_TURN", TURN_SECRET)
    ice = {"ice_servers": [{"url": "turns:turn.example.com:5349", "username": "gw",
                            "credential": "env:SIM_TURN"}]}
    fleet = write_fleet(sim_site, tmp_path / "fleet.yaml", site_settings={"webrtc": ice})
    inv = str(sim_site.inventory_path)
    caplog.set_level(logging.DEBUG)
    outputs = []
    for args in (("diff",), ("diff", "--output", "json"), ("apply", "--yes"),
                 ("apply", "--yes", "--output", "json"), ("diff",)):
        code, out = gwctl(capsys, "--debug", *args[:1], "-f", str(fleet), "-i", inv,
                          *args[1:])
        assert code == 0, out
        outputs.append(out)
    # the secret reached the host ...
    assert TURN_SECRET.encode() in (files(sim_site, "demo-gw1")["appsettings.Production.json"]
                                    or b"")
    # ... and nowhere else: not in stdout/stderr, not in logs, not the WinRM password either
    everything = "\n".join(outputs) + caplog.text
    assert "(secret" in everything
    _, password = sim_site.windows_admin
    for secret in (TURN_SECRET, password):
        assert secret not in everything
    # a changed secret is reported as changed, still without its value
    monkeypatch.setenv("SIM_TURN", TURN_SECRET + "-rotated")
    code, out = gwctl(capsys, "diff", "-f", str(fleet), "-i", inv)
    assert "(secret, changed)" in out and TURN_SECRET not in out


def test_bad_change_is_rolled_back_and_stops_the_rollout(
        sim_site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # valid configuration, but it sends the health probe's route to a dead destination
    dead = {"reverse_proxy": {"clusters": {"managementserver": {"Destinations": {
        "hostname": {"Address": "http://127.0.0.1:9/"}}}}}}
    fleet = write_fleet(sim_site, tmp_path / "fleet.yaml", site_settings=dead)
    before = {n: files(sim_site, n) for n in ("demo-ms", "demo-gw1")}
    code, out = gwctl(capsys, "validate", "-f", str(fleet))
    assert code == 0, out
    code, out = gwctl(capsys, "apply", "-f", str(fleet), "-i", str(sim_site.inventory_path),
                      "--yes", "--health-timeout", "2")
    assert code == 1
    assert "demo/demo-ms: rolled back (health check failed: /.well-known/uris answered 502)" \
        in out
    assert "demo/demo-gw1: skipped (rollout stopped after failures)" in out
    assert {n: files(sim_site, n) for n in ("demo-ms", "demo-gw1")} == before
    r = httpx.get(f"{sim_site.gateway_url('demo-ms')}/.well-known/uris")
    assert r.status_code == 200


def _target(site: SimSite, name: str) -> Target:
    from gwctl import api
    from gwctl.hosts.inventory import load_inventory

    fleet = api.load(site.fleet_path).fleet
    assert fleet is not None
    (host,) = [h for h in load_inventory(str(site.inventory_path)) if h.name == name]
    return Target(fleet.gateway(name), host)


def _plan(site: SimSite, fleet_path: Path, name: str) -> tuple[Target, Any]:
    from gwctl import api
    from gwctl.deploy.fleet_plan import Planner
    from gwctl.fleet.secrets import SecretResolver
    from gwctl.hosts.inventory import load_inventory

    fleet = api.load(fleet_path).fleet
    assert fleet is not None
    (host,) = [h for h in load_inventory(str(site.inventory_path)) if h.name == name]
    target = Target(fleet.gateway(name), host)
    plan = Planner(fleet, SecretResolver(fleet.base_dir)).plan_one(target)
    return target, plan


def test_two_applies_racing_on_one_host(sim_site: SimSite, tmp_path: Path) -> None:
    fleet = write_fleet(sim_site, tmp_path / "fleet.yaml", site_settings={"cors": CORS})
    sim_site.set_fault("demo-gw1", "slow-recycle", 1.5)
    target, plan = _plan(sim_site, fleet, "demo-gw1")
    options = ApplyOptions(health=HealthSettings(timeout_s=10), owner="first")
    results: list[Any] = []
    first = threading.Thread(target=lambda: results.append(
        apply_gateway(target, plan, open_transport, options)))
    first.start()
    lock = sim_site.host_root("demo-gw1") / "C" / "ProgramData" / "gwctl" / "apply.lock"
    deadline = time.monotonic() + 10
    while not lock.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    second = apply_gateway(target, plan, open_transport,
                           ApplyOptions(health=HealthSettings(timeout_s=10), owner="second"))
    first.join()
    assert second.outcome == "failed"
    assert second.detail.startswith("host is locked by first (until ")
    assert results[0].outcome == "changed"
    assert not lock.exists()


class _FaultOnNthOp(Transport):
    """Arms a WinRM connection drop right before the n-th operation of an apply."""

    def __init__(self, inner: Transport, site: SimSite, host: str, counter: list[int],
                 n: int, fault: dict[str, Any]) -> None:
        self.inner, self.site, self.host = inner, site, host
        self.counter, self.n, self.fault = counter, n, fault
        self.name = inner.name

    def run(self, op: str, params: Any, payload: bytes | None = None) -> dict[str, Any]:
        self._count()
        return self.inner.run(op, params, payload)

    def run_batch(self, steps: Sequence[Step]) -> list[dict[str, Any]]:
        self._count()
        return self.inner.run_batch(steps)

    def _count(self) -> None:
        # a batch is one remote command, as a single operation is
        self.counter[0] += 1
        if self.counter[0] == self.n:
            from gwctl.sim.wsman.faults import HostFaults

            self.site.wsman.faults.set(self.host, HostFaults(**self.fault))

    def close(self) -> None:
        self.inner.close()


def _small_chunks(host: InventoryHost) -> Transport:
    from gwctl.transport.winrm import WinRMTransport
    from gwctl.transport.winrm_settings import WinRMSettings

    return WinRMTransport(host.name, WinRMSettings.from_ansible_vars(host.name, host.vars),
                          chunk_size=1024)


FAULTS: list[dict[str, Any]] = [
    {"drop_at": "command", "drop_times": 1},
    {"drop_at": "receive", "drop_times": 1, "drop_after_processing": True},
    {"drop_at": "delete", "drop_times": 1},
]


@pytest.mark.timeout(300)  # ~70 applies: minutes when the machine is heavily loaded
def test_fault_matrix_host_is_always_old_or_new_and_rerun_converges(
        sim_site: SimSite, tmp_path: Path) -> None:
    routes = {f"r{i}": {"ClusterId": "managementserver", "Order": 500 + i,
                        "Match": {"Path": f"/custom/r{i}/{{**remainder}}"},
                        "Transforms": [{"PathPattern": "/ManagementServer/{**remainder}"}]}
              for i in range(25)}
    fleet = write_fleet(sim_site, tmp_path / "fleet.yaml",
                        site_settings={"reverse_proxy": {"routes": routes}})
    name = "demo-gw1"
    old = files(sim_site, name)["appsettings.Production.json"]
    target, plan = _plan(sim_site, fleet, name)
    new = plan.payloads["appsettings.Production.json"]
    chunks = len(new) * 4 // 3 // 1024 + 1
    assert chunks >= 8
    options = ApplyOptions(health=HealthSettings(timeout_s=5, interval_s=0.1), lock_ttl_s=60)
    scenarios: list[tuple[int, dict[str, Any]]] = [(n, f) for n in range(1, 9) for f in FAULTS]
    # command 1 is the batch that carries the new file (lock, backup, record, write,
    # recycle): a break in any of its chunks is never resent, the apply rolls back
    scenarios += [(1, {"drop_at": f"send:{k}", "drop_times": 1}) for k in range(1, chunks + 1)]
    seen = set()
    for n, fault in scenarios:
        counter = [0]

        def factory(host: InventoryHost, n: int = n, fault: dict[str, Any] = fault,
                    counter: list[int] = counter) -> Transport:
            return _FaultOnNthOp(_small_chunks(host), sim_site, name, counter, n, fault)

        result = apply_gateway(target, plan, factory, options)
        sim_site.wsman.faults.clear(name)
        now = files(sim_site, name)["appsettings.Production.json"]
        assert now in (old, new), (n, fault, result)
        seen.add(result.outcome)
        # a rerun from a fresh plan converges to the new file
        _, replan = _plan(sim_site, fleet, name)
        final = apply_gateway(target, replan, _small_chunks, options)
        assert final.outcome in ("changed", "unchanged"), (n, fault, final)
        assert files(sim_site, name)["appsettings.Production.json"] == new
        # back to the old file for the next scenario (test set-up, straight on the disk)
        path = sim_site.install_dir(name) / "appsettings.Production.json"
        if old is None:
            path.unlink()
        else:
            path.write_bytes(old)
        sim_site.recycle(name)
        assert not (sim_site.host_root(name) / "C" / "ProgramData" / "gwctl" /
                    "apply.lock").exists(), (n, fault, result.outcome, result.detail,
                                             final.outcome, final.detail, final.steps)
    assert {"changed", "rolled back", "failed"} & seen


def test_unreachable_host_is_reported_not_fatal(sim_site: SimSite, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    inv = yaml.safe_load(sim_site.inventory_path.read_text())
    (group,) = inv["all"]["children"].values()
    group["hosts"]["demo-ms"]["ansible_port"] = 9  # nothing listens there
    group["hosts"]["demo-ms"]["ansible_winrm_connection_timeout"] = 2
    bad = tmp_path / "inventory.yml"
    bad.write_text(yaml.safe_dump(inv))
    fleet = write_fleet(sim_site, tmp_path / "fleet.yaml", site_settings={"cors": CORS})
    code, out = gwctl(capsys, "diff", "-f", str(fleet), "-i", str(bad))
    assert code == 1
    assert "! demo/demo-ms (demo-ms): unreachable or failed:" in out
    assert "~ demo/demo-gw1 (demo-gw1): recycle needed" in out


def test_apply_refuses_without_terminal_or_yes(sim_site: SimSite, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    fleet = write_fleet(sim_site, tmp_path / "fleet.yaml", site_settings={"cors": CORS})
    code, out = gwctl(capsys, "apply", "-f", str(fleet), "-i", str(sim_site.inventory_path))
    assert code == 64
    assert "pass --yes" in out


def test_rollback_restores_the_previous_files(sim_site: SimSite, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    inv = str(sim_site.inventory_path)
    first = write_fleet(sim_site, tmp_path / "a.yaml", site_settings={"cors": CORS})
    assert gwctl(capsys, "apply", "-f", str(first), "-i", inv, "--yes")[0] == 0
    good = files(sim_site, "demo-gw1")
    second = write_fleet(sim_site, tmp_path / "b.yaml",
                         site_settings={"cors": {**CORS, "allow_origins": [ORIGIN,
                                                                           "https://b.example"]}})
    assert gwctl(capsys, "apply", "-f", str(second), "-i", inv, "--yes")[0] == 0
    assert files(sim_site, "demo-gw1") != good
    code, out = gwctl(capsys, "rollback", "--gateway", "demo-gw1", "-f", str(second), "-i", inv)
    assert code == 0, out
    assert out.startswith("demo/demo-gw1: rolled back")
    assert files(sim_site, "demo-gw1") == good


def test_import_brings_a_hand_edited_gateway_under_management(
        sim_site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    hand_edited = """{
  // edited by hand on the host
  "cors": {"enabled": true, "Access-Control-Allow-Origin": "https://a.example,https://b.example",},
  "WebRTC": {"iceServers": [{"url": "turn:t.example:3478", "username": "u",
                             "credential": "hand-secret-xyz"}]},
  "Kestrel": {"Limits": {"MaxRequestBodySize": 1000}},
}"""
    sim_site.production_path("demo-gw1").write_text(hand_edited)
    inv = str(sim_site.inventory_path)
    code, out = gwctl(capsys, "import", "--host", "demo-gw1", "-i", inv)
    assert code == 0, out
    assert "hand-secret-xyz" not in out
    assert "# SECRET: set DEMO_GW1_ICE_0_CREDENTIAL" in out
    imported = tmp_path / "imported.yaml"
    imported.write_text(out)
    doc = yaml.safe_load(out)
    gw = doc["sites"]["demo"]["gateways"]["demo-gw1"]
    assert gw["settings"]["cors"]["allow_origins"] == ["https://a.example", "https://b.example"]
    assert gw["settings"]["appsettings"] == {"Kestrel": {"Limits": {"MaxRequestBodySize": 1000}}}
    # added to the site's fleet, with the secret provided, it is in sync with the host
    monkeypatch.setenv("DEMO_GW1_ICE_0_CREDENTIAL", "hand-secret-xyz")
    write_fleet(sim_site, imported, gateway_settings={"demo-gw1": gw["settings"]})
    code, out = gwctl(capsys, "diff", "-f", str(imported), "-i", inv, "--gateway", "demo-gw1",
                      "--detailed-exitcode")
    assert code == 0, out
    assert "in sync" in out


def test_transport_error_names_host(sim_site: SimSite) -> None:
    host = InventoryHost("ghost", [], {"ansible_host": "127.0.0.1", "ansible_port": 9,
                                       "ansible_connection": "winrm",
                                       "ansible_winrm_scheme": "http",
                                       "ansible_winrm_connection_timeout": 1,
                                       "ansible_user": "u", "ansible_password": "p"})
    with pytest.raises(TransportError, match="ghost"), open_transport(host) as t:
        t.run("ping", {})


FactoryT = Callable[[InventoryHost], Transport]
assert LOCK_PATH.endswith("apply.lock")
