"""IIS's request log of the gateway's site: where read_host finds it, read_iis_log's bounded
read, the simulator's W3C log, and doctor's iis-errors check on it."""

from __future__ import annotations

import base64
import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from gwctl.cli.main import main
from gwctl.errors import OperationError
from gwctl.iis import w3c
from gwctl.iis.hostinfo import HostInfo
from gwctl.ops.hostread import APPLICATION_HOST
from gwctl.ops.jea import JeaOptions
from gwctl.ops.jea_policy import Policy, check_paths
from gwctl.ops.pyimpl import DirectoryHost
from gwctl.sim.hostenv import Staging, install_application_host, local

if TYPE_CHECKING:
    from gwctl.sim.server import SimSite

GW = "demo-gw1"
INSTALL = r"C:\Program Files\Milestone\XProtect API Gateway"
POOL = "VideoOS ApiGateway AppPool"
W3SVC1 = r"C:\inetpub\logs\LogFiles\W3SVC1"
HEADER = ("#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n"
          "#Date: 2026-12-02 10:00:00\r\n#Fields: " + " ".join(w3c.FIELDS) + "\r\n")


def _line(at: str, stem: str, status: int, sub: int = 0, win32: int = 0) -> str:
    return (f"{at} 127.0.0.1 GET {stem} - 443 - 10.0.0.7 Mozilla/5.0+(X11) - {status} {sub} "
            f"{win32} 12\r\n")


# -- the format -------------------------------------------------------------------------


def test_w3c_lines_are_read_with_the_latest_fields_directive() -> None:
    text = (HEADER + _line("2026-12-02 10:00:01", "/api/a", 200)
            + _line("2026-12-02 10:00:02", "/api/b", 500, 30)
            # logging restarted with fewer fields: the next line follows the new list
            + "#Fields: date time cs-uri-stem sc-status\r\n"
            + "2026-12-02 10:00:03 /api/c 502\r\n"
            + "a fragment\r\n")
    got = list(w3c.parse_lines(text.splitlines()))
    assert [(r.stem, r.code, r.at.second) for r in got] == [
        ("/api/a", "200.0", 1), ("/api/b", "500.30", 2), ("/api/c", "502.0", 3)]
    assert got[0].at.tzinfo is UTC


def test_a_tail_that_misses_the_middle_drops_its_first_fragment() -> None:
    head = HEADER.encode() + _line("2026-12-02 10:00:01", "/api/first", 503).encode()
    body = "".join(_line(f"2026-12-02 11:00:{i:02d}", f"/api/{i}", 500 + i % 2, 0, 64)
                   for i in range(10)).encode()
    tail = body[7:]  # cut mid-line, as a bounded read of a longer file is
    got = w3c.read_tail(head, tail, len(head) + 1000)
    assert [r.stem for r in got] == [f"/api/{i}" for i in range(1, 10)]
    summary = w3c.server_errors(got, datetime(2026, 12, 2, 11, 0, 5, tzinfo=UTC))
    assert (summary.count, summary.first, summary.last) == (
        5, datetime(2026, 12, 2, 11, 0, 5, tzinfo=UTC),
        datetime(2026, 12, 2, 11, 0, 9, tzinfo=UTC))
    assert summary.codes == [("501.0", 3), ("500.0", 2)] and summary.win32 == [(64, 5)]
    # contiguous parts are one text
    assert [r.stem for r in w3c.read_tail(head, body, len(head))][:2] == ["/api/first",
                                                                          "/api/0"]


# -- read_host: which folder ----------------------------------------------------------


def _apphost(root: Path, edit: str | None = None) -> None:
    install_application_host(root)
    path = local(root, APPLICATION_HOST)
    if edit is not None:
        text = path.read_text("utf-8").replace(
            '<site name="Default Web Site" id="1">',
            f'<site name="Default Web Site" id="7">{edit}')
        path.write_text(text, "utf-8")


def _pool(root: Path) -> dict[str, Any]:
    answer = DirectoryHost(root).run("read_host", {"install_dir": INSTALL, "pool": POOL})
    return dict(answer["app_pool"])


