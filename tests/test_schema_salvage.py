"""A schema error no longer hides semantic ones: each schema-invalid fleet of the bad-input
corpus, with a second site that has a CORS wildcard, reports both, sorted by location,
and no rule crashes on what was left."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_bad_input_corpus import FLEET, SCHEMA_BREAKS, SETTINGS_BREAKS

from gwctl import api
from gwctl.cli.main import main

#: a second site, schema-valid, with a semantic error the rules must still report
SECOND_SITE = """\
  t:
    management_server: {host: m, version: "2025 R2", encryption: true}
    gateways:
      m:
        host: m
        settings:
          cors: {enabled: true, allow_origins: ["*"]}
"""
#: breaks at the document's root or its apiVersion: nothing is judged beyond the schema
WHOLE_DOCUMENT = {"apiversion", "sites-list"}


def _edits() -> dict[str, tuple[str, str, int]]:
    edits = dict(SCHEMA_BREAKS)
    for name, setting in SETTINGS_BREAKS.items():
        edits[name] = ("          logging:\n", f"          {setting}\n          logging:\n", 9)
    return edits


EDITS = _edits()


@pytest.mark.parametrize("name", sorted(EDITS))
def test_schema_and_semantic_problems_print_together(name: str, tmp_path: Path) -> None:
    old, new, line = EDITS[name]
    text = FLEET.replace(old, new, 1) + SECOND_SITE
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(text)
    result = api.validate(fleet)
    assert result.fleet is None  # nothing renders or deploys from an invalid fleet
    rules = [p.rule for p in result.problems]
    assert "internal-error" not in rules
    # a release name the schema accepts but no release has is the model's finding
    blamed = [p for p in result.problems if p.rule in ("schema", "version-syntax")]
    assert blamed and any(p.line == line for p in blamed)
    wildcard = [p for p in result.problems if p.rule == "cors-wildcard-origin"]
    if name in WHOLE_DOCUMENT:
        assert not wildcard
    else:
        (p,) = wildcard
        assert p.subject == "t/m" and p.line == text.splitlines().index(
            '          cors: {enabled: true, allow_origins: ["*"]}') + 1
    assert result.problems == sorted(result.problems, key=lambda p: p.sort_key())


def test_cli_prints_every_problem_sorted(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    fleet = tmp_path / "fleet.yaml"
    text = FLEET.replace("encryption: true", "encryption: maybe", 1) + SECOND_SITE
    fleet.write_text(text)
    cors_line = text.splitlines().index(
        '          cors: {enabled: true, allow_origins: ["*"]}') + 1
    assert main(["validate", "-f", str(fleet), "--output", "json"]) == 1
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert [(p["rule"], p["line"]) for p in problems if p["level"] == "error"] == [
        ("schema", 4), ("cors-wildcard-origin", cors_line)]
    assert main(["validate", "-f", str(fleet)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{fleet}:4:") and out[0].endswith("(schema)")
    assert any(line.startswith(f"{fleet}:{cors_line}:")
               and line.endswith("(cors-wildcard-origin)") for line in out)


def test_problems_about_removed_parts_are_not_invented(tmp_path: Path) -> None:
    # the only gateway of site s is schema-invalid: the site is not reported as having no
    # gateway (version-site-needs-gateway) because its gateway was set aside
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(FLEET.replace("        host: h\n", "        host: 7\n", 1) + SECOND_SITE)
    result = api.validate(fleet)
    about_s = [p for p in result.problems if p.rule != "schema"
               and (p.subject or "").startswith("s")]
    assert about_s == []
    assert [p.rule for p in result.problems if p.level.value == "error"] == [
        "schema", "cors-wildcard-origin"]
