"""Version rules, table-driven at the boundary releases, and the apply gate's reasons.

Each row is one site: the management server's declared version, its gateways, optionally
what discovery found, and exactly the findings expected (``rule@subject``). Rows cover
every rule on both sides of its boundary release and the cases people get wrong: a
co-located gateway counted as remote, a site with only remote gateways on 2024 R2, a
gateway one release ahead after a half-finished upgrade.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from gwctl.deploy.gate import ApplyGate, gate_reasons
from gwctl.fleet.colocation import same_host
from gwctl.fleet.model import Fleet, build_fleet
from gwctl.fleet.source import combine
from gwctl.fleet.yaml_reader import load_yaml_text
from gwctl.ops.batch import Step
from gwctl.problems import Level, active
from gwctl.rules import get_rule, version_rule_ids
from gwctl.rules.runner import validate_versions
from gwctl.transport.base import Transport
from gwctl.versions.discovery import (
    SOURCE_REGISTRY,
    SOURCE_SERVER_CONFIG,
    SOURCE_WELL_KNOWN,
    Discovery,
    GatewayDiscovery,
    Reading,
    SiteDiscovery,
)
from gwctl.versions.release import Version
from gwctl.versions.requirements import missing, requirements
from gwctl.versions.state import site_states

pytestmark = pytest.mark.timeout(60)

MS_HOST = "ms.example.com"
BOUNDARIES = ("2022 R1", "2022 R3", "2023 R1", "2023 R3", "2024 R2", "2025 R1", "2025 R2")

ABSENT = "absent"  # discovery: the host answers, no gateway installed
UNREACHABLE = "unreachable"  # discovery: the host does not answer


def make_fleet(ms: str, gateways: dict[str, dict[str, Any]], *, site: str = "s",
               settings: dict[str, Any] | None = None, rules: dict[str, Any] | None = None
               ) -> Fleet:
    doc: dict[str, Any] = {"apiVersion": "gwctl/v1", "sites": {site: {
        "management_server": {"host": MS_HOST, "version": ms},
        "gateways": gateways}}}
    if settings:
        doc["sites"][site]["settings"] = settings
    if rules:
        doc["rules"] = rules
    text = yaml.safe_dump(doc, sort_keys=False)
    source = combine([load_yaml_text(text, file="fleet.yaml")], Path("."))
    fleet, problems = build_fleet(source)
    assert fleet is not None, problems
    return fleet


@dataclass
class Found:
    """What discovery found on a site (None fields: that source did not answer)."""

    server_config: str | None = None  # ServerConfig.xml version on the co-located host
    well_known: str | None = None
    gateways: dict[str, str] = field(default_factory=dict)  # name -> version|ABSENT|...
    server_config_on: str | None = None  # gateway whose host has ServerConfig.xml


def discovery_for(fleet: Fleet, found: Found) -> Discovery:
    site = fleet.sites[0]
    sd = SiteDiscovery(site.name)
    for gw in site.gateways:
        raw = found.gateways.get(gw.name)
        g = GatewayDiscovery(gw.id, gw.name)
        if raw == UNREACHABLE:
            g.error = "connection refused"
        else:
            g.reachable = True
            g.install_dir_exists = raw != ABSENT
            g.installed = raw != ABSENT
            if raw not in (None, ABSENT):
                g.reading = Reading(SOURCE_REGISTRY, gw.name, Version.parse(raw), raw)
            g.server_config_found = found.server_config_on == gw.name
            if g.server_config_found and found.server_config:
                g.server_config = Reading(SOURCE_SERVER_CONFIG, gw.name,
                                          Version.parse(found.server_config),
                                          found.server_config)
                sd.readings.append(g.server_config)
        sd.gateways[gw.id] = g
    if found.well_known:
        sd.readings.append(Reading(SOURCE_WELL_KNOWN, "http://x/api/.well-known/uris",
                                   Version.parse(found.well_known), found.well_known))
    else:
        sd.readings.append(Reading(SOURCE_WELL_KNOWN, "http://x/api/.well-known/uris",
                                   error="ConnectError"))
    return Discovery({site.name: sd})


COLO = {"host": MS_HOST}


def remote(name: str, version: str | None = None, **kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"host": f"{name}.example.com", **kw}
    if version is not None:
        data["version"] = version
    return data


@dataclass
class Row:
    id: str
    ms: str
    gateways: dict[str, dict[str, Any]]
    expected: set[str]
    found: Found | None = None


ROWS = [
    # -- 2022 R1: the first API Gateway release; the pre-release before it ----------------
    Row("2022R1-colocated-ok", "2022 R1", {"g1": COLO}, set()),
    Row("2022R1-no-gateway-ok", "2022 R1", {}, set()),
    Row("2021R2-ms-below-minimum-and-prerelease", "2021 R2", {"g1": COLO},
        {"version-below-minimum@s", "version-prerelease-gateway@s/g1"}),
    Row("2021R1-ms-below-minimum", "2021 R1", {"g1": COLO}, {"version-below-minimum@s"}),
    Row("2022R1-prerelease-gateway", "2022 R1", {"g1": {**COLO, "version": "2021 R2"}},
        {"version-prerelease-gateway@s/g1"}),
    Row("2022R1-gateway-before-any-release", "2022 R1",
        {"g1": COLO, "g2": remote("g2", "2021 R1")}, {"version-below-minimum@s/g2"}),
    Row("2022R1-gateway-ahead", "2022 R1", {"g1": COLO, "g2": remote("g2", "2022 R2")},
        {"version-gateway-ahead@s/g2"}),
    # -- 2022 R3 / 2023 R1: no version-match rule yet -------------------------------------
    Row("2022R3-remote-behind-allowed", "2022 R3", {"g1": COLO, "g2": remote("g2", "2022 R2")},
        set()),
    Row("2023R1-no-gateway-allowed", "2023 R1", {}, set()),
    Row("2023R2-remote-behind-allowed", "2023 R2",
        {"g1": COLO, "g2": remote("g2", "2023 R1")}, set()),
    Row("2023R2-no-gateway-allowed", "2023 R2", {}, set()),
    # -- 2023 R3: a gateway is mandatory and versions must match ---------------------------
    Row("2023R3-no-gateway", "2023 R3", {}, {"version-site-without-gateway@s"}),
    Row("2023R3-remote-behind", "2023 R3", {"g1": COLO, "g2": remote("g2", "2023 R2")},
        {"version-gateway-behind@s/g2"}),
    Row("2023R3-only-remote-allowed", "2023 R3", {"g2": remote("g2")}, set()),
    # -- 2024 R2: a gateway on the management server host is mandatory ---------------------
    Row("2024R1-only-remote-allowed", "2024 R1", {"g2": remote("g2"), "g3": remote("g3")},
        set()),
    Row("2024R2-only-remote-gateways", "2024 R2", {"g2": remote("g2"), "g3": remote("g3")},
        {"version-no-colocated-gateway@s"}),
    Row("2024R2-no-gateway-one-finding", "2024 R2", {}, {"version-site-without-gateway@s"}),
    Row("2024R2-colocated-counted-as-remote", "2024 R2",
        {"g1": {"host": "MS.Example.COM.", "colocated": False}, "g2": remote("g2")},
        {"version-colocation@s/g1"}),
    Row("2024R2-colocated-short-name", "2024 R2", {"g1": {"host": "ms"}, "g2": remote("g2")},
        set()),
    Row("2024R2-colocated-declared-alias", "2024 R2",
        {"g1": {"host": "10.0.0.5", "colocated": True}}, set()),
    Row("2024R2-colocated-by-serverconfig", "2024 R2",
        {"g1": {"host": "10.0.0.5"}, "g2": remote("g2")}, {"version-colocation@s/g1"},
        Found(server_config="24.2.100.1", server_config_on="g1",
              gateways={"g1": "24.2.100.1", "g2": "24.2.100.1"})),
    Row("2024R2-remote-by-evidence", "2024 R2",
        {"g1": {"host": "10.0.0.5", "colocated": True}, "g2": remote("g2")},
        {"version-colocation@s/g1", "version-colocation@s/g2"},
        Found(server_config="24.2.100.1", server_config_on="g2",
              gateways={"g1": "24.2.100.1", "g2": "24.2.100.1"})),
    # -- 2025 R1: half-finished upgrades --------------------------------------------------
    Row("2025R1-gateway-one-release-ahead-discovered", "2025 R1",
        {"g1": COLO, "g2": remote("g2")}, {"version-gateway-ahead@s/g2"},
        Found(server_config="25.1.10.1", server_config_on="g1",
              gateways={"g1": "25.1.10.1", "g2": "25.2.20.1"})),
    Row("2025R1-gateway-one-release-ahead-declared", "2025 R1",
        {"g1": COLO, "g2": remote("g2", "2025 R2")}, {"version-gateway-ahead@s/g2"}),
    Row("2025R1-in-step", "2025 R1", {"g1": COLO, "g2": remote("g2", "2025 R1")}, set()),
    # -- 2025 R2: the management server upgraded, a remote gateway left behind ------------
    Row("2025R2-half-upgraded-remote-behind", "2025 R2", {"g1": COLO, "g2": remote("g2")},
        {"version-gateway-behind@s/g2"},
        Found(server_config="25.2.20.1", well_known="25.2.20.1", server_config_on="g1",
              gateways={"g1": "25.2.20.1", "g2": "25.1.10.1"})),
    Row("2025R2-colocated-behind", "2025 R2", {"g1": COLO, "g2": remote("g2")},
        {"version-gateway-behind@s/g1"},
        Found(well_known="25.2.20.1", server_config="25.2.20.1", server_config_on="g1",
              gateways={"g1": "25.1.10.1", "g2": "25.2.20.1"})),
    Row("2025R2-ms-declared-stale", "2025 R1", {"g1": COLO},
        {"version-declared-vs-discovered@s"},
        Found(server_config="25.2.20.1", server_config_on="g1", gateways={"g1": "25.2.20.1"})),
    Row("2025R2-gateway-declared-stale", "2025 R2",
        {"g1": COLO, "g2": remote("g2", "2025 R1")}, {"version-declared-vs-discovered@s/g2"},
        Found(server_config="25.2.20.1", server_config_on="g1",
              gateways={"g1": "25.2.20.1", "g2": "25.2.20.1"})),
    Row("2025R2-build-declared-differs", "2025 R2",
        {"g1": COLO, "g2": remote("g2", "25.2.20.1")}, {"version-declared-vs-discovered@s/g2"},
        Found(server_config="25.2.20.1", server_config_on="g1",
              gateways={"g1": "25.2.20.1", "g2": "25.2.20.2"})),
    Row("2025R2-build-declared-same", "2025 R2", {"g1": COLO, "g2": remote("g2", "25.2.20.1")},
        set(), Found(server_config="25.2.20.1", server_config_on="g1",
                     gateways={"g1": "25.2.20.1", "g2": "25.2.20.1"})),
    Row("2025R2-gateway-not-installed", "2025 R2", {"g1": COLO, "g2": remote("g2")},
        {"version-declared-vs-discovered@s/g2"},
        Found(server_config="25.2.20.1", server_config_on="g1",
              gateways={"g1": "25.2.20.1", "g2": ABSENT})),
    Row("2025R2-only-gateway-not-installed", "2025 R2", {"g1": COLO},
        {"version-declared-vs-discovered@s/g1", "version-site-without-gateway@s"},
        Found(well_known="25.2.20.1", server_config="25.2.20.1", server_config_on="g1",
              gateways={"g1": ABSENT})),
    Row("2025R2-gateway-unreachable", "2025 R2", {"g1": COLO, "g2": remote("g2")},
        {"version-discovery-failed@s/g2"},
        Found(server_config="25.2.20.1", server_config_on="g1",
              gateways={"g1": "25.2.20.1", "g2": UNREACHABLE})),
    Row("2025R2-ms-unknown", "2025 R2", {"g2": remote("g2"), "g1": remote("g1")},
        {"version-discovery-failed@s", "version-no-colocated-gateway@s"},
        Found(gateways={"g1": "25.2.20.1", "g2": "25.2.20.1"})),
    Row("2025R2-ms-sources-disagree", "2025 R2", {"g1": COLO},
        {"version-declared-vs-discovered@s"},
        Found(server_config="25.2.20.1", well_known="25.1.10.1", server_config_on="g1",
              gateways={"g1": "25.2.20.1"})),
    Row("2025R2-all-good-discovered", "2025 R2", {"g1": COLO, "g2": remote("g2")}, set(),
        Found(server_config="25.2.20.1", well_known="25.2.20.1", server_config_on="g1",
              gateways={"g1": "25.2.20.1", "g2": "25.2.20.1"})),
]


def findings(row: Row) -> tuple[set[str], list[Any]]:
    fleet = make_fleet(row.ms, row.gateways)
    disc = discovery_for(fleet, row.found) if row.found is not None else None
    problems = validate_versions(fleet, disc)
    return {f"{p.rule}@{p.subject}" for p in problems}, problems


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_rule_table(row: Row) -> None:
    got, problems = findings(row)
    assert got == row.expected, [p.message for p in problems]
    for p in problems:
        assert p.file == "fleet.yaml" and p.line is not None, p
        assert p.level is get_rule(p.rule).LEVEL


def test_table_covers_every_rule_and_boundary() -> None:
    fired = {e.split("@")[0] for r in ROWS for e in r.expected}
    assert fired == set(version_rule_ids())
    releases = {Version.parse(r.ms).name for r in ROWS}
    assert set(BOUNDARIES) <= releases


# -- every boundary release x the site shapes people get wrong ------------------------------
#
# Columns: no gateway; only a remote gateway; co-located + a remote gateway one release
# behind; co-located + a remote gateway one release ahead; the same "behind" learnt from
# discovery (the fleet declares nothing but the management server); a co-located gateway
# written as another host spelling (MS.EXAMPLE.COM.) with colocated: false.
SW, NC, BH, AH, PR, CL = ("version-site-without-gateway@s", "version-no-colocated-gateway@s",
                          "version-gateway-behind@s/g2", "version-gateway-ahead@s/g2",
                          "version-prerelease-gateway@s/g2", "version-colocation@s/g1")
MATRIX: dict[str, tuple[set[str], ...]] = {
    #            none   remote  behind      ahead  behind(found) colocated-as-remote
    "2022 R1": (set(), set(), {PR}, {AH}, {PR}, {CL}),
    "2022 R3": (set(), set(), set(), {AH}, set(), {CL}),
    "2023 R1": (set(), set(), set(), {AH}, set(), {CL}),
    "2023 R3": ({SW}, set(), {BH}, {AH}, {BH}, {CL}),
    "2024 R2": ({SW}, {NC}, {BH}, {AH}, {BH}, {CL}),
    "2025 R1": ({SW}, {NC}, {BH}, {AH}, {BH}, {CL}),
    "2025 R2": ({SW}, {NC}, {BH}, {AH}, {BH}, {CL}),
}


def _shapes(release: str) -> list[tuple[dict[str, dict[str, Any]], Found | None]]:
    v = Version.parse(release)
    prev, nxt = v.previous_release(), v.next_release()
    full = f"{v.product}.10.1"
    return [
        ({}, None),
        ({"g2": remote("g2")}, None),
        ({"g1": COLO, "g2": remote("g2", prev.name)}, None),
        ({"g1": COLO, "g2": remote("g2", nxt.name)}, None),
        ({"g1": COLO, "g2": remote("g2")},
         Found(server_config=full, server_config_on="g1",
               gateways={"g1": full, "g2": f"{prev.product}.10.1"})),
        ({"g1": {"host": "MS.EXAMPLE.COM.", "colocated": False}, "g2": remote("g2")}, None),
    ]


@pytest.mark.parametrize("release", BOUNDARIES)
def test_boundary_matrix(release: str) -> None:
    for column, ((gateways, found), expected) in enumerate(
            zip(_shapes(release), MATRIX[release], strict=True)):
        row = Row(f"{release}/{column}", release, gateways, expected, found)
        got, problems = findings(row)
        assert got == expected, (release, column, [p.message for p in problems])


def test_behind_says_which_side_moves_and_how() -> None:
    row = next(r for r in ROWS if r.id == "2025R2-half-upgraded-remote-behind")
    (p,) = findings(row)[1]
    assert p.extra["move"] == "gateway"
    assert "upgrade the gateway to 2025 R2" in p.message
    assert "API Gateway installer" in p.message and "25.1.10.1" in p.message
    row = next(r for r in ROWS if r.id == "2025R2-colocated-behind")
    (p,) = findings(row)[1]
    assert "XProtect VMS Products installer" in p.message


def test_ahead_says_the_management_server_moves_first() -> None:
    row = next(r for r in ROWS if r.id == "2025R1-gateway-one-release-ahead-discovered")
    (p,) = findings(row)[1]
    assert p.extra["move"] == "management_server"
    assert "management server must be upgraded to 2025 R2 first" in p.message


def test_declared_version_points_at_the_version_key() -> None:
    fleet = make_fleet("2025 R2", {"g1": COLO, "g2": remote("g2", "2025 R1")})
    (p,) = validate_versions(fleet)
    assert p.path == "/sites/s/gateways/g2/version"
    loc = fleet.source.locate("/sites/s/gateways/g2/version")
    assert (p.file, p.line, p.column) == (loc.file, loc.line, loc.column)
    assert loc.line is not None and loc.line > 1


def test_rule_modules_are_documented_fleet_rules() -> None:
    for rule_id in version_rule_ids():
        mod = importlib.import_module("gwctl.rules." + rule_id.replace("-", "_"))
        assert mod is get_rule(rule_id)
        doc = mod.__doc__ or ""
        assert "PASS" in doc and "FAIL" in doc and "Source:" in doc, rule_id
        assert frozenset({"fleet"}) == mod.MODES


def test_rule_module_check_runs_on_a_fleet_scope() -> None:
    from gwctl.rules import version_no_colocated_gateway as rule
    from gwctl.rules.target import FleetScope

    fleet = make_fleet("2024 R2", {"g2": remote("g2")})
    problems = list(rule.check(FleetScope(fleet), {}))
    assert [p.rule for p in problems] == ["version-no-colocated-gateway"]


def test_rules_config_and_inline_suppression() -> None:
    fleet = make_fleet("2025 R2", {"g1": COLO, "g2": remote("g2", "2025 R1")},
                       rules={"version-gateway-behind": {"level": "warning"}})
    (p,) = validate_versions(fleet)
    assert p.level is Level.WARNING
    fleet = make_fleet("2025 R2", {"g1": COLO, "g2": remote("g2", "2025 R1")},
                       rules={"version-gateway-behind": {"enabled": False, "reason": "CHG-7"}})
    (p,) = validate_versions(fleet)
    assert p.suppressed == "disabled in rules: CHG-7" and not active([p])
    text = f"""
