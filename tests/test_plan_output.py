"""How plans print: terraform-style counts, colour (NO_COLOR respected), markdown for a
pull-request comment, GitHub annotations -- from the stable plan document."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from test_deploy import CORS, TURN_SECRET, gwctl, write_fleet

from gwctl.output.plans import counts_line, report_github, report_markdown, report_text, use_colour

if TYPE_CHECKING:
    from gwctl.sim.server import SimSite


def _file(action: str, *, diff: str = "", cosmetic: bool = False, note: str | None = None,
          old: str | None = "aa", name: str = "appsettings.Production.json") -> dict[str, Any]:
    return {"name": name, "path": f"C:\\gw\\{name}", "action": action, "old_sha256": old,
            "new_sha256": "bb", "cosmetic": cosmetic, "needs_recycle": True, "note": note,
            "diff": diff}


def _gw(name: str, status: str, files: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    return {"gateway": f"s/{name}", "host": kw.pop("host", name), "status": status,
            "error": kw.pop("error", None), "recycle": kw.pop("recycle", True),
            "files": files, "semantic": kw.pop("semantic", []),
            "pending_activation": kw.pop("pending", None)}


DIFF = "--- a (live)\n+++ a (gwctl)\n@@ -1 +1 @@\n-old\n+new ```js\n"
DOC = {"version": 1, "gateways": [
    _gw("new", "drift", [_file("create", diff=DIFF, old=None)]),
    _gw("chg", "drift", [_file("update", diff=DIFF), _file("unchanged", name="nlog.config")],
        semantic=[{"key": "CORS:Enabled", "action": "changed", "old": "False",
                   "new": "True"}], host="h|1"),
    _gw("same", "in-sync", [
        _file("unchanged", cosmetic=True, note="formatting differs only; the gateway "
                                               "would run the same configuration"),
        _file("unchanged", cosmetic=True, name="nlog.config",
              note="formatting differs only; the gateway would run the same "
                   "configuration")]),
    _gw("down", "error", [], error="connection refused"),
]}


def test_counts_are_terraform_style() -> None:
    assert counts_line(DOC) == "1 to create, 1 to change, 1 in sync, 1 unreachable/failed"


def test_text_says_a_cosmetic_difference_once_naming_the_files() -> None:
    out = io.StringIO()
    report_text(DOC, out, colour=False)
    text = out.getvalue()
    assert ("= s/same (same): in sync (formatting differs only in "
            "appsettings.Production.json, nlog.config; the gateway would run the same "
            "configuration)\n") in text
    assert text.count("formatting differs only") == 1
    assert "    ~ CORS:Enabled: 'False' -> 'True'\n" in text
    assert text.endswith("4 gateway(s): 1 to create, 1 to change, 1 in sync, "
                         "1 unreachable/failed\n")
    assert "\033[" not in text


def test_colour_on_a_terminal_unless_no_color() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert use_colour(Tty(), {}) is True
    assert use_colour(Tty(), {"NO_COLOR": "1"}) is False
    assert use_colour(io.StringIO(), {}) is False
    assert use_colour(io.StringIO(), {"FORCE_COLOR": "1"}) is True
    assert use_colour(io.StringIO(), {"FORCE_COLOR": "1", "NO_COLOR": "1"}) is False
    out = io.StringIO()
    report_text(DOC, out, colour=True)
    text = out.getvalue()
    assert "\033[32m    +new ```js\033[0m\n" in text
    assert "\033[31m    -old\033[0m\n" in text
    assert "\033[31;1m! s/down (down): unreachable or failed: connection refused\033[0m" in text


def test_markdown_is_a_pull_request_comment() -> None:
    out = io.StringIO()
    report_markdown(DOC, out)
    md = out.getvalue()
    assert md.startswith("### gwctl plan: 1 to create, 1 to change, 1 in sync, "
                         "1 unreachable/failed\n")
    assert "| `s/chg` | h\\|1 | ✏️ change | yes |" in md
    assert md.count("<details>") == 2 and md.count("</details>") == 2
    # a fence longer than any backtick run in the diff, so the block cannot be closed
    assert "````diff\n--- a (live)" in md
    assert "**❗ `s/down`**: connection refused" in md
    assert "s/same" in md and "<code>s/same</code>" not in md


def test_github_annotations_keep_diffs_inert() -> None:
    doc = {"version": 1, "gateways": [
        _gw("g", "drift", [_file("update", diff="@@ -1 +1 @@\n-a\n+::error::owned\n")])]}
    out = io.StringIO()
    report_github(doc, out)
    lines = out.getvalue().splitlines()
    assert lines[0] == ("::notice title=gwctl%3A drift::s/g (g): change: "
                        "appsettings.Production.json; recycle needed")
    assert lines[1] == "::group::s/g (g)"
    token = lines[2].removeprefix("::stop-commands::")
    assert len(token) == 32
    assert f"::{token}::" in lines and lines.index(f"::{token}::") > \
        lines.index("    +::error::owned")
    assert lines[-2] == "::endgroup::"
    assert lines[-1] == "gwctl: 0 to create, 1 to change, 0 in sync, 0 unreachable/failed"


def test_diff_markdown_and_github_against_the_simulator(
        sim_site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GWCTL_TEST_TURN", TURN_SECRET)
    turn = {"ice_servers": [{"url": "turn:t.example:3478", "username": "u",
                             "credential": "env:GWCTL_TEST_TURN"}]}
    fleet = write_fleet(sim_site, tmp_path / "fleet.yaml",
                        site_settings={"cors": CORS, "webrtc": turn})
    inv = str(sim_site.inventory_path)
    code, md = gwctl(capsys, "diff", "-f", str(fleet), "-i", inv, "--output", "markdown",
                     "--detailed-exitcode")
    assert code == 2
    assert md.startswith("### gwctl plan: 2 to create, 0 to change, 0 in sync")
    assert "<summary><code>demo/demo-gw1</code> (demo-gw1): create, recycle needed</summary>" \
        in md
    assert '"credential": "(secret, changed)"' in md and TURN_SECRET not in md
    code, gh = gwctl(capsys, "diff", "-f", str(fleet), "-i", inv, "--output", "github")
    assert code == 0
    assert gh.count("::notice title=gwctl%3A drift::") == 2 and TURN_SECRET not in gh
    code, js = gwctl(capsys, "diff", "-f", str(fleet), "-i", inv, "--output", "json")
    assert json.loads(js)["summary"]["drift"] == 2
