"""The rule registry and the models the rules stand on (config trees, YARP, NLog, URLs)."""

from __future__ import annotations

import importlib
import importlib.resources
import inspect
import re
import textwrap
from types import ModuleType
from typing import Any, get_type_hints

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gwctl.errors import UsageError
from gwctl.netjson.config import Effective, flatten_value
from gwctl.nlog import document as _nlog
from gwctl.problems import Level
from gwctl.rules import (
    _cfg,
    _ice,
    _yarp_routes,
    _yarp_transforms,
    all_rules,
    get_rule,
    registry,
    rule_doc,
)
from gwctl.rules.base import BOTH_MODES
from gwctl.rules.cors_origin_format import problem_with
from gwctl.rules.target import FleetScope, Target
from gwctl.yarp import template as _route_template
from gwctl.yarp.destination import address_problem

# -- the registry ----------------------------------------------------------------------------------


def test_ids_are_unique_kebab_case_with_levels_and_options() -> None:
    rules = all_rules()
    ids = [r.ID for r in rules]
    assert len(ids) == len(set(ids))
    for r in rules:
        assert re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", r.ID), r.ID
        assert r.LEVEL in (Level.ERROR, Level.WARNING)
        assert isinstance(r.OPTIONS, dict)


#: a FAIL example is a literal block (``FAIL (why)::``, blank line, indented lines)
_FAIL_EXAMPLE = re.compile(r"^FAIL\b[^\n]*::\n\n {4}\S", re.M)


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.ID)
def test_every_rule_documents_itself_with_pass_and_fail(rule: Any) -> None:
    doc = textwrap.dedent(rule.__doc__ or "")
    summary = doc.strip().splitlines()[0]
    assert 20 < len(summary) <= 100, summary
    # what passes may be told in words (a host that answers); what fails is shown
    assert re.search(r"^PASS\b", doc, re.M), "no PASS example"
    assert _FAIL_EXAMPLE.search(doc), "no FAIL example"
    text = rule_doc(rule.ID)
    assert text.startswith(f"{rule.ID} ({rule.LEVEL})")
    for name in rule.OPTIONS:
        assert name in text


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.ID)
def test_every_rule_is_a_module_named_after_its_id(rule: Any) -> None:
    assert rule.__name__ == "gwctl.rules." + rule.ID.replace("-", "_")
    assert isinstance(rule.LEVEL, Level)
    modes = getattr(rule, "MODES", BOTH_MODES)
    assert modes and modes <= BOTH_MODES, modes


def test_rules_are_registered_where_the_runner_calls_them_right() -> None:
    reg = registry()
    for scope, rules in ((Target, reg.gateway), (FleetScope, reg.fleet)):
        for r in rules:
            first = next(iter(inspect.signature(r.check).parameters))
            assert get_type_hints(r.check)[first] is scope, r.ID
    # the readers and the runner report these themselves: a check would never run
    for meta in reg.meta:
        assert not hasattr(meta, "check"), meta.ID
    assert {r.ID for r in reg.meta} >= {"json-syntax", "xml-syntax", "rule-config"}


#: modules of gwctl/rules/ that rules run on, not rules (private helpers start with _)
_MACHINERY = {"base", "target", "sources", "runner"}


def test_every_rule_module_is_in_the_registry() -> None:
    files = importlib.resources.files("gwctl.rules").iterdir()
    public = {f.name.removesuffix(".py") for f in files
              if f.name.endswith(".py") and not f.name.startswith("_")}
    registered: set[str] = set()
    for r in all_rules():
        # RuleInfo is the protocol; what the registry holds are the rule modules themselves
        assert isinstance(r, ModuleType), r.ID
        registered.add(r.__name__.rpartition(".")[2])
    assert public - _MACHINERY - registered == set(), "rule modules missing from the registry"
    assert public >= _MACHINERY
    for name in _MACHINERY:
        assert not hasattr(importlib.import_module(f"gwctl.rules.{name}"), "ID"), name


def test_unknown_rule_is_a_usage_error_with_close_matches() -> None:
    with pytest.raises(UsageError, match="cors-wildcard-origin"):
        get_rule("cors-wildcard-origins")
    with pytest.raises(UsageError, match="gwctl rules"):
        get_rule("zzz")


# -- configuration trees: the same answer as the flat model -----------------------------

_KEYS = st.sampled_from(["a", "A", "b", "B", "0", "1", "c"])
_LEAF = st.one_of(st.text(max_size=3), st.booleans(), st.integers(-2, 2), st.none())