def test_read_host_names_the_sites_id_and_log_folder(tmp_path: Path) -> None:
    _apphost(tmp_path)
    pool = _pool(tmp_path)
    assert (pool["site"], pool["site_id"], pool["site_log_dir"], pool["site_log_format"],
            pool["site_log_enabled"]) == ("Default Web Site", 1, W3SVC1, "W3C", True)
    info = HostInfo.from_result(DirectoryHost(tmp_path).run(
        "read_host", {"install_dir": INSTALL, "pool": POOL}))
    assert info.app_pool.site_log_dir == W3SVC1
    assert info.to_json()["app_pool"]["site_id"] == 1
    # the site's own <logFile> wins attribute by attribute; %VAR% as Windows expands it
    (tmp_path / ".host").mkdir()
    (tmp_path / ".host" / "environment.json").write_text('{"LogRoot": "D:\\\\IIS"}')
    _apphost(tmp_path, '<logFile directory="%LOGROOT%\\Logs\\" enabled="false" />')
    pool = _pool(tmp_path)
    assert (pool["site_id"], pool["site_log_dir"], pool["site_log_format"],
            pool["site_log_enabled"]) == (7, r"D:\IIS\Logs\W3SVC7", "W3C", False)
    _apphost(tmp_path, '<logFile directory="%Unknown%\\L" logFormat="NCSA" />')
    pool = _pool(tmp_path)
    assert (pool["site_log_dir"], pool["site_log_format"]) == (
        r"%Unknown%\L\W3SVC7", "NCSA")


# -- read_iis_log -------------------------------------------------------------------------


def test_read_iis_log_reads_the_newest_file_in_two_bounded_parts(tmp_path: Path) -> None:
    host = DirectoryHost(tmp_path)
    folder = local(tmp_path, W3SVC1)
    assert host.run("read_iis_log", {"log_dir": W3SVC1, "max_bytes": 4096}) == {
        "log_dir": W3SVC1, "exists": False, "file": None, "size": None, "mtime": None,
        "head_b64": None, "tail_offset": None, "tail_b64": None}
    folder.mkdir(parents=True)
    old = folder / "u_ex261201.log"
    old.write_text(HEADER + _line("2026-12-01 09:00:00", "/api/old", 500))
    new = folder / "u_ex261202.log"
    body = "".join(_line("2026-12-02 10:00:00", f"/api/{i}", 200) for i in range(2000))
    new.write_text(HEADER + body)
    (folder / "notes.logx").write_text("not a log")
    os.utime(old, (1, 1))
    answer = host.run("read_iis_log", {"log_dir": W3SVC1 + "\\", "max_bytes": 8192})
    data = new.read_bytes()
    head, tail = (base64.b64decode(answer[k]) for k in ("head_b64", "tail_b64"))
    assert answer["file"] == W3SVC1 + "\\u_ex261202.log" and answer["size"] == len(data)
    assert head == data[:4096] and answer["tail_offset"] == len(data) - 8192
    assert tail == data[-8192:] and len(head) + len(tail) <= 4096 + 8192
    got = w3c.read_tail(head, tail, answer["tail_offset"])
    # the whole lines of the last 8 KiB: the first, cut, is dropped
    assert got[-1].stem == "/api/1999" and len(got) == tail.count(b"\n") - 1
    with pytest.raises(OperationError, match="max_bytes") as bad:
        host.run("read_iis_log", {"log_dir": W3SVC1, "max_bytes": 5 * 1024 * 1024})
    assert bad.value.code == "bad_params"


def test_the_jea_pins_cover_the_default_iis_log_folder() -> None:
    options = JeaOptions(operators="C\\ops", install_dir=INSTALL, log_dir=r"C:\Logs",
                         backup_dir=r"C:\ProgramData\gwctl\backups",
                         management_server_dir=r"C:\ProgramData\Milestone")
    check_paths(Policy({}, options.pinned()), {"log_dir": W3SVC1, "max_bytes": 4096})
    narrow = Policy({}, tuple(p for p in options.pinned() if "inetpub" not in p))
    with pytest.raises(OperationError) as refused:
        check_paths(narrow, {"log_dir": W3SVC1, "max_bytes": 4096})
    assert refused.value.code == "path_not_allowed"


# -- the simulator writes it; doctor reads it -----------------------------------------


