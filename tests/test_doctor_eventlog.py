"""gwctl doctor reads the host's Application event log (remote operation ``read_events``).

Against the simulator: an apply writes its audit record into the host's event log; a
configuration that does not load makes the emulated ANCM write its start-up failure
(in-process 1035 with the captured exception, out-of-process 1020); doctor shows the
record (who, when, change ref, outcome) and the failure with cause and remedy, and PASS
once the gateway starts again. The twin of ``read_events`` is checked on its own.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from gwctl.cli.main import main
from gwctl.errors import OperationError
from gwctl.iis.ancm import PROVIDERS
from gwctl.ops.eventlog import append_entry, read_entries
from gwctl.ops.hostfiles import utc_text
from gwctl.ops.pyimpl import DirectoryHost
from gwctl.sim.hostenv import Staging

if TYPE_CHECKING:
    from gwctl.sim.server import SimSite

GW = "demo-gw1"
TURN_SECRET = "doctor-eventlog-turn-secret-5523"
ORIGIN = "https://portal.example.com"


def doctor(site: SimSite, capsys: pytest.CaptureFixture[str],
           output: str = "json") -> tuple[int, str]:
    code = main(["doctor", "-i", str(site.inventory_path), "--gateway", GW,
                 "--output", output])
    out, err = capsys.readouterr()
    return code, out if output == "json" else out + err


def checks_of(out: str) -> dict[str, dict[str, Any]]:
    (gw,) = json.loads(out)["gateways"]
    checks = {c["check"]: c for c in gw["checks"]}
    assert "host" not in checks, checks["host"]  # the host was read
    return checks


def fleet_with_turn(site: SimSite, path: Path) -> Path:
    doc = yaml.safe_load(site.fleet_path.read_text())
    (site_doc,) = doc["sites"].values()
    site_doc["management_server"]["version"] = "2025 R2"
    site_doc["settings"] = {
        "cors": {"enabled": True, "allow_origins": [ORIGIN], "allow_headers": ["Authorization"],
                 "allow_methods": ["GET"]},
        "webrtc": {"ice_servers": [{"url": "turn:turn.example.com:3478", "username": "gw",
                                    "credential": "env:GWCTL_TEST_TURN"}]}}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.mark.parametrize(("model", "event_id", "answer"),
                         [("inprocess", 1035, "500.30"), ("outofprocess", 1020, "502.5")])
def test_doctor_shows_the_change_and_the_start_up_failure(
        sim_site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, model: str, event_id: int, answer: str) -> None:
    monkeypatch.setenv("GWCTL_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    monkeypatch.setenv("GWCTL_TEST_TURN", TURN_SECRET)
    sim_site.stage_host(GW, Staging(hosting_model=model))
    root = sim_site.host_root(GW)

    # healthy, nothing changed by gwctl yet
    code, out = doctor(sim_site, capsys)
    checks = checks_of(out)
    assert checks["startup-errors"]["status"] == "pass", checks["startup-errors"]
    assert checks["startup-errors"]["detail"].startswith(
        "no ASP.NET Core Module start-up error since the last recycle (")
    assert checks["gwctl-changes"]["status"] == "info"
    assert checks["gwctl-changes"]["detail"] == \
        "no gwctl change recorded on this host in the last 24 h"

    fleet = fleet_with_turn(sim_site, tmp_path / "fleet.yaml")
    code = main(["apply", "-f", str(fleet), "-i", str(sim_site.inventory_path), "--yes",
                 "--change-ref", "CHG-4242"])
    capsys.readouterr()
    assert code == 0
    audit_events = [e for e in read_entries(root) if e["source"] == "gwctl"]
    assert len(audit_events) == 1
    record = json.loads(audit_events[0]["message"])

    # the change landed and the gateway started: PASS lines, with who and which change
    code, out = doctor(sim_site, capsys)
    checks = checks_of(out)
    changes = checks["gwctl-changes"]
    assert changes["status"] == "pass", changes
    assert (f"{record['time']} apply by {record['user']}@{record['controller']} (CHG-4242): "
            "changed") in changes["detail"]
    assert checks["startup-errors"]["status"] == "pass"
    assert TURN_SECRET not in out

    # a configuration that does not load: ANCM's event, read back with its exception
    sim_site.production_path(GW).write_text(
        '{"Logging": {"LogLevel": {"Default": "Information", "default": "Debug"}}}', "utf-8")
    sim_site.recycle(GW)
    (failure,) = [e for e in read_entries(root)
                  if e["source"] == PROVIDERS[0] and e["entry_type"] == "Error"]
    assert failure["event_id"] == event_id
    assert "Application '/LM/W3SVC/1/ROOT/api' with physical root " \
           "'C:\\Program Files\\Milestone\\XProtect API Gateway\\' " in failure["message"]
    assert "First 30KB characters of captured stdout and stderr logs" in failure["message"]
    code, out = doctor(sim_site, capsys)
    assert code == 1
    startup = checks_of(out)["startup-errors"]
    assert startup["status"] == "fail", startup
    assert startup["detail"].startswith("1 start-up error(s) since the last recycle (")
    assert f"event {event_id} " in startup["detail"]
    assert f"({answer})" in startup["detail"]
    assert "Unhandled exception." in startup["detail"]
    assert "A duplicate key 'Logging:LogLevel:default' was found" in startup["detail"]
    assert startup["remedy"] == ("manual, Troubleshooting > API Gateway doesn't answer "
                                 "requests: fix the file (gwctl lint-file on the host's "
                                 "files, or gwctl rollback), then recycle the app pool")
    assert TURN_SECRET not in out

    # the text form carries the same lines
    code, text = doctor(sim_site, capsys, "text")
    assert "  FAIL  startup-errors" in text and "  PASS  gwctl-changes" in text
    assert "-> manual, Troubleshooting > API Gateway doesn't answer requests" in text

    # fixed and recycled: the failure is history
    sim_site.production_path(GW).write_text("{}", "utf-8")
    sim_site.recycle(GW)
    code, out = doctor(sim_site, capsys)
    assert checks_of(out)["startup-errors"]["status"] == "pass", out


def test_a_host_without_web_config_writes_no_ancm_event(sim_site: SimSite) -> None:
    # without web.config nothing runs under ANCM (the simulator's default host)
    sim_site.production_path(GW).write_text("{ broken", "utf-8")
    sim_site.recycle(GW)
    assert not [e for e in read_entries(sim_site.host_root(GW)) if e["source"] in PROVIDERS]


NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _entry(source: str, event_id: int, minutes_ago: int) -> dict[str, Any]:
    return {"log": "Application", "source": source, "event_id": event_id,
            "entry_type": "Information", "message": f"{source} {event_id}",
            "written_at": utc_text(NOW - timedelta(minutes=minutes_ago))}


def test_read_events_twin_filters_by_source_time_and_count(tmp_path: Path) -> None:
    for entry in (_entry("gwctl", 1000, 2000), _entry("gwctl", 1001, 30),
                  _entry("VideoOS API Gateway", 1, 20), _entry(PROVIDERS[0], 1032, 10),
                  _entry("gwctl", 1002, 5)):
        append_entry(tmp_path, entry)
    host = DirectoryHost(tmp_path, clock=lambda: NOW)
    result = host.run("read_events", {"sources": ["GWCTL", PROVIDERS[0]],
                                      "since_minutes": 60, "max_events": 10})
    assert result["log"] == "Application"
    assert result["since"] == "2026-12-02T11:00:00.000000Z"
    assert [(e["source"], e["event_id"]) for e in result["events"]] == [
        ("gwctl", 1002), (PROVIDERS[0], 1032), ("gwctl", 1001)]
    assert result["events"][0] == {"source": "gwctl", "event_id": 1002,
                                   "entry_type": "Information", "message": "gwctl 1002",
                                   "written_at": "2026-12-02T11:55:00.000000Z"}
    two = host.run("read_events", {"sources": ["gwctl"], "since_minutes": 10080,
                                   "max_events": 2})
    assert [e["event_id"] for e in two["events"]] == [1002, 1001]
    empty = DirectoryHost(tmp_path / "none", clock=lambda: NOW).run(
        "read_events", {"sources": ["gwctl"], "since_minutes": 60, "max_events": 5})
    assert empty["events"] == []


@pytest.mark.parametrize(("params", "message"), [
    ({"sources": [], "since_minutes": 60, "max_events": 5},
     "read_events: sources must name 1..8 event sources"),
    ({"sources": ["gwctl"], "since_minutes": 0, "max_events": 5},
     "read_events: parameter 'since_minutes' must be an integer in 1..10080"),
    ({"sources": ["gwctl"], "since_minutes": 60, "max_events": 501},
     "read_events: parameter 'max_events' must be an integer in 1..500"),
    ({"sources": ["gwctl"], "since_minutes": 60, "max_events": 5, "log": "System"},
     "read_events: unknown parameter(s) log"),
])
def test_read_events_refuses_bad_parameters(tmp_path: Path, params: dict[str, Any],
                                            message: str) -> None:
    with pytest.raises(OperationError) as info:
        DirectoryHost(tmp_path).run("read_events", params)
    assert info.value.code == "bad_params"
    assert str(info.value) == message