sites:
  s:
    management_server: {{host: {MS_HOST}, version: "2025 R2"}}
    gateways:
      g1: {{host: {MS_HOST}}}
      g2: {{host: g2, version: "2025 R1"}}  # gwctl: disable=version-gateway-behind -- CHG-42
"""
    source = combine([load_yaml_text(text, file="fleet.yaml")], Path("."))
    fleet2, _ = build_fleet(source)
    assert fleet2 is not None
    (p,) = validate_versions(fleet2)
    assert p.suppressed == "CHG-42"


# -- co-location -------------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("ms.example.com", "MS.EXAMPLE.COM.", "exact"),
    ("ms", "ms.example.com", "short"),
    ("ms.example.com", "ms", "short"),
    ("ms.example.com", "ms.example.org", None),
    ("ms1", "ms", None),
    ("10.0.0.5", "10.0.0.5", "exact"),
    ("10", "10.0.0.5", None),
    ("", "ms", None),
])
def test_same_host(a: str, b: str, expected: str | None) -> None:
    assert same_host(a, b) == expected


@pytest.mark.parametrize(("gateway", "colocated"), [
    ({"host": "MS.Example.COM."}, True),
    ({"host": "MS.Example.COM.", "colocated": False}, True),  # the same machine regardless
    ({"host": "ms"}, True),
    ({"host": "ms", "colocated": False}, False),
    ({"host": "10.0.0.5", "colocated": True}, True),
    ({"host": "g2.example.com"}, False),
])
def test_the_model_and_the_rules_agree_on_colocation(gateway: dict[str, Any],
                                                      colocated: bool) -> None:
    fleet = make_fleet("2025 R2", {"g1": gateway})
    (state,) = site_states(fleet)
    assert fleet.gateway("g1").colocated is colocated
    assert state.gateways[0].colocated is colocated


def test_discovery_evidence_overrules_the_fleet() -> None:
    fleet = make_fleet("2025 R2", {"g1": {"host": "10.0.0.5", "colocated": False}})
    disc = discovery_for(fleet, Found(server_config="25.2.1.1", server_config_on="g1",
                                      gateways={"g1": "25.2.1.1"}))
    (state,) = site_states(fleet, disc)
    assert not fleet.gateway("g1").colocated
    assert state.gateways[0].colocated and state.gateways[0].colocation.evidence


# -- what configuration needs, and the apply gate's reasons ---------------------------------

ICE_ONE = {"webrtc": {"ice_servers": [{"url": "stun:stun.example.com:3478"}]}}
ICE_TWO = {"webrtc": {"ice_servers": [{"url": "stun:a.example.com"},
                                      {"url": "stun:b.example.com"}]}}
ICE_TURN = {"webrtc": {"ice_servers": [{"url": "turns:turn.example.com:5349",
                                        "username": "u", "credential": "env:TURN"}]}}
CORS = {"cors": {"enabled": True, "allow_origins": ["https://a.example.com"]}}


@pytest.mark.parametrize(("settings", "version", "blocked"), [
    (CORS, "2022 R1", True),
    (CORS, "2022 R3", False),
    (ICE_ONE, "2022 R3", True),      # 2022 R3 kept STUN in GatewayConfig.json
    (ICE_ONE, "2023 R1", False),     # single-STUN shape
    (ICE_TWO, "2023 R1", True),
    (ICE_TWO, "2023 R3", False),
    (ICE_TURN, "2023 R1", True),
    (ICE_TURN, "2023 R3", False),
    (ICE_TURN, "2024 R2", False),
    (ICE_TWO, "2025 R1", False),
    (CORS, "2025 R2", False),
])
def test_gate_feature_boundaries(settings: dict[str, Any], version: str, blocked: bool) -> None:
    fleet = make_fleet(version, {"g1": COLO}, settings=settings)
    gw = fleet.gateway("g1")
    v = Version.parse(version)
    reasons = gate_reasons(gw, v, v)
    assert bool(reasons) is blocked, reasons
    if blocked:
        assert all("lacks" in r for r in reasons)


@pytest.mark.parametrize(("gw_v", "ms_v", "refused", "side"), [
    ("2023 R1", "2023 R2", False, None),
    ("2023 R2", "2023 R3", True, "upgrade the gateway first"),
    ("2025 R1", "2025 R2", True, "upgrade the gateway first"),
    ("2025 R2", "2025 R1", True, "upgrade the management server first"),
    ("2023 R3", "2023 R2", True, "upgrade the management server first"),
    ("2024 R2", "2024 R2", False, None),
])
def test_gate_version_match(gw_v: str, ms_v: str, refused: bool, side: str | None) -> None:
    fleet = make_fleet(ms_v, {"g1": COLO})
    reasons = gate_reasons(fleet.gateway("g1"), Version.parse(gw_v), Version.parse(ms_v))
    assert bool(reasons) is refused
    if side:
        assert side in reasons[0]


def test_gate_refuses_shape_rendered_for_another_release() -> None:
    # declared 2023 R3 renders WebRTC:iceServers; a gateway still on 2023 R2 reads STUN
    fleet = make_fleet("2023 R3", {"g1": COLO}, settings=ICE_ONE)
    gw = fleet.gateway("g1")
    reasons = gate_reasons(gw, Version.parse("2023 R2"), Version.parse("2023 R2"))
    assert any("WebRTC:iceServers" in r and "2023 R2 lacks" in r for r in reasons), reasons
    # and the reverse: declared 2023 R2 renders the single-STUN shape, 2023 R3 installed
    fleet = make_fleet("2023 R2", {"g1": COLO}, settings=ICE_ONE)
    reasons = gate_reasons(fleet.gateway("g1"), Version.parse("2023 R3"),
                              Version.parse("2023 R3"))
    assert any("single-STUN" in r for r in reasons), reasons


def test_raw_appsettings_requirements() -> None:
    fleet = make_fleet("2023 R2", {"g1": COLO}, settings={"appsettings": {
        "webrtc": {"STUN": {"Hostname": {"Address": "stun:x"}}}, "Cors": {"Enabled": True}}})
    reqs = requirements(fleet.gateway("g1"))
    raw = {r.any_of for r in reqs if r.raw}
    assert ("webrtc-stun-single",) in raw and ("cors",) in raw
    assert [r.what for r in missing(reqs, Version.parse("2023 R3"))] == [
        "WebRTC:STUN, the single-STUN shape (raw appsettings)"]


# -- ApplyGate with a fake transport ---------------------------------------------------------


class FakeTransport(Transport):
    name = "fake"

    def __init__(self, answer: dict[str, Any] | Exception) -> None:
        self.answer = answer
        self.calls = 0

    def run(self, op: str, params: Any, payload: bytes | None = None) -> dict[str, Any]:
        assert op == "read_versions" and set(params) == {"install_dir", "server_config"}
        self.calls += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    def run_batch(self, steps: Sequence[Step]) -> list[dict[str, Any]]:
        raise AssertionError(f"the gate reads versions with one operation, not a batch: {steps}")


def _gate_target(fleet: Fleet, name: str) -> Any:
    from gwctl.hosts.inventory import InventoryHost
    from gwctl.hosts.targets import Target

    return Target(fleet.gateway(name), InventoryHost(name, [], {
        "gwctl_gateway_url": "http://127.0.0.1:9/api"}))  # discard port: nothing answers


def _answer(gw: str | None, ms: str | None = None) -> dict[str, Any]:
    return {"gateway": {"version": gw, "source": "registry"} if gw else None,
            "management_server": {"version": ms, "source": r"C:\x.xml"} if ms else None,
            "install_dir_exists": True, "warnings": []}


def test_apply_gate_decisions() -> None:
    from gwctl.errors import TransportError
    from gwctl.versions.discovery import HttpSettings

    fleet = make_fleet("2025 R2", {"g1": COLO, "g2": remote("g2")}, settings=ICE_TURN)
    answers = {"g1": FakeTransport(_answer("25.2.1.1", "25.2.1.1")),
               "g2": FakeTransport(_answer("25.1.1.1"))}
    http = HttpSettings(connect_timeout_s=0.5, timeout_s=0.5)
    gate = ApplyGate(fleet, lambda h: answers[h.name], http=http)
    ok, refused = gate.prefetch([_gate_target(fleet, "g1"), _gate_target(fleet, "g2")])
    assert not ok.refused and ok.management_server_source.startswith("installed")
    assert refused.blocks and "upgrade the gateway first" in refused.summary()
    # the management server's version: .well-known did not answer, the declared one is used
    assert refused.management_server_source == "declared"
    assert any("management server version not read" in n for n in refused.notes)
    # cached: the rollout's call does not read the host again
    assert gate(_gate_target(fleet, "g2"), None) is refused and answers["g2"].calls == 1
    # an unreachable host: the declared version decides (and apply fails on its own)
    down = ApplyGate(fleet, lambda h: FakeTransport(TransportError("refused")),
                        http=http)
    d = down.evaluate(_gate_target(fleet, "g2"))
    assert not d.refused and any("gateway version not read" in n for n in d.notes)
    # the override records, never hides
    forced = ApplyGate(fleet, lambda h: answers[h.name], allow_mismatch=True, http=http)
    f = forced.evaluate(_gate_target(fleet, "g2"))
    assert f.refused and f.overridden and not f.blocks
    assert f.to_json()["allowed"] is True and f.to_json()["reasons"]
