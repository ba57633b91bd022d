"""The audit trail and maintenance windows of apply, rollback and unlock, against the
simulator. The window clock is fixed (`gwctl.cli.change_policy.utc_now`), never real."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from test_deploy import CORS, ORIGIN, TURN_SECRET, files, gwctl
from test_host_lock import foreign_lock

from gwctl.deploy import audit
from gwctl.ops.eventlog import read_entries

if TYPE_CHECKING:
    from gwctl.sim.server import SimSite

WINDOW = {"cron": "0 22 * * 1-5", "duration": "4h", "timezone": "Europe/Copenhagen"}
#: Wednesday 2 December 2026, 13:00 in Copenhagen: outside the window
NOON = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
#: the same day, 22:30 in Copenhagen: inside
EVENING = datetime(2026, 12, 2, 21, 30, tzinfo=UTC)
TURN = {"ice_servers": [{"url": "turn:turn.example.com:3478", "username": "gw",
                         "credential": "env:GWCTL_TEST_TURN"}]}


def policy_fleet(site: SimSite, path: Path, *, windows: bool = True,
                 change_ref: bool = False, origin: str = ORIGIN) -> Path:
    doc = yaml.safe_load(site.fleet_path.read_text())
    (site_doc,) = doc["sites"].values()
    site_doc["management_server"]["version"] = "2025 R2"
    site_doc["settings"] = {"cors": {**CORS, "allow_origins": [origin]}, "webrtc": TURN}
    if windows:
        site_doc["maintenance_windows"] = [WINDOW]
    if change_ref:
        site_doc["change_ref_required"] = True
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "state" / "audit.jsonl"
    monkeypatch.setenv("GWCTL_AUDIT_LOG", str(path))
    monkeypatch.setenv("GWCTL_TEST_TURN", TURN_SECRET)
    return path


def at(monkeypatch: pytest.MonkeyPatch, when: datetime) -> None:
    monkeypatch.setattr("gwctl.cli.change_policy.utc_now", lambda: when)


def test_apply_outside_the_window_is_refused_then_audited_when_overridden(
        sim_site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, log: Path) -> None:
    fleet = policy_fleet(sim_site, tmp_path / "fleet.yaml")
    inv = str(sim_site.inventory_path)
    before = files(sim_site, "demo-gw1")
    at(monkeypatch, NOON)
    code, out = gwctl(capsys, "apply", "-f", str(fleet), "-i", inv, "--yes")
    assert code == 1, out
    assert ("site demo is outside its maintenance windows ('0 22 * * 1-5' for 4h "
            "(Europe/Copenhagen)): the next window starts 2026-12-02 22:00 "
            "Europe/Copenhagen (2026-12-02 21:00 UTC). Nothing applied: wait for the "
            "window, or pass --outside-window REASON (audited)") in out
    assert files(sim_site, "demo-gw1") == before
    (refused,) = audit.read(log)
    assert refused["action"] == "apply" and refused["exit_code"] == 1
    assert "outside its maintenance windows" in refused["error"]
    assert refused["hosts"] == []

    code, out = gwctl(capsys, "apply", "-f", str(fleet), "-i", inv, "--yes",
                      "--outside-window", "INC-4711: CORS origin for the new portal")
    assert code == 0, out
    assert ("WARNING: site demo is outside its maintenance windows" in out
            and "applying anyway (--outside-window: INC-4711: CORS origin for the new "
                "portal)" in out)
    assert ORIGIN.encode() in (files(sim_site, "demo-gw1")["appsettings.Production.json"]
                               or b"")
    _, applied = audit.read(log)
    assert applied["outside_window"] == "INC-4711: CORS origin for the new portal"
    assert applied["exit_code"] == 0
    assert {h["gateway"]: h["outcome"] for h in applied["hosts"]} == {
        "demo/demo-ms": "changed", "demo/demo-gw1": "changed"}
    # the backups named are the ones taken on the host before writing
    gw1 = next(h for h in applied["hosts"] if h["gateway"] == "demo/demo-gw1")
    assert set(gw1["backups"]) == {"appsettings.Production.json"}
    backup_dir = sim_site.host_root("demo-gw1") / "C" / "ProgramData" / "gwctl" / "backups"
    names = " ".join(p.name for p in backup_dir.rglob("*"))
    for backup_id in gw1["backups"].values():
        assert backup_id in names

    # inside the window no reason is needed; nothing to change is not held to windows
    at(monkeypatch, EVENING)
    second = policy_fleet(sim_site, tmp_path / "b.yaml", origin="https://b.example.com")
    assert gwctl(capsys, "apply", "-f", str(second), "-i", inv, "--yes")[0] == 0
    at(monkeypatch, NOON)
    code, out = gwctl(capsys, "apply", "-f", str(second), "-i", inv, "--yes")
    assert code == 0 and "nothing to apply" in out, out
    assert [r["outside_window"] for r in audit.read(log)] == [
        None, "INC-4711: CORS origin for the new portal", None, None]


def test_the_record_says_who_where_what_and_holds_no_secret(
        sim_site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, log: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    fleet = policy_fleet(sim_site, repo / "fleet.yaml", windows=False, change_ref=True)

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], check=True,
                              capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    git("-c", "user.email=ops@example.com", "-c", "user.name=ops", "commit", "-q",
        "--allow-empty", "-m", "empty")
    git("add", "fleet.yaml")
    git("-c", "user.email=ops@example.com", "-c", "user.name=ops", "commit", "-q", "-m",
        "fleet")
    inv = str(sim_site.inventory_path)
    code, out = gwctl(capsys, "apply", "-f", str(fleet), "-i", inv, "--yes")
    assert code == 64
    assert ("site demo requires a change reference (change_ref_required in the fleet): "
            "pass --change-ref REF") in out
    assert not log.exists()
    code, out = gwctl(capsys, "apply", "-f", str(fleet), "-i", inv, "--yes",
                      "--change-ref", "CHG-1234")
    assert code == 0, out
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    raw = log.read_text()
    assert TURN_SECRET not in raw
    assert raw.count("\n") == 1
    (rec,) = audit.read(log)
    assert rec["gwctl_audit"] == 1 and rec["action"] == "apply"
    import getpass
    import socket

    assert rec["user"] == getpass.getuser()
    assert rec["controller"] == socket.gethostname()
    assert rec["kerberos_principal"] is None  # the simulator's inventory uses NTLM/basic
    assert rec["fleet"]["path"] == str(fleet)
    assert rec["fleet"]["git_commit"] == git("rev-parse", "HEAD")
    assert rec["fleet"]["git_dirty"] is False
    assert len(rec["fleet"]["sha256"]) == 64 and len(rec["plan_sha256"]) == 64
    assert rec["change_ref"] == "CHG-1234"

    # rollback: allowed whatever the windows, needs the change reference, audited
    fleet.write_text(fleet.read_text().replace(ORIGIN, "https://c.example.com"))
    assert gwctl(capsys, "apply", "-f", str(fleet), "-i", inv, "--yes",
                 "--change-ref", "CHG-1235")[0] == 0
    code, out = gwctl(capsys, "rollback", "--gateway", "demo-gw1", "-f", str(fleet),
                      "-i", inv)
    assert code == 64 and "pass --change-ref REF" in out
    code, out = gwctl(capsys, "rollback", "--gateway", "demo-gw1", "-f", str(fleet),
                      "-i", inv, "--change-ref", "CHG-1236")
    assert code == 0, out
    records = audit.read(log)
    assert records[1]["fleet"]["git_dirty"] is True  # the edit is not committed
    back = records[2]
    assert back["action"] == "rollback" and back["change_ref"] == "CHG-1236"
    (host,) = back["hosts"]
    assert host["outcome"] == "rolled back" and host["host"] == "demo-gw1"
    assert host["backups"] == {n: i for n, i in
                               next(h for h in records[1]["hosts"]
                                    if h["host"] == "demo-gw1")["backups"].items()}

    # unlock: audited with the holder it removed
    foreign_lock(sim_site, "demo-gw1")
    code, out = gwctl(capsys, "unlock", "--host", "demo-gw1", "-i", inv, "--yes",
                      "--change-ref", "INC-9")
    assert code == 0, out
    unlock = audit.read(log)[-1]
    assert unlock["action"] == "unlock" and unlock["change_ref"] == "INC-9"
    assert unlock["lock"]["holder"] == "ci@runner-7 pid 4711"
    assert unlock["hosts"][0]["outcome"] == "unlocked"
    assert TURN_SECRET not in log.read_text()

    # the same records, narrowed to the host, in the host's Application event log
    events = [e for e in read_entries(sim_site.host_root("demo-gw1")) if e["source"] == "gwctl"]
    assert [(e["event_id"], e["entry_type"]) for e in events] == [
        (1000, "Information"), (1000, "Information"), (1001, "Warning"), (1002, "Information")]
    first = json.loads(events[0]["message"])
    # an apply's event goes with its last command on the host, before the run's exit code
    # is known (null there); the rest is the controller's record narrowed to the host
    assert first["exit_code"] is None and rec["exit_code"] == 0
    assert {k: v for k, v in first.items() if k not in ("time", "exit_code")} == {
        **{k: v for k, v in rec.items() if k not in ("time", "exit_code")},
        "hosts": [h for h in rec["hosts"] if h["host"] == "demo-gw1"]}
    assert json.loads(events[2]["message"])["change_ref"] == "CHG-1236"
    assert all(e["log"] == "Application" for e in events)
    raw_events = (sim_site.host_root("demo-gw1") / ".host" / "eventlog.jsonl").read_text()
    assert TURN_SECRET not in raw_events
    # demo-ms was changed by the applies only: no rollback or unlock entry there
    ms_events = [e["event_id"] for e in read_entries(sim_site.host_root("demo-ms"))
                 if e["source"] == "gwctl"]
    assert ms_events == [1000, 1000]


def test_log_location_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GWCTL_AUDIT_LOG", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert audit.resolve_path(None, None, None) == tmp_path / "xdg" / "gwctl" / "audit.jsonl"
    monkeypatch.setenv("XDG_STATE_HOME", "relative/ignored")  # the spec: absolute only
    assert audit.resolve_path(None, None, None) == \
        Path.home() / ".local" / "state" / "gwctl" / "audit.jsonl"
    assert audit.resolve_path(None, "logs/a.jsonl", tmp_path) == tmp_path / "logs/a.jsonl"
    monkeypatch.setenv("GWCTL_AUDIT_LOG", str(tmp_path / "env.jsonl"))
    assert audit.resolve_path(None, "logs/a.jsonl", tmp_path) == tmp_path / "env.jsonl"
    assert audit.resolve_path(str(tmp_path / "opt.jsonl"), "x", tmp_path) == \
        tmp_path / "opt.jsonl"


def test_append_is_one_line_per_record_and_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "audit.jsonl"
    records: list[dict[str, Any]] = [{"n": i, "pad": "x" * 5000} for i in range(3)]
    for r in records:
        audit.append(path, r)
    assert audit.read(path) == records
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    if hasattr(os, "O_APPEND"):
        assert path.read_text().count("\n") == 3
    assert json.loads(path.read_text().splitlines()[1])["n"] == 1


def test_write_event_twin_keeps_the_contract(tmp_path: Path) -> None:
    from gwctl.errors import OperationError
    from gwctl.ops.pyimpl import DirectoryHost

    fixed = datetime(2026, 12, 2, 21, 30, tzinfo=UTC)
    host = DirectoryHost(tmp_path, clock=lambda: fixed)
    result = host.run("write_event", {"event_id": 1001, "entry_type": "Warning",
                                      "message": '{"action":"rollback"}'})
    assert result == {"log": "Application", "source": "gwctl", "event_id": 1001,
                      "entry_type": "Warning", "written_at": "2026-12-02T21:30:00.000000Z"}
    assert read_entries(tmp_path) == [{**result, "message": '{"action":"rollback"}'}]
    for params, why in [
            ({"event_id": 999, "entry_type": "Warning", "message": "x"}, "1000..1099"),
            ({"event_id": 1000, "entry_type": "warning", "message": "x"}, "entry_type"),
            ({"event_id": 1000, "entry_type": "Error", "message": "x" * 30001}, "30000"),
            ({"event_id": 1000, "entry_type": "Error", "message": "x", "source": "evil"},
             "unknown parameter")]:
        with pytest.raises(OperationError) as exc:
            host.run("write_event", params)
        assert exc.value.code == "bad_params" and why in str(exc.value)
    assert len(read_entries(tmp_path)) == 1


def test_an_event_refused_in_the_last_command_leaves_no_lock_and_is_written_after(
        sim_site: SimSite, tmp_path: Path) -> None:
    """The audit event rides last in the command that marks the activation done and
    releases the lock: when the host refuses it, the apply is still done and unlocked, and
    the after-run write (`write_host_events`) gives the host its entry."""
    from test_deploy import _plan, write_fleet

    from gwctl.deploy.activation import ACTIVATION_PATH
    from gwctl.deploy.apply import LOCK_PATH, ApplyOptions, apply_gateway
    from gwctl.deploy.health import HealthSettings
    from gwctl.hosts.targets import open_transport
    from gwctl.ops.batch import Step

    fleet = write_fleet(sim_site, tmp_path / "fleet.yaml", site_settings={"cors": CORS})
    target, plan = _plan(sim_site, fleet, "demo-gw1")
    sent: list[str] = []

    def refused_event(res: Any) -> Step:
        sent.append(res.outcome)
        # an event id outside gwctl's range: write_event refuses it (bad_params)
        return Step("write_event", {"event_id": 7, "entry_type": "Information",
                                    "message": "x"})

    res = apply_gateway(target, plan, open_transport, ApplyOptions(
        health=HealthSettings(timeout_s=10), owner="audit-test", audit_event=refused_event))
    assert sent == ["changed"]
    assert res.outcome == "changed" and not res.event_written, res.steps
    assert "unlocked" in res.steps
    root = sim_site.host_root("demo-gw1")
    state_dir = root / "C" / "ProgramData" / "gwctl"
    assert LOCK_PATH.endswith(r"\apply.lock") and ACTIVATION_PATH.endswith(r"\activation.json")
    assert not (state_dir / "apply.lock").exists()
    record = json.loads((state_dir / "activation.json").read_text())
    assert record["state"] == "active"
    assert not [e for e in read_entries(root) if e["source"] == "gwctl"]

    # what write_audit then does for a host whose event did not go in-batch
    rec = audit.AuditContext("apply").record(
        [audit.HostOutcome(res.gateway, res.host, res.outcome, res.detail, res.backups)])
    assert audit.write_host_events(rec, [target.host], open_transport) == []
    (entry,) = [e for e in read_entries(root) if e["source"] == "gwctl"]
    assert json.loads(entry["message"])["hosts"][0]["backups"] == res.backups != {}
    # a host whose event went in-batch is not written twice
    assert audit.write_host_events(rec, [target.host], open_transport,
                                   written={target.host.name}) == []
    assert len([e for e in read_entries(root) if e["source"] == "gwctl"]) == 1
