"""The README's "After apply: verify, probe, doctor" block, every line as written and in
order: through bash from a scratch directory, with a real background simulator started
by the block's own ``gwctl sim up`` and no ``$GWCTL_HEALTH_PASSWORD`` (the health user
comes from the inventory the simulator wrote). After each line the test checks what it
did -- host files written, checks run and passed, sessions set up or refused with the
forum's 400, the support-case bundle, the page served -- never only the exit code.

``--serve-page`` serves until Ctrl-C: it runs in-process with its server bound to a free
port instead of 8080 (so that a busy port on the test machine cannot fail it) and stopped
after the page was fetched, as ``tests/test_probe_page.py`` does."""

from __future__ import annotations

import json
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from readme_lines import ShellSession, run_gwctl_line, section_commands, sim_host_files

from gwctl.processes import pid_alive

pytestmark = pytest.mark.timeout(300)

SECTION = "After apply: verify, probe, doctor"
ORIGIN = "https://portal.example.com"
GATEWAYS = ("demo-ms", "demo-gw1")


@pytest.fixture
def shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ShellSession]:
    monkeypatch.delenv("GWCTL_HEALTH_PASSWORD", raising=False)
    session = ShellSession(tmp_path)
    yield session
    if (tmp_path / ".sim" / "sim.pid").exists():  # never leave a simulator behind
        session.run("gwctl sim down --state .sim/")


def add_settings(state: Path) -> None:
    """What the block's comment asks for after `sim up`: a CORS origin in the fleet."""
    path = state / "fleet.yaml"
    doc = yaml.safe_load(path.read_text("utf-8"))
    (site,) = doc["sites"].values()
    site["settings"] = {"cors": {"enabled": True, "allow_origins": [ORIGIN],
                                 "allow_headers": ["Authorization", "Content-Type"],
                                 "allow_methods": ["GET", "POST", "PATCH", "OPTIONS"]}}
    path.write_text(yaml.safe_dump(doc, sort_keys=False), "utf-8")


def statuses(doc: dict[str, Any], gateway: str) -> dict[str, str]:
    (gw,) = [g for g in doc["gateways"] if g["gateway"] == gateway]
    return {c["check"]: c["status"] for c in gw["checks"]}


def serve_page(line: str, cwd: Path, capsys: pytest.CaptureFixture[str],
               monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, dict[str, Any]]:
    from gwctl.probe import page as page_module

    served: dict[str, Any] = {}
    real = page_module.make_server

    def on_a_free_port(host: str, port: int) -> Any:
        served["asked_port"] = port
        server = real(host, 0)
        url = f"http://{host}:{server.server_address[1]}/"

        def fetch_then_stop() -> None:
            served["page"] = httpx.get(url).text
            server.shutdown()

        threading.Timer(0.0, fetch_then_stop).start()
        return server

    monkeypatch.setattr(page_module, "make_server", on_a_free_port)
    monkeypatch.chdir(cwd)
    code, out = run_gwctl_line(line, cwd, capsys)
    return code, out, served


def test_the_block_is_concrete() -> None:
    lines = section_commands(SECTION)
    assert all("USER" not in line and "[" not in line and "|" not in line for line in lines)
    assert lines[0].startswith("gwctl sim up") and lines[-1] == "gwctl sim down --state .sim/"
    assert {line.split()[1] for line in lines} == {"sim", "apply", "verify", "probe", "doctor"}


