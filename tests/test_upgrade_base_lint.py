"""upgrade-plan lints the overrides against the target release's bundled appsettings.json:
wrong (blocks), unknown and redundant, in text, markdown and json."""

from __future__ import annotations

import json
from typing import Any

from test_version_rules import COLO, make_fleet

from gwctl.netjson.config import flatten_document
from gwctl.netjson.parser import parse
from gwctl.versions.base_lint import lint_against
from gwctl.versions.release import Version
from gwctl.versions.state import site_states
from gwctl.versions.upgrade import UpgradePlan, plan_upgrade, render_markdown, render_text

#: the fleet's own route, on 2024 R1 -- 2024 R2 ships a stock route with this id
OWN_BOOKMARKS = {"ClusterId": "managementserver",
                 "Match": {"Path": "/rest/v1/bookmarks/{**remainder}", "Methods": ["GET"]}}


def plan(ms: str, to: str, settings: dict[str, Any]) -> UpgradePlan:
    fleet = make_fleet(ms, {"g1": COLO}, settings=settings)
    return plan_upgrade(site_states(fleet, None), Version.parse(to), fleet_path="fleet.yaml",
                        inventory_path=None, discovered=False)


def test_own_route_colliding_with_a_new_stock_route_blocks_and_redundant_is_listed() -> None:
    p = plan("2024 R1", "2024 R2", {
        "reverse_proxy": {"routes": {"bookmarks-rest-api": OWN_BOOKMARKS}},
        "logging": {"levels": {"Yarp": "Warning", "Default": "Debug"}}})
    (site,) = p.sites
    assert p.blocked and site.status == "blocked"
    (block,) = [b for b in site.blocks if b.code == "override-wrong"]
    assert block.message == (
        "gateway g1: ReverseProxy:Routes:bookmarks-rest-api is the fleet's own, but 2024 R2 "
        "ships a stock object of that id: its Transforms:0:PathPattern would be merged into "
        "it; rename it or declare those keys")
    assert block.pointer == "/sites/s/settings/reverse_proxy/routes/bookmarks-rest-api"
    (redundant,) = site.base_problems
    assert (redundant.code, redundant.level, redundant.key) == (
        "override-redundant", "info", "Logging:LogLevel:Yarp")
    assert redundant.message == ("Logging:LogLevel:Yarp = 'Warning' is already the value in "
                                 "2024 R2's appsettings.json")
    text = render_text(p)
    assert ("    x gateway g1: ReverseProxy:Routes:bookmarks-rest-api is the fleet's own"
            in text)
    assert "  overrides over 2024 R2's appsettings.json:\n    info: gateway s/g1: " \
           "Logging:LogLevel:Yarp = 'Warning' is already the value in 2024 R2's " \
           "appsettings.json [override-redundant]" in text
    md = render_markdown(p)
    assert "### Overrides over 2024 R2's appsettings.json" in md
    assert "- **info** `s/g1`: Logging:LogLevel:Yarp" in md
    doc = json.loads(json.dumps(p.to_json()))
    assert doc["sites"][0]["base_problems"] == [{
        "rule": "override-redundant", "level": "info", "gateway": "s/g1",
        "key": "Logging:LogLevel:Yarp", "message": redundant.message,
        "path": "/sites/s/settings/logging/levels/Yarp"}]
    assert any(b["code"] == "override-wrong" for b in doc["sites"][0]["blocks"])


def test_a_stock_route_overridden_in_full_only_repeats_stock_values() -> None:
    p = plan("2024 R2", "2025 R1", {
        "reverse_proxy": {"routes": {"bookmarks-rest-api": {
            **OWN_BOOKMARKS, "Transforms": [{"PathPattern": "/x/{**remainder}"}]}}}})
    (site,) = p.sites
    assert not site.blocks
    assert [(b.code, b.key) for b in site.base_problems] == [
        ("override-redundant", "ReverseProxy:Routes:bookmarks-rest-api:ClusterId"),
        ("override-redundant", "ReverseProxy:Routes:bookmarks-rest-api:Match:Path")]


def _flat(text: str) -> Any:
    return flatten_document(parse(text, file="base.json"))


def test_dropped_objects_and_short_arrays() -> None:
    fleet = make_fleet("2025 R2", {"g1": COLO}, settings={
        "reverse_proxy": {"routes": {"old-route": {"Match": {"Path": "/old/{**r}"}}}},
        "appsettings": {"Legacy": {"Mode": "fast"},
                        "Hosts": {"Allowed": ["a.example.com"]}}})
    gw = next(fleet.gateways())
    current = _flat('{"ReverseProxy": {"Routes": {"old-route": {"ClusterId": "c", '
                    '"Match": {"Path": "/o"}}}}, "Legacy": {"Mode": "slow"}, '
                    '"Hosts": {"Allowed": ["x"]}}')
    target = _flat('{"ReverseProxy": {"Routes": {}}, '
                   '"Hosts": {"Allowed": ["x", "y", "z"]}}')
    found = {(p.code, p.key): p for p in lint_against(gw, current, target,
                                                      Version.parse("2026 R1"))}
    assert set(found) == {("override-wrong", "ReverseProxy:Routes:old-route"),
                          ("override-unknown", "Legacy:Mode"),
                          ("override-wrong", "Hosts:Allowed")}
    assert found[("override-wrong", "ReverseProxy:Routes:old-route")].message == (
        "ReverseProxy:Routes:old-route overrides part of a stock object that 2026 R1 no "
        "longer ships: the merged object lacks ClusterId; declare it in full or remove the "
        "override")
    assert found[("override-unknown", "Legacy:Mode")].message == (
        "Legacy:Mode: 2026 R1's appsettings.json has no Legacy (the release dropped or "
        "renamed it); nothing reads this value")
    assert found[("override-wrong", "Hosts:Allowed")].message == (
        "Hosts:Allowed: the override writes 1 element(s) but 2026 R1's appsettings.json has "
        "more; arrays merge by index, so its elements from 1 on stay in the running "
        "configuration")