def _cfg_unique(d: dict[str, Any]) -> dict[str, Any]:
    """One spelling per key: a file with both "a" and "A" is a duplicate-key error."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if k.lower() not in {x.lower() for x in out}:
            out[k] = v
    return out


_TREE = st.recursive(_LEAF, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(_KEYS, inner, max_size=3).map(_cfg_unique)), max_leaves=10)


def _normal(value: Any, *, flat_model: bool) -> Any:
    """Compare modulo representation: lists and index dicts; an empty section is None.

    In the flat model's tree None is an empty section and null is ""; in a gwctl tree
    None is JSON null (its text is "") and an empty section is ``{}`` or ``[]``.
    """
    if isinstance(value, dict) and value and all(k.isdigit() for k in value):
        value = [value[k] for k in sorted(value, key=int)]  # the binder reads indices in order
    if isinstance(value, list):
        value = {str(i): v for i, v in enumerate(value)}
    if isinstance(value, dict):
        if not value:
            return None
        return {k.lower(): _normal(v, flat_model=flat_model) for k, v in value.items()}
    if value is None and flat_model:
        return None
    return _cfg.text(value)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_KEYS, _TREE, max_size=3).map(_cfg_unique),
       st.dictionaries(_KEYS, _TREE, max_size=3).map(_cfg_unique))
def test_tree_merge_agrees_with_effective(base: dict[str, Any], over: dict[str, Any]) -> None:
    flat = Effective([flatten_value(base), flatten_value(over)]).tree()
    assert _normal(_cfg.merge(base, over), flat_model=False) == _normal(flat, flat_model=True)


def test_merge_shares_untouched_subtrees_and_merges_arrays_by_index() -> None:
    base: dict[str, Any] = {"R": {"x": {"T": [{"a": "1"}, {"b": "2"}, {"c": "3"}]},
                                  "y": {"k": "v"}}}
    over = {"r": {"X": {"t": [{"a": "9"}]}}}
    merged = _cfg.merge(base, over)
    assert merged["R"]["y"] is base["R"]["y"]
    assert merged["R"]["x"]["T"] == [{"a": "9"}, {"b": "2"}, {"c": "3"}]
    assert base["R"]["x"]["T"][0] == {"a": "1"}  # inputs untouched


def test_text_matches_jsonelement_tostring() -> None:
    assert [_cfg.text(v) for v in (True, False, None, 3, 1.5, "x")] == \
        ["True", "False", "", "3", "1.5", "x"]


# -- route templates -----------------------------------------------------------------------------

_SEGMENT = st.one_of(st.from_regex(r"[A-Za-z0-9._~-]{1,6}", fullmatch=True),
                     st.from_regex(r"\{\*{0,2}[A-Za-z_][A-Za-z0-9_]{0,4}\}", fullmatch=True))


@settings(max_examples=300, deadline=None)
@given(st.lists(_SEGMENT, max_size=5), st.booleans())
def test_fast_template_path_agrees_with_the_full_parser(segments: list[str], slash: bool) -> None:
    template = "/" + "/".join(segments) + ("/" if slash and segments else "")
    try:
        full: Any = _route_template.parse_template_full(template)
    except _route_template.TemplateError as exc:
        full = ("error", type(exc))
    fast = _route_template._simple(template[1:])
    if fast is not None:
        assert fast == full
    try:
        got: Any = _route_template.parse_template(template)
    except _route_template.TemplateError as exc:
        got = ("error", type(exc))
    assert got == full


@pytest.mark.parametrize("template", [
    "/rest/v1/{**remainder}", "/rest/v1/{resource:regex(^alarm.*)}/{**remainder}",
    "api/{id:int:min(1)}/{name?}", "/files/{name}.{ext?}", "/a/{x=3}", "~/a", "/{{literal}}",
    "/a/{id:length(2,5)}", "/"])
def test_valid_templates(template: str) -> None:
    _route_template.parse_template(template)


@pytest.mark.parametrize("template, reason", [
    ("/a/{**x}/b", "last segment"), ("/a/{b", "no matching"), ("/a}", "no matching"),
    ("/a//b", "twice"), ("/a/b?c", "'?'"),
    ("/{x}/{X}", "more than once"), ("/{*x?}", "optional"), ("/{x=1?}", "default"),
    ("~a", "'~'"), ("/{}", "empty"), ("/{a}{b}", "follow"), ("/x{**y}", "whole segment")])
def test_invalid_templates(template: str, reason: str) -> None:
    with pytest.raises(_route_template.TemplateError, match=re.escape(reason)):
        _route_template.parse_template(template)


@pytest.mark.parametrize("template, reason", [
    ("/a/{x:foo}", "could not be resolved"), ("/a/{x:min}", "argument"),
    ("/a/{x:int(3)}", "argument"), ("/a/{x:regex([)}", "invalid"),
    ("/a/{x:min(a)}", "integer")])
def test_unresolvable_constraints_parse_but_fail_the_matcher(template: str, reason: str) -> None:
    # the template parses (the gateway starts); the matcher build fails on first request
    segments = _route_template.parse_template(template)
    problems = _route_template.constraint_problems(segments)
    assert len(problems) == 1 and reason in problems[0], problems
    assert _route_template.constraint_problems(
        _route_template.parse_template("/a/{x:int}/{y:range(1,5)}")) == []


def _facts(path: str, order: int = 0, **match: Any) -> _yarp_routes.RouteFacts:
    return _yarp_routes.RouteFacts(
        {"ClusterId": "c", "Order": order, "Match": {"Path": path, **match}})


@pytest.mark.parametrize("custom, stock, expected", [
    (_facts("/rest/v1/{**r}"), _facts("/rest/v1/{**remainder}"), "tie"),
    (_facts("/rest/v1/{**r}", -1), _facts("/rest/v1/bookmarks/{**r}"), "shadow"),
    (_facts("/rest/v1/{**r}"), _facts("/rest/v1/bookmarks/{**r}"), None),
    (_facts("/rest/{x}/{**r}", -1), _facts("/rest/v1/{**r}"), "shadow"),
    (_facts("/rest/v1/{id:int}", -1), _facts("/rest/v1/{id}"), None),
    (_facts("/rest/v1/{**r}", -1, Methods=["GET"]), _facts("/rest/v1/{**r}"), None),
    (_facts("/rest/v1/{**r}", -1),
     _facts("/rest/v1/{id}", QueryParameters=[{"Name": "task", "Mode": "Exists"}]), "shadow"),
    (_facts("/rest/v1/{**r}"),
     _facts("/rest/v1/{**r}", QueryParameters=[{"Name": "task", "Mode": "Exists"}]), None),
    (_facts("/ws/{**r}", -1), _facts("/rest/v1/{**r}"), None),
    (_facts("/rest/v1/{a}/{**r}", -1), _facts("/rest/v1/{**r}"), None),
])
def test_outranks(
    custom: _yarp_routes.RouteFacts, stock: _yarp_routes.RouteFacts, expected: str | None
) -> None:
    assert _yarp_routes.outranks(custom, stock) == expected


@pytest.mark.parametrize("transform, ok", [
    ({"PathPattern": "/x"}, True), ({"pathpattern": "/x"}, True),
    ({"X-Forwarded": "Append", "Prefix": "Off"}, True),
    ({"X-Forwarded": "append"}, False), ({"X-Forwarded": "Set", "Proto": "off"}, False),
    ({"X-Forwarded": "Set", "HeaderPrefix": "X-"}, True),
    ({"QueryRouteParameter": "id", "Set": "id"}, True), ({"QueryRouteParameter": "id"}, False),
    ({"RequestHeader": "X", "Set": "1", "Append": "2"}, False),
    ({"ResponseHeader": "X", "Set": "1", "When": "failure"}, True),
    ({"ResponseHeaderRemove": "Server", "When": "Always"}, True),
    ({"RequestHeadersCopy": "TRUE"}, True), ({"RequestHeadersCopy": "1"}, False),
    ({"Forwarded": "for,proto", "ByFormat": "Random"}, True), ({"Forwarded": "path"}, False),
    ({"HttpMethodChange": "PUT", "Set": "POST"}, True), ({"ClientCert": "X-Cert"}, True),
    ({"PathPattern": "/x", "PathPrefix": "/y"}, False), ({"Nope": "x"}, False), ({}, False),
])
def test_transforms(transform: dict[str, str], ok: bool) -> None:
    assert (_yarp_transforms.check_transform(transform) == []) is ok


# -- URLs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("url, ok", [
    ("stun:stun.example.com", True), ("stun:stun.example.com:3478", True),
    ("turns:turn.example.com:5349?transport=tcp", True), ("stun:[2001:db8::1]:3478", True),
    ("stun:192.0.2.1", True), ("stun://stun.example.com", False), ("stun:", False),
    ("stun:x:0", False), ("stun:x?transport=udp", False), ("turn:x?transport=sctp", False),
    ("stun.example.com:3478", False), ("https://x", False), ("stun:[zz]", False),
])
def test_ice_urls(url: str, ok: bool) -> None:
    assert (_ice.url_problem(url) is None) is ok


@pytest.mark.parametrize("origin, ok", [
    ("https://portal.example.com", True), ("http://localhost:8080", True),
    ("https://[2001:db8::1]:8443", True), ("chrome-extension://abcdef", True),
    ("yourdomain1.com", False), ("https://a.example/", False), ("https://a.example/x", False),
    ("https://a.example:443", False), ("http://a.example:80", False), ("HTTPS://A.example", True),
    ("https://*.example.com", False), ("", False), ("https://a.example:0", False),
])
def test_cors_origins(origin: str, ok: bool) -> None:
    assert (problem_with(origin) is None) is ok


@pytest.mark.parametrize("address, ok", [
    ("https://vendor.example.com/", True), ("http://10.0.0.5:8080/api/", True),
    ("https://[2001:db8::1]/", True), ("vendor.example.com", False),
    ("ftp://vendor.example.com/", False), ("https://v:99999/", False), ("https//v", False),
])
def test_destination_addresses(address: str, ok: bool) -> None:
    assert (address_problem(address) is None) is ok


# -- NLog -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout, kinds", [
    ("${longdate} ${message}", []),
    (r"${date:format=HH\:mm\:ss} [${threadid:padding=6}]", []),
    ("${uppercase:${level}}", []),
    ("${longdate} [{threadid:padding=6}]", ["missing-dollar"]),
    ("${level:uppercase=true ${message}", ["unclosed"]),
    ("${}", ["empty"]), ("{just text}", []), (r"${x:a=\}}", []),
])
def test_layout_scan(layout: str, kinds: list[str]) -> None:
    assert [i.kind for i in _nlog.scan_layout(layout)] == kinds


def test_nlog_layout_syntax_says_what_nlog_prints(tmp_path: Any) -> None:
    # NLog closes an unclosed ${ at the end of the value and renders ${} as empty text
    # (NLog/NLog src/NLog/Layouts/LayoutParser.cs): neither is a refused file
    from gwctl.rules.runner import lint_files

    path = tmp_path / "nlog.config"
    path.write_text('<nlog>\n<variable name="a" value="${longdate} ${level:uppercase=true" />\n'
                    '<variable name="b" value="[${}]" />\n</nlog>\n', "utf-8")
    found = [(p.level, p.line, p.message)
             for p in lint_files([str(path)], base=None, only={"nlog-layout-syntax"})]
    assert found == [
        (Level.ERROR, 2, "value: '${' at '${level:uppercase=true' has no closing '}': NLog "
         "reads the rest of the value as that renderer's options, so it is not printed as "
         "written"),
        (Level.WARNING, 3, "value: empty layout renderer '${}' prints nothing"),
    ]
    assert _nlog.empty_config_watches("<nlog AutoReload='TRUE'><targets>")
    assert not _nlog.empty_config_watches('<nlog autoReload = "true"><targets>')


def test_nlog_parse_positions_and_doctype() -> None:
    text = ('<?xml version="1.0"?>\n<nlog xmlns="http://www.nlog-project.org/schemas/NLog.xsd"'
            ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n  <targets>\n'
            '    <target name="f" xsi:type="File"\n            fileName="x.log" />\n'
            '  </targets>\n</nlog>\n')
    doc = _nlog.parse_nlog(text, "nlog.config")
    assert doc.error is None and doc.nlog is not None
    (target,) = _nlog.targets(doc.nlog)
    assert _nlog.target_type(target) == "File"
    assert (target.line, target.column) == (4, 5)
    assert doc.attr_position(target, "fileName") == (5, 23)
    assert target.path == "/nlog/targets/0/target/0"
    bad = _nlog.parse_nlog('<!DOCTYPE nlog [<!ENTITY x "y">]><nlog/>', "n")
    assert bad.error is not None and "DOCTYPE" in bad.error.message
    broken = _nlog.parse_nlog("<nlog><targets></nlog>", "n")
    assert broken.error is not None and broken.error.line == 1
