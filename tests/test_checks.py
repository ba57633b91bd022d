"""The two entry points: ``validate_fleet`` (fleet mode) and ``lint_files`` (file mode)."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gwctl import api
from gwctl.errors import InputError, UsageError
from gwctl.fleet.model import Fleet, build_fleet
from gwctl.fleet.source import combine
from gwctl.fleet.yaml_reader import load_yaml_text
from gwctl.problems import Problem
from gwctl.render.appsettings import render_appsettings
from gwctl.render.bases import reference_base
from gwctl.render.nlog import render_nlog
from gwctl.rules import _cfg, registry
from gwctl.rules.runner import Rendered, lint_files, validate_fleet
from gwctl.rules.sources import BaseCache, rendered_duplicates, unflatten
from gwctl.versions.release import Version

ROOT = Path(__file__).resolve().parent.parent


def fleet_of(text: str) -> Fleet:
    source = combine([load_yaml_text(textwrap.dedent(text), file="fleet.yaml")], Path("."))
    fleet, problems = build_fleet(source)
    assert fleet is not None, problems
    return fleet


def write(tmp_path: Path, name: str, content: Any) -> str:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), "utf-8")
    return str(path)


def rules_of(problems: list[Problem]) -> list[str]:
    return [p.rule for p in problems if p.suppressed is None]


# -- lint_files -------------------------------------------------------------------------------


def test_bad_arguments_are_usage_errors(tmp_path: Path) -> None:
    f = write(tmp_path, "appsettings.Production.json", {})
    with pytest.raises(UsageError):
        lint_files([f], base=None, environment="staging")
    with pytest.raises(UsageError):
        lint_files([f], base=None, version="2025 R9")
    with pytest.raises(UsageError):
        lint_files([f], base=None, kind="yaml")
    with pytest.raises(UsageError):
        lint_files([f], base=None, only={"no-such-rule"})


def test_unreadable_files_raise_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        lint_files([str(tmp_path / "missing.json")], base=None)
    with pytest.raises(InputError):
        lint_files([write(tmp_path, "a.json", {})], base=str(tmp_path / "missing.json"))


def test_a_broken_base_is_reported_and_the_override_still_linted(tmp_path: Path) -> None:
    base = write(tmp_path, "appsettings.json", '{"Logging": {,}}')
    over = write(tmp_path, "appsettings.Production.json",
                 {"Logging": {"LogLevel": {"Default": "Loud"}}})
    problems = lint_files([over], base=base)
    assert {(p.rule, Path(p.file or "").name) for p in problems} == {
        ("json-syntax", "appsettings.json"), ("log-level-value", "appsettings.Production.json")}


def test_stock_routes_come_from_the_real_base(tmp_path: Path) -> None:
    base = write(tmp_path, "appsettings.json", {"ReverseProxy": {
        "Routes": {"api": {"ClusterId": "c", "Match": {"Path": "/api/{**rest}"}}},
        "Clusters": {"c": {"Destinations": {"d": {"Address": "https://x/"}}}}}})
    over = write(tmp_path, "appsettings.Production.json", {"ReverseProxy": {"Routes": {
        "mine": {"ClusterId": "c", "Order": -5, "Match": {"Path": "/{**all}"}}}}})
    problems = lint_files([over], base=base)
    assert rules_of(problems) == ["route-shadows-stock"]
    assert "'api'" in problems[0].message
    # the bundled base has no 'api' route but many others under '/'
    bundled = [p for p in lint_files([over], base=None) if p.rule == "route-shadows-stock"]
    assert len(bundled) == 1 and "'api'" not in bundled[0].message


def test_appsettings_json_alone_is_linted_without_a_base_underneath(tmp_path: Path) -> None:
    text = reference_base_text_2025()
    path = write(tmp_path, "appsettings.json", text)
    assert lint_files([path], base=None) == []


def reference_base_text_2025() -> str:
    from gwctl.render.bases import reference_base_text

    return reference_base_text(Version.parse("2025 R2"), "https://ms", "https://ms")


def test_kind_by_name_sniffing_and_override(tmp_path: Path) -> None:
    xml = '<nlog><rules><logger name="*" writeTo="nowhere"/></rules></nlog>'
    assert rules_of(lint_files([write(tmp_path, "nlog.txt", xml)], base=None)) == [
        "nlog-unknown-target"]
    json_text = '{"Logging": {"LogLevel": {"Yarp": "Loud"}}}'
    assert rules_of(lint_files([write(tmp_path, "prod.config", json_text)], base=None,
                               kind="appsettings")) == ["log-level-value"]


def test_encryption_is_inferred_from_the_files(tmp_path: Path) -> None:
    http_dest = {"vendor": {"Destinations": {"d": {"Address": "http://vendor/"}}}}
    secure = {"ReverseProxy": {"Clusters": {
        "managementserver": {"Destinations": {"hostname": {"Address": "https://ms/"}}},
        **http_dest}}}
    plain = {"ReverseProxy": {"Clusters": http_dest}}
    assert rules_of(lint_files([write(tmp_path, "a.json", secure)], base=None)) == [
        "cluster-destination-http"]
    assert rules_of(lint_files([write(tmp_path, "b.json", plain)], base=None)) == []


def test_positions_point_into_the_file(tmp_path: Path) -> None:
    text = ('{\n  "CORS": {\n    "Enabled": true,\n'
            '    "Access-Control-Allow-Origin": "https://a.example,http://b.example/",\n'
            '    "Access-Control-Allow-Headers": "Authorization,Content-Type",\n'
            '    "Access-Control-Allow-Methods": "*"\n  }\n}\n')
    (p,) = lint_files([write(tmp_path, "appsettings.Production.json", text)], base=None)
    assert (p.rule, p.line, p.column, p.path) == (
        "cors-origin-format", 4, 55, "/CORS/Access-Control-Allow-Origin")
    assert p.column is not None
    assert text.splitlines()[3][p.column - 1:].startswith("http://b.example/")


def test_only_limits_the_rules(tmp_path: Path) -> None:
    f = write(tmp_path, "appsettings.Production.json", {"CORS": {
        "Enabled": True, "Access-Control-Allow-Origin": "*"}})
    assert set(rules_of(lint_files([f], base=None))) == {"cors-wildcard-origin",
                                                         "cors-browser-client"}
    assert set(rules_of(lint_files([f], base=None, only={"cors-browser-client"}))) == {
        "cors-browser-client"}


# -- validate_fleet ------------------------------------------------------------------------------

TWO_SITES = """
    sites:
      hq:
        management_server: {host: ms.example.com, version: "2025 R2", encryption: true}
        settings:
          cors:
            enabled: true
            # 'null' is a wildcard anywhere in the list ('*' only alone)
            allow_origins: ["null", "https://portal.example.com/"]
            allow_headers: [Authorization, Content-Type]
            allow_methods: [GET, POST, PATCH]
        gateways:
          gw1: {host: ms.example.com}
          gw2: {host: gw2.example.com, settings: {environment: development}}
          gw3: {host: gw3.example.com}
