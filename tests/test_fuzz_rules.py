"""Generated bad input never escapes as an exception: only Problems (or InputError).

Four corpora, 300+ inputs in all: mutated appsettings JSON text, mutated nlog.config
text, random nested values placed in the sections the rules read, and random (but
schema-valid) fleet settings. A rule that crashes reports ``internal-error`` instead of
raising, so that is checked too.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gwctl.errors import InputError
from gwctl.fleet.model import build_fleet
from gwctl.fleet.schema import validate_source
from gwctl.fleet.source import combine
from gwctl.fleet.yaml_reader import load_yaml_text
from gwctl.problems import Problem
from gwctl.rules.runner import lint_files, validate_fleet

EXAMPLES = Path(__file__).parent / "examples"
JSON_SEEDS = sorted(EXAMPLES.glob("*/*/*.json"))
XML_SEEDS = sorted(EXAMPLES.glob("*/*/*.config"))
FUZZ = settings(max_examples=90, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def check_clean(problems: list[Problem]) -> None:
    assert isinstance(problems, list)
    for p in problems:
        assert isinstance(p, Problem)
        assert p.rule != "internal-error", p.message
        assert isinstance(p.message, str) and p.message


def lint_text(text: str, name: str, **kw: Any) -> list[Problem]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(text, encoding="utf-8")
        try:
            return lint_files([str(path)], base=None, **kw)
        except InputError:
            return []


# -- mutated text -----------------------------------------------------------------------------

_NOISE = st.text(alphabet='{}[]:,"\\/*<>&=$ \n\tabcXYZ019.-_\'', min_size=0, max_size=6)


@st.composite
def mutated(draw: st.DrawFn, seeds: list[Path]) -> str:
    text = draw(st.sampled_from(seeds)).read_text("utf-8")
    for _ in range(draw(st.integers(1, 4))):
        if not text:
            break
        i = draw(st.integers(0, len(text) - 1))
        j = draw(st.integers(i, min(len(text), i + 8)))
        op = draw(st.sampled_from(["delete", "insert", "replace", "duplicate"]))
        if op == "delete":
            text = text[:i] + text[j:]
        elif op == "insert":
            text = text[:i] + draw(_NOISE) + text[i:]
        elif op == "replace":
            text = text[:i] + draw(_NOISE) + text[j:]
        else:
            text = text[:j] + text[i:j] + text[j:]
    return text


@FUZZ
@given(mutated(JSON_SEEDS), st.sampled_from(["production", "development"]))
def test_mutated_appsettings_text(text: str, environment: str) -> None:
    check_clean(lint_text(text, "appsettings.Production.json", environment=environment))


@settings(FUZZ, max_examples=60)
@given(mutated(XML_SEEDS), st.sampled_from([5, 6]))
def test_mutated_nlog_text(text: str, nlog_version: int) -> None:
    check_clean(lint_text(text, "nlog.config", nlog_version=nlog_version))


# -- random structures where the rules look ------------------------------------------------------

_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 70000),
                     st.floats(allow_nan=False, allow_infinity=False, width=32),
                     st.sampled_from(["", "*", "null", "Exists", "Append", "append", "Off",
                                      "stun:a.example", "turn:b", "https://x/", "http://",
                                      "/rest/v1/{**r}", "/{a}/{a}", "{x:int(}", "Debug",
                                      "managementserver", "idp", "True", "1.5"]),
                     st.text(max_size=12))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.sampled_from(["Path", "Hosts", "Methods", "Mode", "Values", "Name",
                                     "url", "username", "credential", "ClusterId", "Order",
                                     "Match", "Transforms", "Address", "Destinations",
                                     "PathPattern", "X-Forwarded", "Set", "Prefix", "x"]),
                    inner, max_size=4)), max_leaves=12)
_PLACES = [
    lambda v: {"CORS": v},
    lambda v: {"CORS": {"Enabled": True, "Access-Control-Allow-Origin": v}},
    lambda v: {"WebRTC": {"iceServers": v}},
    lambda v: {"WebRTC": {"STUN": {"Hostname": {"Address": v}}}},
    lambda v: {"Logging": {"LogLevel": v}},
    lambda v: {"Logging": v},
    lambda v: {"ReverseProxy": v},
    lambda v: {"ReverseProxy": {"Routes": v}},
    lambda v: {"ReverseProxy": {"Routes": {"custom": v}}},
    lambda v: {"ReverseProxy": {"Routes": {"custom": {"ClusterId": "apigateway",
                                                      "Match": v}}}},
    lambda v: {"ReverseProxy": {"Routes": {"idp": {"Transforms": v}}}},
    lambda v: {"ReverseProxy": {"Routes": {"custom": {"Match": {"Path": "/x"},
                                                      "Transforms": v}}}},
    lambda v: {"ReverseProxy": {"Clusters": v}},
    lambda v: {"ReverseProxy": {"Clusters": {"c": {"Destinations": v}}}},
]


@settings(FUZZ, max_examples=120)
@given(st.sampled_from(_PLACES), _VALUES, st.sampled_from(["2025 R2", "2023 R2", "2022 R2"]))
def test_random_structures_in_appsettings(place: Any, value: Any, version: str) -> None:
    text = json.dumps(place(value))
    check_clean(lint_text(text, "appsettings.Production.json", version=version))


# -- random (schema-valid) fleet settings ----------------------------------------------------------

_WORD = st.text(alphabet="abcXYZ01*{}:/._-$ ", min_size=0, max_size=10)
_ROUTE = st.fixed_dictionaries({}, optional={
    "ClusterId": st.sampled_from(["vendor", "managementserver", "nope", ""]),
    "Order": st.integers(-3, 3),
    "Match": st.fixed_dictionaries({}, optional={
        "Path": st.sampled_from(["/rest/v1/{**remainder}", "/x/{id}", "/x/{id", "/{*a}/b",
                                 "/vendor/{id:int}", "/IDP/{**remainder}", "", "/a//b"]),
        "Hosts": st.lists(_WORD, max_size=2),
        "Methods": st.lists(st.sampled_from(["GET", "get", "FETCH", "POST"]), max_size=3),
        "QueryParameters": st.lists(st.dictionaries(
            st.sampled_from(["Name", "Mode", "Values"]), _VALUES, max_size=3), max_size=2),
    }),
    "Transforms": st.lists(st.dictionaries(
        st.sampled_from(["PathPattern", "X-Forwarded", "Prefix", "RequestHeader", "Set",
                         "Append", "When", "Bogus"]), _WORD, max_size=3), max_size=3),
})
_SETTINGS = st.fixed_dictionaries({}, optional={
    "environment": st.sampled_from(["production", "test", "development"]),
    "cors": st.fixed_dictionaries({}, optional={
        "enabled": st.booleans(),
        "allow_origins": st.lists(st.one_of(_WORD, st.sampled_from(["*", "null",
                                                                     "https://a.example"]))),
        "allow_headers": st.lists(_WORD, max_size=3),
        "allow_methods": st.lists(_WORD, max_size=3)}),
    "webrtc": st.fixed_dictionaries({"ice_servers": st.lists(st.fixed_dictionaries(
        {"url": st.one_of(_WORD, st.sampled_from(["stun:s.example", "turn:t.example:3478",
                                                  "turns:t.example"]))},
        optional={"username": _WORD, "credential": st.one_of(_WORD, st.just("env:X"))}),
        max_size=3)}),
    "logging": st.fixed_dictionaries({"levels": st.dictionaries(
        st.sampled_from(["Default", "Yarp", "yarp", "Microsoft"]),
        st.sampled_from(["Debug", "Info", "Warning", "", "Trace"]), max_size=3)}),
    "nlog": st.fixed_dictionaries({}, optional={
        "version": st.sampled_from([5, 6]),
        "log_directory": st.sampled_from(["Logs", r"C:\Logs", "${basedir}"]),
        "layout": st.sampled_from(["${message}", "{threadid:x}", "${a", "${}"]),
        "min_level": st.sampled_from(["Info", "Verbose", "debug"]),
        "archive": st.fixed_dictionaries({}, optional={
            "numbering": st.sampled_from(["Rolling", "Date", "Nope"]),
            "suffix_format": _WORD, "every": st.sampled_from(["Day", "Fortnight"])}),
        "rules": st.lists(st.fixed_dictionaries(
            {"write_to": st.sampled_from(["logfile", "console", "", "logfile,x"])},
            optional={"min_level": st.sampled_from(["Info", "Bad"])}), max_size=2)}),
    "reverse_proxy": st.fixed_dictionaries({}, optional={
        "routes": st.dictionaries(st.sampled_from(["a", "A", "idp", "rest-api", "b"]),
                                  _ROUTE, max_size=3),
        "clusters": st.dictionaries(st.sampled_from(["vendor", "Vendor"]), st.fixed_dictionaries(
            {"Destinations": st.dictionaries(st.sampled_from(["p", "q"]), st.fixed_dictionaries(
                {"Address": st.sampled_from(["https://v.example/", "http://v", "v.example",
                                             ""])}), max_size=2)}), max_size=2)}),
    "appsettings": st.dictionaries(st.sampled_from(["CORS", "Cors", "Logging:LogLevel",
                                                    "WebRTC", "Kestrel"]), _VALUES, max_size=2),
})


@settings(FUZZ, max_examples=100)
@given(_SETTINGS, _SETTINGS, st.sampled_from(["2025 R2", "2023 R2", "2022 R3", "2022 R1"]),
       st.booleans())
def test_random_fleet_settings(site: dict[str, Any], gw: dict[str, Any], version: str,
                               encryption: bool) -> None:
    doc = {"sites": {"s": {"management_server": {"host": "ms", "version": version,
                                                   "encryption": encryption},
                           "settings": site,
                           "gateways": {"g1": {"host": "ms", "settings": gw},
                                        "g2": {"host": "gw2"}}}}}
    try:
        loaded = load_yaml_text(json.dumps(doc, ensure_ascii=False), file="fleet.yaml")
    except InputError:
        return  # characters YAML itself refuses: the loader's business, not the rules'
    source = combine([loaded], Path("."))
    if validate_source(source):
        return  # the generators aim at schema-valid settings; the few misses are skipped
    fleet, problems = build_fleet(source)
    assert fleet is not None, problems
    check_clean(validate_fleet(fleet))