def test_every_line_of_the_block_does_its_work(
        shell: ShellSession, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    cwd = shell.cwd
    state = cwd / ".sim"
    outputs: list[str] = []
    probes = 0
    for line in section_commands(SECTION):
        if "--serve-page" in line:
            code, out, served = serve_page(line, cwd, capsys, monkeypatch)
            assert code == 0 and served["asked_port"] == 8080, out
            assert "the gateway's CORS must allow the origin http://127.0.0.1:" in out
            assert "<title>gwctl WebRTC multi-camera test</title>" in served["page"]
            continue
        code, out = shell.run(line)
        outputs.append(out)
        words = line.split()
        command = " ".join(words[1:3]) if words[1] in ("sim", "probe") else words[1]
        if command == "sim up":
            assert code == 0 and "site 'demo' is up" in out, out
            assert "  health user        admin (gwctl_health_user/_password" in out, out
            assert pid_alive(int((state / "sim.pid").read_text().split()[0]))
            inventory = yaml.safe_load((state / "inventory.yml").read_text("utf-8"))
            hosts = inventory["all"]["children"]["demo"]["hosts"]
            assert {h: v["gwctl_health_user"] for h, v in hosts.items()} == {
                h: "admin" for h in GATEWAYS}
            password = hosts["demo-gw1"]["gwctl_health_password"]
            add_settings(state)
        elif command == "apply":
            assert code == 0, out
            for host in GATEWAYS:
                assert ORIGIN.encode() in (sim_host_files(state, host)[
                    "appsettings.Production.json"] or b"")
            verified = out.split("\nverify:\n", 1)[1]
            assert verified.count("  PASS  token") == 2, out
            assert verified.count(f"  PASS  cors {ORIGIN}") == 2, out
            assert "2 of 2 gateway(s) verified" in verified
        elif command == "verify" and "--output json" in line:
            assert code == 0, out
            doc = json.loads((cwd / "verify.json").read_text("utf-8"))
            assert [g["gateway"] for g in doc["gateways"]] == ["demo/demo-gw1"]
            got = statuses(doc, "demo/demo-gw1")
            for check in ("well-known", "gateway-version", "token", "rest-read",
                          "webrtc-signalling", "webrtc-ws-signalling", f"cors {ORIGIN}",
                          "cors undeclared origin refused"):
                assert got[check] == "pass", (check, got)
        elif command == "verify":
            assert code == 0, out
            assert "SKIP  token" not in out and out.count("  PASS  webrtc-signalling") == 2
            assert "2 of 2 gateway(s) verified" in out
        elif command == "sim fault":
            assert code == 0 and "demo-gw1: active fault profiles now: webrtc-concurrency:3600" \
                in out, out
        elif command == "probe webrtc" and probes == 0:
            probes += 1
            assert code == 0, out
            assert "8 session(s) across 4 camera(s), pattern staggered:200ms" in out
            assert "8 of 8 session(s) set up" in out and "pattern is absent" in out, out
        elif command == "probe webrtc":
            assert code == 1, out
            assert "The forum's pattern is PRESENT" in out and "400" in out, out
            assert "highest concurrency that worked: 1 simultaneous set-up(s)" in out
            case = cwd / "out" / "case"
            with zipfile.ZipFile(case / "support-case.zip") as bundle:
                assert {"report.md", "report.json", "exchanges.json",
                        "gateway-log-excerpt.txt"} <= set(bundle.namelist())
            report = json.loads((case / "report.json").read_text("utf-8"))
            assert report["probe"]["forum_pattern"]["present"] is True
            assert report["failed_session"] and report["successful_session"]
        elif command == "doctor" and "--output json" in line:
            assert code == 0, out
            (report,) = json.loads((cwd / "doctor.json").read_text("utf-8"))["gateways"]
            assert report["gateway"] == "demo-gw1" and report["ok"] is True
            checks = {c["check"]: c["status"] for c in report["checks"]}
            assert checks["answering"] == checks["app-pool"] == "pass", checks
        elif command == "doctor":
            assert code == 0, out
            assert "  PASS  answering" in out and "  PASS  app-pool" in out, out
            # what the block's apply did: CORS on, the change in the host's event log
            assert "  PASS  cors" in out and "1 origin(s), each scheme://host" in out, out
            assert "  PASS  gwctl-changes" in out and " apply by " in out, out
        elif command == "sim down":
            assert code == 0, out
            assert not (state / "sim.pid").exists()
        else:
            raise AssertionError(f"a README line this test does not check: {line}")
    assert probes == 1
    assert all(password not in out for out in outputs)