"""


def test_a_site_setting_is_reported_once_with_every_gateway_it_affects() -> None:
    problems = validate_fleet(fleet_of(TWO_SITES))
    wildcard = [p for p in problems if p.rule == "cors-wildcard-origin"]
    assert len(wildcard) == 1
    assert wildcard[0].subject == "hq/gw1"
    assert wildcard[0].extra["subjects"] == ["hq/gw1", "hq/gw3"]  # gw2 is development
    assert wildcard[0].path == "/sites/hq/settings/cors/allow_origins/0"
    fmt = [p for p in problems if p.rule == "cors-origin-format"]
    assert fmt[0].path == "/sites/hq/settings/cors/allow_origins/1"
    assert fmt[0].extra["subjects"] == ["hq/gw1", "hq/gw2", "hq/gw3"]


def test_rendered_files_can_be_passed_in() -> None:
    result = api.load(ROOT / "examples" / "fleet.yaml")
    assert result.fleet is not None
    fleet = result.fleet
    rendered = {gw.id: Rendered(render_appsettings(gw),
                                render_nlog(gw) if "nlog" in gw.settings else None)
                for gw in fleet.gateways()}
    assert validate_fleet(fleet, rendered=rendered) == validate_fleet(fleet)


def test_suppressions_keep_the_problem_with_its_reason_in_json() -> None:
    fleet = fleet_of(TWO_SITES.replace(
        'allow_origins: ["null", "https://portal.example.com/"]',
        'allow_origins: ["*"]  # gwctl: disable=cors-wildcard-origin -- kiosk'))
    (p,) = [p for p in validate_fleet(fleet) if p.rule == "cors-wildcard-origin"]
    assert p.suppressed == "kiosk"
    data = p.to_json()
    assert data["suppressed"] is True and data["reason"] == "kiosk"


def test_levels_and_disabling_from_the_rules_section() -> None:
    text = "rules:\n  cors-wildcard-origin: {level: warning}\n  cors-origin-format: " \
           "{enabled: false, reason: migrating}\n" + textwrap.dedent(TWO_SITES)
    problems = validate_fleet(fleet_of(text))
    (w,) = [p for p in problems if p.rule == "cors-wildcard-origin"]
    assert str(w.level) == "warning"
    (f,) = [p for p in problems if p.rule == "cors-origin-format"]
    assert f.suppressed == "disabled in rules: migrating"


def test_only_and_unknown_ids() -> None:
    fleet = fleet_of(TWO_SITES)
    assert set(rules_of(validate_fleet(fleet, only={"cors-origin-format"}))) == {
        "cors-origin-format"}
    with pytest.raises(UsageError):
        validate_fleet(fleet, only={"cors-origin"})


def test_a_crashing_rule_is_an_internal_error_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    from gwctl.rules import cors_origin_format

    def boom(target: Any, options: Any) -> Iterator[Problem]:
        raise KeyError("surprise")
        yield  # pragma: no cover

    monkeypatch.setattr(cors_origin_format, "check", boom)
    problems = validate_fleet(fleet_of(TWO_SITES))
    internal = [p for p in problems if p.rule == "internal-error"]
    assert internal and "cors-origin-format" in internal[0].message


def test_unknown_target_in_rendered_nlog_points_at_the_rule() -> None:
    fleet = fleet_of("""
        sites:
          s:
            management_server: {host: ms, version: "2025 R2"}
            gateways:
              g:
                host: ms
                settings:
                  nlog:
                    rules: [{logger: "*", write_to: "logfile,console"}]
    """)
    (p,) = validate_fleet(fleet)
    assert (p.rule, p.path, p.line) == ("nlog-unknown-target",
                                        "/sites/s/gateways/g/settings/nlog/rules/0/write_to", 10)


def test_raw_escape_hatch_keys_are_located_in_appsettings() -> None:
    fleet = fleet_of("""
        sites:
          s:
            management_server: {host: ms, version: "2025 R2"}
            gateways:
              g:
                host: ms
                settings:
                  appsettings:
                    ReverseProxy:
                      Routes:
                        raw: {ClusterId: nowhere, Match: {Path: "/raw/{**x}"}}
    """)
    (p,) = validate_fleet(fleet)
    assert p.rule == "route-cluster-unknown"
    assert p.path == "/sites/s/gateways/g/settings/appsettings/ReverseProxy/Routes/raw/ClusterId"


# -- building blocks ----------------------------------------------------------------------------


@pytest.mark.parametrize("release", ["2025 R2", "2024 R1", "2023 R2", "2022 R2"])
def test_base_cache_equals_the_reference_base(release: str) -> None:
    version = Version.parse(release)
    cached = BaseCache().tree(version, "https://ms.example.com", "https://gw.example.com")
    direct = unflatten(reference_base(version, "https://ms.example.com",
                                      "https://gw.example.com"))
    assert cached == direct


def test_colliding_rendered_keys_are_duplicates_and_read_as_the_gateway_reads_them() -> None:
    dups, tree = rendered_duplicates({"Logging": {"LogLevel": {"Yarp": "Warning"}},
                                      "Logging:LogLevel": {"yarp": "Debug", "Default": "x"}})
    assert [d.key for d in dups] == ["Logging:LogLevel:yarp"]
    assert _cfg.walk(tree, ("Logging", "LogLevel", "Default")) == "x"
    assert rendered_duplicates({"a": {"b": 1}}) == ([], {"a": {"b": 1}})


def test_registry_covers_fleet_and_gateway_rules() -> None:
    reg = registry()
    assert {"gateway-name-duplicate", "gateway-host-duplicate"} <= {r.ID for r in reg.fleet}
    assert len(reg.gateway) >= 30


def test_messages_never_show_credentials(tmp_path: Path) -> None:
    base = write(tmp_path, "appsettings.json", {"WebRTC": {"iceServers": [
        {"url": "stun:a.example"},
        {"url": "turns:t.example", "username": "gw", "credential": "hunter2"}]}})
    over = write(tmp_path, "appsettings.Production.json",
                 {"WebRTC": {"iceServers": [{"url": "stun:b.example"}]}})
    problems = lint_files([over], base=base)
    assert rules_of(problems) == ["array-shorter-than-base"]
    assert "hunter2" not in json.dumps([p.to_json() for p in problems])