def _log_lines(site: SimSite) -> list[str]:
    """The site's log lines, oldest file first (a run across UTC midnight has two)."""
    folder = local(site.host_root(GW), W3SVC1)
    paths = sorted(folder.iterdir())
    assert all(re.fullmatch(r"u_ex\d{6}\.log", p.name) for p in paths), paths
    return [line for p in paths for line in p.read_text("utf-8").splitlines()]


def _doctor(capsys: pytest.CaptureFixture[str], site: SimSite) -> dict[str, Any]:
    main(["doctor", "-i", str(site.inventory_path), "--gateway", GW, "--output", "json"])
    checks = json.loads(capsys.readouterr().out)["gateways"][0]["checks"]
    return next(c for c in checks if c["check"] == "iis-errors")


def test_the_simulator_logs_each_answer_and_doctor_reports_the_5xx(
        sim_site: SimSite, capsys: pytest.CaptureFixture[str]) -> None:
    url = sim_site.gateway_url(GW)
    assert httpx.get(f"{url}/.well-known/uris", headers={"User-Agent": "probe 1"}
                     ).status_code == 200
    lines = _log_lines(sim_site)
    assert lines[:2] == ["#Software: Microsoft Internet Information Services 10.0",
                         "#Version: 1.0"]
    assert lines[3] == "#Fields: " + " ".join(w3c.FIELDS)
    fields = dict(zip(w3c.FIELDS, lines[-1].split(" "), strict=True))
    assert (fields["cs-method"], fields["cs-uri-stem"], fields["sc-status"],
            fields["sc-substatus"], fields["cs(User-Agent)"]) == (
        "GET", "/api/.well-known/uris", "200", "0", "probe+1")
    check = _doctor(capsys, sim_site)
    assert check["status"] == "pass" and check["detail"].startswith(
        f"no 5xx answer in the last 24 h in {W3SVC1}\\u_ex")
    # a fault profile's 5xx are answers IIS logs
    sim_site.set_fault(GW, "5xx-burst:3")
    assert [httpx.get(f"{url}/rest/v1/sites").status_code for _ in range(3)] == [500, 502, 503]
    # a stopped pool is answered by HTTP.sys: its HTTPERR log, not the site's
    sim_site.production_path(GW).write_text("{ not json", "utf-8")
    sim_site.stage_host(GW, Staging(hosting_model="inprocess", rapid_fail_max_crashes=2))
    assert httpx.get(f"{url}/.well-known/uris").status_code == 500  # ANCM's 500.30
    assert sim_site.recycle(GW)["state"] == "Stopped"
    count = len(_log_lines(sim_site))
    assert httpx.get(f"{url}/.well-known/uris").status_code == 503
    assert len(_log_lines(sim_site)) == count
    statuses = [line.split(" ")[11:13] for line in _log_lines(sim_site)
                if not line.startswith("#")]
    assert statuses[-4:] == [["500", "0"], ["502", "0"], ["503", "0"], ["500", "30"]]
    check = _doctor(capsys, sim_site)
    assert check["status"] == "warn"
    detail = check["detail"]
    assert detail.startswith(f"4 5xx answer(s) in the last 24 h in {W3SVC1}\\u_ex")
    assert re.search(r": first \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ, last \d{4}-", detail)
    assert "; top URLs: /api/rest/v1/sites: 3, /api/.well-known/uris: 1; status: 500.0: 1, " \
        "502.0: 1, 503.0 (app_offline.htm or the app's own 503): 1, 500.30 (in-process start " \
        "failure): 1; win32-status: 0: 4" in detail
    assert check["remedy"].startswith("manual, Troubleshooting > API Gateway doesn't answer "
                                      "requests: the substatus names the cause")


def test_doctor_looks_back_24_hours_only(sim_site: SimSite,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    folder = local(sim_site.host_root(GW), W3SVC1)
    folder.mkdir(parents=True, exist_ok=True)
    old = (datetime.now(UTC) - timedelta(hours=30)).strftime("%Y-%m-%d %H:%M:%S")
    (folder / "u_ex000101.log").write_text(HEADER + _line(old, "/api/x", 503))
    check = _doctor(capsys, sim_site)
    assert check["status"] == "pass" and "(1 request(s) read)" in check["detail"]
