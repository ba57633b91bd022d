"""gwctl probe webrtc against the simulator, as a user runs it.

With the ``webrtc-concurrency`` fault the probe reproduces the forum's report (400 on a
session request while another session of the gateway is being set up), says so, finds
the highest concurrency that works and writes a bundle holding the failed and the
successful exchanges and the gateway's log excerpt -- and no secret. Without the fault,
all sessions are set up.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from gwctl.cli.main import main
from gwctl.errors import UsageError
from gwctl.probe.gatewaylog import excerpt, log_target
from gwctl.probe.pattern import Pattern

if TYPE_CHECKING:
    from gwctl.sim.server import SimSite


def probe(site: SimSite, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
          *extra: str) -> tuple[int, str, str]:
    user, password = next(iter(site.users.items()))
    monkeypatch.setenv("GWCTL_HEALTH_PASSWORD", password)
    code = main(["probe", "webrtc", "-i", str(site.inventory_path), "--gateway", "demo-gw1",
                 "--health-user", user, *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_all_green_without_the_fault(sim_site: SimSite, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = probe(sim_site, capsys, monkeypatch, "--cameras", "4", "--sessions", "8",
                           "--output", "json")
    assert code == 0, out + err
    doc = json.loads(out)
    assert doc["summary"]["succeeded"] == 8 and doc["summary"]["failed"] == 0
    assert len(doc["cameras"]) == 4
    assert {o["camera"] for o in doc["outcomes"]} == set(doc["cameras"])
    assert all(o["time_to_answer_ms"] > 0 for o in doc["outcomes"])
    assert doc["forum_pattern"]["present"] is False
    assert doc["highest_working_concurrency"] == 8


def test_forum_pattern_reproduced_with_bundle(sim_site: SimSite, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # a window far longer than any run: which set-ups overlap must not depend on how fast a
    # loaded machine gets through them (an answered session stops counting at once)
    sim_site.set_fault("demo-gw1", "webrtc-concurrency:3600")
    case = tmp_path / "case"
    code, out, err = probe(sim_site, capsys, monkeypatch, "--cameras", "4", "--sessions", "8",
                           "--report", str(case))
    assert code == 1, out + err
    assert "The forum's pattern is PRESENT" in out
    assert "FAILED at session: HTTP 400 Request failed with status 400" in out
    assert "highest concurrency that worked: 1 simultaneous set-up(s)" in out
    assert f"support-case bundle: {case / 'support-case.zip'}" in out

    report = json.loads((case / "report.json").read_text("utf-8"))
    assert report["probe"]["forum_pattern"]["present"] is True
    assert report["probe"]["summary"]["failed"] == 7
    failed, ok = report["failed_session"], report["successful_session"]
    assert failed[0]["method"] == "POST" and failed[0]["path"] == "/api/REST/v1/WebRTC/Session"
    assert failed[0]["response"]["status"] == 400
    assert json.loads(failed[0]["response"]["body"]) == {
        "error": "Request failed with status 400"}
    assert [e["method"] for e in ok] == ["POST", "GET", "POST", "PATCH"]
    assert all(e["response"]["status"] == 200 for e in ok)
    auth = dict(failed[0]["request"]["headers"])
    assert auth["authorization"] == "Bearer (secret)"
    env = report["environment"]
    assert env["product_version"].startswith("25.2.") and env["installed_gateway_version"]
    assert env["cors"] == {"Enabled": "False"}
    log = (case / "gateway-log-excerpt.txt").read_text("utf-8")
    assert "WARN       - WebRTC session request failed with status 400" in log
    assert "INFO       - WebRTC session created" in log
    md = (case / "report.md").read_text("utf-8")
    assert "## A failed session" in md and "HTTP 400" in md and "## Gateway log" in md
    with zipfile.ZipFile(case / "support-case.zip") as z:
        assert sorted(z.namelist()) == sorted(["report.md", "report.json", "exchanges.json",
                                               "gateway-log-excerpt.txt"])
        assert z.read("report.json").decode() == (case / "report.json").read_text("utf-8")

    # no secret anywhere: the user's password, any token the IDP issued, the WinRM password
    _, password = next(iter(sim_site.users.items()))
    exchanges = json.loads((case / "exchanges.json").read_text("utf-8"))
    token_answers = [e for e in exchanges if e["label"] == "token"]
    assert token_answers and "(secret)" in token_answers[0]["response"]["body"]
    assert "&password=(secret)&" in token_answers[0]["request"]["body"]
    blob = b"".join(p.read_bytes() for p in case.iterdir())
    for secret in (password, sim_site.windows_admin[1]):
        assert secret.encode() not in blob
    assert b"eyJ" not in blob  # no JWT (header.payload.signature) survived


def test_staggered_slow_enough_avoids_the_fault(sim_site: SimSite,
                                                capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # each session is answered long before the next one starts: the pattern cannot occur
    sim_site.set_fault("demo-gw1", "webrtc-concurrency:5")
    code, out, err = probe(sim_site, capsys, monkeypatch, "--cameras", "2", "--sessions", "2",
                           "--pattern", "staggered:400ms")
    assert code == 0, out + err
    assert "2 of 2 session(s) set up" in out
    assert "The forum's pattern is absent" in out


def test_ramp_finds_the_limit(sim_site: SimSite, capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    sim_site.set_fault("demo-gw1", "webrtc-concurrency:3600")  # see the test above
    code, out, _ = probe(sim_site, capsys, monkeypatch, "--sessions", "8", "--pattern", "ramp",
                         "--output", "json")
    assert code == 1
    doc = json.loads(out)
    assert doc["highest_working_concurrency"] == 1
    rounds = {o["round"] for o in doc["outcomes"]}
    assert rounds == {1, 2}  # the ramp stops at the first level that fails


def test_usage_errors(sim_site: SimSite, capsys: pytest.CaptureFixture[str],
                      monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = probe(sim_site, capsys, monkeypatch, "--pattern", "sometimes")
    assert code == 64 and "--pattern" in err
    code, _, err = probe(sim_site, capsys, monkeypatch, "--sessions", "0")
    assert code == 64 and "--sessions" in err
    code, _, err = probe(sim_site, capsys, monkeypatch, "--duration", "5s")
    assert code == 64 and "--duration measures received video: it needs --media" in err
    code, _, err = probe(sim_site, capsys, monkeypatch, "--relay-only")
    assert code == 64 and "--ice-server and --relay-only are for the media peers" in err
    code, _, err = probe(sim_site, capsys, monkeypatch, "--media", "--relay-only",
                         "--ice-server", "stun:127.0.0.1:3478")
    assert code == 64 and "--relay-only needs a TURN server" in err
    monkeypatch.delenv("GWCTL_ICE_CREDENTIAL", raising=False)
    code, _, err = probe(sim_site, capsys, monkeypatch, "--media", "--ice-server",
                         "turn:127.0.0.1:3478")
    assert code == 64 and "needs --ice-username and $GWCTL_ICE_CREDENTIAL" in err


def test_pattern_parsing() -> None:
    assert Pattern.parse("staggered:200ms").interval_s == pytest.approx(0.2)
    assert Pattern.parse("staggered:1.5s").offsets(3) == [0.0, 1.5, 3.0]
    assert Pattern.parse("ramp").rounds(8) == [1, 2, 4, 8]
    assert Pattern.parse("ramp").rounds(6) == [1, 2, 4, 6]
    assert Pattern.parse("simultaneous").rounds(5) == [5]
    for bad in ("staggered", "staggered:fast", "ramp:2", "burst"):
        with pytest.raises(UsageError):
            Pattern.parse(bad)


NLOG = """<nlog xmlns="http://www.nlog-project.org/schemas/NLog.xsd"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <variable name="logDirectory" value="${basedir}\\logs" />
  <targets><target name="f" xsi:type="File" fileName="${var:logDirectory}\\gw.log" /></targets>
  <rules><logger name="*" minlevel="Error" writeTo="f" /></rules>
