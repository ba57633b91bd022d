"""Golden examples: ``tests/examples/{positive,negative}/<case>/``, discovered by one test.

A case is a directory holding either a ``fleet.yaml`` (``gwctl validate``; with a
``hosts.json`` -- gateway id -> what the ``read_host`` operation found there -- also the
``host-*`` rules, as the commands that read hosts run them) or live files (``gwctl
lint-file``), and an ``expect.yaml``::

    description: what the case shows
    covers: [rule-id, ...]         # rules this case proves passing (positive) / failing
    problems:                      # exactly the active problems expected
      - {rule: cors-origin-format, line: 4}          # optional: file, level, message
                                                     # (a part of the problem's text)
    suppressed:                    # problems expected to be reported as suppressed
      - {rule: cors-wildcard-origin, line: 9, reason: kiosk demo}
    # file mode only
    files: [appsettings.Production.json]   # default: every file but expect.yaml and base
    base: appsettings.json
    environment: development
    version: "2023 R2"
    nlog_version: 6
    dotnet_version: 10                     # the gateway's .NET (default: the release's)

Positive cases must have no active error; negative cases must report every rule they
cover. A separate test checks that every rule has at least one case of each kind.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from gwctl import api
from gwctl.iis.hostinfo import HostInfo
from gwctl.problems import Level, Problem
from gwctl.rules import all_rules
from gwctl.rules.runner import lint_files, validate_fleet, validate_hosts

EXAMPLES = Path(__file__).parent / "examples"
CASES = sorted(p for kind in ("positive", "negative") for p in (EXAMPLES / kind).iterdir()
               if p.is_dir())


def load_expect(case: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((case / "expect.yaml").read_text("utf-8")) or {}
    return data


def run_case(case: Path, expect: dict[str, Any]) -> list[Problem]:
    fleet_file = case / "fleet.yaml"
    if fleet_file.exists():
        result = api.load(fleet_file)
        assert result.fleet is not None, [p.message for p in result.problems]
        found = result.problems + validate_fleet(result.fleet)
        hosts_file = case / "hosts.json"
        if hosts_file.exists():
            raw = json.loads(hosts_file.read_text("utf-8"))
            found += validate_hosts(result.fleet, {gw: HostInfo.from_result(facts)
                                                   for gw, facts in raw.items()})
        return sorted(found, key=Problem.sort_key)
    base = expect.get("base")
    names = expect.get("files") or sorted(
        p.name for p in case.iterdir() if p.is_file() and p.name not in ("expect.yaml", base))
    return lint_files([str(case / n) for n in names],
                      base=str(case / base) if base else None,
                      environment=expect.get("environment", "production"),
                      version=expect.get("version"),
                      nlog_version=int(expect.get("nlog_version", 5)),
                      dotnet_version=expect.get("dotnet_version"))


def _key(p: Problem, with_file: bool) -> tuple[Any, ...]:
    return (p.rule, p.line, Path(p.file).name if (with_file and p.file) else None)


def _expected(items: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    return Counter((i["rule"], i.get("line"), i.get("file")) for i in items)


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_example(case: Path) -> None:
    expect = load_expect(case)
    problems = run_case(case, expect)
    active = [p for p in problems if p.suppressed is None]
    want = expect.get("problems") or []
    with_file = any("file" in i for i in want)
    got = Counter(_key(p, with_file) for p in active)
    shown = "\n".join(f"  {p.file}:{p.line}:{p.column} [{p.level}] {p.rule}: {p.message}"
                      for p in problems)
    assert got == _expected(want), f"problems differ from expect.yaml:\n{shown}"
    for item in want:
        if "level" in item:
            assert any(p.rule == item["rule"] and p.line == item.get("line")
                       and str(p.level) == item["level"] for p in active), item
        if "message" in item:
            assert any(p.rule == item["rule"] and p.line == item.get("line")
                       and item["message"] in p.message for p in active), (item, shown)
    if "suppressed" in expect:
        gone = [p for p in problems if p.suppressed is not None]
        assert Counter(_key(p, False) for p in gone) == _expected(expect["suppressed"]), shown
        for item in expect["suppressed"]:
            if "reason" in item:
                assert any(item["reason"] in (p.suppressed or "") for p in gone), item
    covers = expect.get("covers") or []
    assert covers, "a case names the rules it covers"
    if case.parent.name == "positive":
        assert not [p for p in active if p.level is Level.ERROR], shown
        assert not [p for p in active if p.rule in covers], shown
    else:
        assert all(any(p.rule == r for p in problems) for r in covers), shown
    assert all(p.rule != "internal-error" for p in problems), shown


def test_every_rule_has_a_positive_and_a_negative_case() -> None:
    covered: dict[str, set[str]] = {"positive": set(), "negative": set()}
    for case in CASES:
        covered[case.parent.name].update(load_expect(case).get("covers") or [])
    # These two only fire on what discovery found on the hosts (-i INVENTORY), which a
    # case cannot express (it is a fleet or live files, nothing more): tests/
    # test_version_rules.py covers them, with discovery, table-driven.
    needs_discovery = {"version-declared-vs-discovered", "version-discovery-failed"}
    assert needs_discovery <= {r.ID for r in all_rules()}
    ids = {r.ID for r in all_rules()} - needs_discovery
    assert ids - covered["positive"] == set(), "rules without a positive case"
    assert ids - covered["negative"] == set(), "rules without a negative case"
    unknown = (covered["positive"] | covered["negative"]) - {r.ID for r in all_rules()}
    assert not unknown, f"cases cover unknown rules: {unknown}"
