"""Problems in every --output format: SARIF 2.1.0 for code scanning (checked by parsing it
back with sarif-pydantic's SARIF object model, and field by field against the text
output), Markdown for pull-request comments; and `gwctl rules` for a terminal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sarif_pydantic import Sarif

from gwctl.cli.main import main
from gwctl.output.ruledoc import for_terminal, to_markdown

REPO = Path(__file__).resolve().parent.parent

FLEET = """\
apiVersion: gwctl/v1
sites:
  s:
    management_server: {host: ms, version: "2025 R2"}
    gateways:
      ms: {host: ms, colocated: true}
      g1:
        host: g1
        settings:
          cors: {enabled: true, allow_origins: ["*"]}
      g2:
        host: g2
        settings:
          cors:
            enabled: true
            allow_origins: ["*"]  # gwctl: disable=cors-wildcard-origin -- lab, CHG-7
"""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "fleet.yaml").write_text(FLEET)
    monkeypatch.chdir(tmp_path)
    return "fleet.yaml"


def test_validate_sarif_matches_the_text_report(fleet: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code, text, _ = run(capsys, "validate", "-f", fleet)
    assert code == 1
    (line,) = [t for t in text.splitlines() if "(cors-wildcard-origin)" in t]
    where = line.split(": [")[0]            # fleet.yaml:LINE:COL
    _, line_no, col = where.split(":")

    code, out, _ = run(capsys, "validate", "-f", fleet, "--output", "sarif")
    assert code == 1
    doc = json.loads(out)
    Sarif.model_validate(doc)  # the SARIF object model accepts it
    assert doc["version"] == "2.1.0" and doc["$schema"].endswith("sarif-2.1.0.json")
    (run_,) = doc["runs"]
    driver = run_["tool"]["driver"]
    assert driver["name"] == "gwctl"
    rules = {r["id"]: r for r in driver["rules"]}
    rule = rules["cors-wildcard-origin"]
    assert rule["defaultConfiguration"]["level"] == "error"
    assert rule["shortDescription"]["text"].startswith("* or null in Access-Control")
    assert "``" not in rule["help"]["text"] and "```" in rule["help"]["markdown"]
    results = [r for r in run_["results"] if r["ruleId"] == "cors-wildcard-origin"]
    live = [r for r in results if "suppressions" not in r]
    muted = [r for r in results if "suppressions" in r]
    assert len(live) == 1 and len(muted) == 1
    (loc,) = live[0]["locations"]
    assert loc["physicalLocation"]["artifactLocation"]["uri"] == "fleet.yaml"
    assert loc["physicalLocation"]["region"] == {"startLine": int(line_no),
                                                 "startColumn": int(col)}
    assert live[0]["level"] == "error" and live[0]["properties"]["subject"] == "s/g1"
    assert driver["rules"][live[0]["ruleIndex"]]["id"] == "cors-wildcard-origin"
    assert muted[0]["suppressions"] == [{"kind": "inSource", "justification": "lab, CHG-7"}]


def test_lint_file_and_check_versions_print_sarif(capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    code, out, _ = run(capsys, "lint-file", "examples/manual/cors.appsettings.Production.json",
                       "--output", "sarif")
    doc = json.loads(out)
    Sarif.model_validate(doc)
    results = doc["runs"][0]["results"]
    assert code == (1 if any(r["level"] == "error" for r in results) else 0)
    assert results, "the manual's permissive CORS example has findings"
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in results} == {"examples/manual/cors.appsettings.Production.json"}
    code, out, _ = run(capsys, "check-versions", "-f", "tests/golden/versions-fleet.yaml",
                       "--output", "sarif")
    doc = json.loads(out)
    Sarif.model_validate(doc)
    assert {r["ruleId"] for r in doc["runs"][0]["results"]} <= \
        {r["id"] for r in doc["runs"][0]["tool"]["driver"]["rules"]}


def test_validate_markdown_is_a_table(fleet: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "validate", "-f", fleet, "--output", "markdown")
    assert code == 1
    assert out.startswith("### gwctl: 1 error(s), 4 warning(s), 1 suppressed\n")
    row = [line for line in out.splitlines() if "cors-wildcard-origin" in line]
    assert len(row) == 1 and row[0].startswith("| ❌ | `fleet.yaml:")
    assert "[s/g1]" in row[0]


def test_rules_read_as_plain_text(capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    code, listing, _ = run(capsys, "rules")
    assert code == 0 and "``" not in listing
    code, doc, _ = run(capsys, "rules", "cors-wildcard-origin")
    assert code == 0 and "``" not in doc and "::" not in doc
    assert "\nPASS (a development gateway):\n\n    settings:\n" in doc
    monkeypatch.setenv("FORCE_COLOR", "1")
    code, doc, _ = run(capsys, "rules", "cors-wildcard-origin")
    assert "\033[1m*\033[0m or \033[1mnull\033[0m" in doc
    monkeypatch.setenv("NO_COLOR", "1")
    code, doc, _ = run(capsys, "rules", "cors-wildcard-origin")
    assert "\033[" not in doc


def test_rule_doc_conversions() -> None:
    text = "Use ``a`` here::\n\n    x: ``1``\n\nAfter.\n\n::\n\n    y\n"
    assert for_terminal(text) == "Use a here:\n\n    x: ``1``\n\nAfter.\n\n\n    y\n"
    assert to_markdown(text) == ("Use `a` here:\n\n```\nx: ``1``\n```\n\nAfter.\n\n\n```\ny\n"
                                 "```\n")