</nlog>"""


def test_log_target_and_hint() -> None:
    target = log_target(NLOG, "D:\\Gateway")
    assert target.path == "D:\\Gateway\\logs\\gw.log"
    assert target.min_level == "error"
    hint = target.hint() or ""
    assert "nlog: {min_level: Debug}" in hint and "Error" in hint
    assert log_target(NLOG.replace('minlevel="Error"', 'minlevel="Info"'), "D:").hint() is None


def test_log_excerpt_window() -> None:
    from datetime import datetime

    text = ("2026-01-01 10:00:00.000+00:00 [1] INFO - before\n"
            "2026-01-01 10:00:05.000+00:00 [1] WARN - inside\n"
            "   at Some.Stack.Trace()\n"
            "2026-01-01 10:00:30.000+00:00 [1] INFO - after\n")
    lines = excerpt(text, datetime(2026, 1, 1, 10, 0, 4), datetime(2026, 1, 1, 10, 0, 6))
    assert lines == ["2026-01-01 10:00:05.000+00:00 [1] WARN - inside",
                     "   at Some.Stack.Trace()"]


def test_media_8_sessions_4_cameras_each_receive_frames(
        sim_factory: Any, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("aiortc", reason="the 'webrtc' extra (aiortc) is not installed")
    monkeypatch.setenv("GWCTL_SIM_MEDIA", "1")  # the simulator's gateways get real peers
    site = sim_factory()
    code, out, err = probe(site, capsys, monkeypatch, "--cameras", "4", "--sessions", "8",
                           "--media", "--duration", "1s", "--output", "json")
    assert code == 0, out + err
    doc = json.loads(out)
    outcomes = doc["outcomes"]
    assert len(outcomes) == 8 and all(o["ok"] for o in outcomes)
    assert len({o["camera"] for o in outcomes}) == 4
    for o in outcomes:
        assert o["time_to_first_frame_ms"] >= o["time_to_answer_ms"] > 0
        assert o["frames"] >= 2 and o["fps"] > 0  # video kept coming over --duration
    assert doc["summary"]["time_to_first_frame_ms"]["p95"] > 0


def test_media_offer_is_a_real_peer(sim_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("aiortc", reason="the 'webrtc' extra (aiortc) is not installed")
    import httpx

    monkeypatch.setenv("GWCTL_SIM_MEDIA", "1")
    site = sim_factory(wsman=False)
    user, password = next(iter(site.users.items()))
    api = site.gateway_url("demo-gw1")
    token = httpx.post(f"{api}/IDP/connect/token", data={
        "grant_type": "password", "username": user, "password": password,
        "client_id": "GrantValidatorClient"}).json()["access_token"]
    h = {"Authorization": f"Bearer {token}"}
    cam = httpx.get(f"{api}/rest/v1/cameras", headers=h).json()["array"][0]["id"]
    session = httpx.post(f"{api}/REST/v1/WebRTC/Session", headers=h,
                         json={"deviceId": cam}).json()
    sdp = json.loads(session["offerSDP"])["sdp"]
    # aiortc's offer: DTLS-SRTP with feedback profile, its own candidates, a data channel
    assert "UDP/TLS/RTP/SAVPF" in sdp and "a=candidate:" in sdp and "typ host" in sdp
    assert "webrtc-datachannel" in sdp and "a=fingerprint:sha-256" in sdp


def test_media_through_the_turn_relay_only(sim_factory: Any, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Both media peers gather relayed candidates from a real coturn; the client is
    relay-only (a browser's iceTransportPolicy "relay"), so its video can only have come
    through the TURN server."""
    pytest.importorskip("aiortc", reason="the 'webrtc' extra (aiortc) is not installed")
    from turnserver import start_turnserver

    from gwctl.probe.pattern import Pattern
    from gwctl.probe.webrtc import ProbeSettings, run_probe
    from gwctl.versions.release import Version

    turn = start_turnserver(tmp_path, "relay-Only-7d1f")
    try:
        monkeypatch.setenv("GWCTL_SIM_MEDIA", "1")
        site = sim_factory(wsman=False, cameras=1)
        site.production_path("demo-gw1").write_text(json.dumps({"WebRTC": {"iceServers": [
            {"url": turn.url("turn"), "username": turn.user,
             "credential": turn.password}]}}), "utf-8")
        site.recycle("demo-gw1")
        user, password = next(iter(site.users.items()))
        settings = ProbeSettings(user=user, password=password, sessions=1, cameras=1,
                                 pattern=Pattern("simultaneous"), media=True,
                                 ice_servers=[(turn.url("turn"), turn.user, turn.password)],
                                 relay_only=True)
        result = run_probe("demo-gw1", site.gateway_url("demo-gw1"),
                           Version.parse("2025 R2"), settings)
    finally:
        turn.stop()
    (outcome,) = result.outcomes
    assert outcome.ok and outcome.first_frame_s is not None, outcome
    sent = next(e for e in result.exchanges if e.label.endswith("send ICE candidates"))
    mine = [json.loads(c)["candidate"] for c in json.loads(sent.request_body)["candidates"]]
    assert mine and all(" typ relay " in c for c in mine), mine
    got = next(e for e in result.exchanges if e.label.endswith("get ICE candidates"))
    theirs = [json.loads(c)["candidate"] for c in json.loads(got.response_body)["candidates"]]
    assert any(" typ relay " in c for c in theirs), theirs  # the gateway's peer gathered one
    assert turn.password not in json.dumps([e.to_json() for e in result.exchanges])


def test_health_user_from_the_inventory_wins(sim_factory: Any,
                                             capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # what `gwctl sim up` writes: the inventory's credentials, as verify reads them
    site: SimSite = sim_factory(health_user_in_inventory=True)
    monkeypatch.delenv("GWCTL_HEALTH_PASSWORD", raising=False)
    code = main(["probe", "webrtc", "-i", str(site.inventory_path), "--gateway", "demo-gw1",
                 "--health-user", "someone-else", "--sessions", "2", "--output", "json"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert json.loads(out)["summary"]["succeeded"] == 2
    (password,) = site.users.values()
    assert password not in out + err


def test_no_health_user_anywhere_is_a_usage_error(sim_site: SimSite,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["probe", "webrtc", "-i", str(sim_site.inventory_path), "--gateway",
                 "demo-gw1"])
    _, err = capsys.readouterr()
    assert code == 64
    assert ("--health-user is required (unless --serve-page or the inventory sets "
            "gwctl_health_user for demo-gw1)") in err
