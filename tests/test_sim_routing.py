"""Route templates, endpoint selection and transforms of the emulated gateway (no sockets)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gwctl.sim.routing import (
    ConfigError,
    Endpoint,
    ForwardRequest,
    RouteTemplate,
    ValueMatch,
    apply_request_transforms,
    apply_response_transforms,
    compile_transform,
    select,
    sort_endpoints,
    split_path,
)


def ep(eid: str, path: str, **kw: Any) -> Endpoint:
    return Endpoint(eid, RouteTemplate.parse(path), **kw)


def pick(endpoints: list[Endpoint], path: str, method: str = "GET", host: str = "h",
         query: dict[str, list[str]] | None = None,
         headers: dict[str, str] | None = None) -> tuple[str | None, int, dict[str, str]]:
    q = {k.lower(): v for k, v in (query or {}).items()}
    hd = {k.lower(): v for k, v in (headers or {}).items()}
    sel = select(sort_endpoints(endpoints), method, split_path(path), host,
                 lambda n: [hd[n.lower()]] if n.lower() in hd else None,
                 lambda n: q.get(n.lower()))
    return (sel.endpoint.id if sel.endpoint else None), sel.status, sel.values


@pytest.mark.parametrize(("template", "digits"), [
    ("/rest/v1/{**remainder}", (1, 1, 5)),
    ("/rest/v1/registeredServices/{**remainder}", (1, 1, 1, 5)),
    ("/rest/v1/{resource:regex(^alarm.*)}/{**remainder}", (1, 1, 2, 5)),
    ("/rest/v1/{deviceType}/{deviceId}", (1, 1, 3, 3)),
    ("/a/{x}.{y}", (1, 2)),
    ("/{**all:nonfile}", (4,)),
    ("/", ()),
])
def test_precedence_digits(template: str, digits: tuple[int, ...]) -> None:
    assert RouteTemplate.parse(template).precedence == digits


@pytest.mark.parametrize("template", [
    "/a//b", "/a/{b", "/a/b}", "/a/{**x}/c", "/a/b?c", "/{a}/{A}",
    "/{*x?}", "/a/{x}{y}", "/a/{}",
])
def test_invalid_templates(template: str) -> None:
    with pytest.raises(ConfigError):
        RouteTemplate.parse(template)


@pytest.mark.parametrize("template", ["/a/{x:nosuch}", "/{x:regex([)}", "/{x:min(a)}",
                                      "/{x:regex(()}"])
def test_unresolvable_constraints_load_and_are_recorded(template: str) -> None:
    # the gateway starts; the endpoint matcher fails on the first request (gwctl.yarp)
    assert RouteTemplate.parse(template).constraint_errors


def test_matching() -> None:
    t = RouteTemplate.parse("/rest/v1/{resource:regex(^alarm.*)}/{**remainder}")
    assert t.match(split_path("/REST/v1/alarms/a/b")) == {"resource": "alarms",
                                                          "remainder": "a/b"}
    assert t.match(split_path("/rest/v1/events")) is None
    assert RouteTemplate.parse("/x/{id:int}").match(["x", "42"]) == {"id": "42"}
    assert RouteTemplate.parse("/x/{id:int}").match(["x", "4x"]) is None
    assert RouteTemplate.parse("/x/{id:guid}").match(
        ["x", "f131f2e3-fd8d-457a-8d6d-858418301b1d"]) is not None
    assert RouteTemplate.parse("/x/{id?}").match(["x"]) == {}
    assert RouteTemplate.parse("/x/{id=7}").match(["x"]) == {"id": "7"}
    assert RouteTemplate.parse("/x/{n:range(1,3)}").match(["x", "4"]) is None
    assert RouteTemplate.parse("/x/{f}.{ext?}").match(["x", "a.b.c"]) == {"f": "a.b",
                                                                         "ext": "c"}
    assert RouteTemplate.parse("/x").match(split_path("/x/")) == {}
    assert RouteTemplate.parse("/x").match(split_path("/x/y")) is None
    assert RouteTemplate.parse("/x/{{literal}}").match(["x", "{literal}"]) == {}


def test_bind() -> None:
    t = RouteTemplate.parse("/ManagementServer/Rest/{**remainder}")
    assert t.bind({"remainder": "cameras/1"}) == "/ManagementServer/Rest/cameras/1"
    assert t.bind({}) == "/ManagementServer/Rest"
    assert RouteTemplate.parse("/rest/alarms/v1/{resource}/{**remainder}").bind(
        {"RESOURCE": "alarms"}) == "/rest/alarms/v1/alarms"


@given(st.lists(st.from_regex(r"[A-Za-z0-9_.~-]{1,8}", fullmatch=True), min_size=0,
                max_size=5))
def test_catch_all_round_trip(parts: list[str]) -> None:
    t = RouteTemplate.parse("/p/{**rest}")
    values = t.match(["p", *parts])
    assert values is not None
    assert t.bind(values) == "/p" + "".join("/" + p for p in parts)


def test_selection_by_order_precedence_and_policies() -> None:
    eps = [
        ep("rest-api", "/rest/v1/{**remainder}"),
        ep("registered", "/rest/v1/registeredServices/{**remainder}"),
        ep("alarms", "/rest/v1/{resource:regex(^alarm.*)}/{**remainder}"),
        ep("jpeg", "/rest/v1/cameras/{cameraId}",
           query=(ValueMatch("task", "exact", ("JpegGetLive",), False),)),
        ep("driver", "/rest/v1/{deviceType}/{deviceId}",
           query=(ValueMatch("task", "exact", ("SendDriverCommand",), False),)),
    ]
    assert pick(eps, "/rest/v1/registeredServices")[0] == "registered"
    assert pick(eps, "/rest/v1/sites")[0] == "rest-api"
    assert pick(eps, "/rest/v1/alarms/1")[0] == "alarms"
    assert pick(eps, "/rest/v1/alarmDefinitions")[0] == "alarms"
    assert pick(eps, "/rest/v1/cameras/c1")[0] == "rest-api"
    assert pick(eps, "/rest/v1/cameras/c1", query={"task": ["jpeggetlive"]})[0] == "jpeg"
    assert pick(eps, "/rest/v1/cameras/c1", query={"task": ["SendDriverCommand"]}
                )[0] == "driver"
    assert pick(eps, "/nothing")[1] == 404
    eps.append(ep("first", "/{**all}", order=-1))
    assert pick(eps, "/rest/v1/registeredServices")[0] == "first"


def test_methods_hosts_headers_and_ambiguity() -> None:
    eps = [ep("post-only", "/x", methods=frozenset({"POST"}))]
    assert pick(eps, "/x")[1] == 405
    assert pick(eps, "/x", method="post")[0] == "post-only"
    eps.append(ep("any", "/x"))
    assert pick(eps, "/x")[0] == "any"
    assert pick(eps, "/x", method="POST")[0] == "post-only"  # methods beat none
    hosted = [ep("h", "/y", hosts=("*.example.com",)), ep("plain", "/y")]
    assert pick(hosted, "/y", host="a.example.com:8080")[0] == "h"
    assert pick(hosted, "/y", host="other")[0] == "plain"
    headed = [ep("hd", "/z", headers=(ValueMatch("X-Env", "headerprefix", ("prod",),
                                                 False),))]
    assert pick(headed, "/z", headers={"x-env": "PRODUCTION"})[0] == "hd"
    assert pick(headed, "/z", headers={"x-env": "test"})[1] == 404
    twins = [ep("a", "/t/{**r}"), ep("b", "/t/{**rest}")]
    assert pick(twins, "/t/1")[1] == 500


@pytest.mark.parametrize(("mode", "values", "present", "ok"), [
    ("exact", ("A",), ["a"], True),
    ("exact", ("A",), None, False),
    ("contains", ("ll",), ["hello"], True),
    ("notcontains", ("ll",), ["hello"], False),
    ("notcontains", ("zz",), ["hello"], True),
    ("notcontains", ("zz",), None, False),
    ("prefix", ("he",), ["hello"], True),
    ("exists", (), [""], True),
    ("exists", (), None, False),
])
def test_query_modes(mode: str, values: tuple[str, ...], present: list[str] | None,
                     ok: bool) -> None:
    assert ValueMatch("q", mode, values, False).test(present) is ok


def test_case_sensitive_match() -> None:
    assert not ValueMatch("q", "exact", ("A",), True).test(["a"])


@pytest.mark.parametrize("raw", [
    {"PathPatern": "/x"},
    {"PathPattern": "/x", "PathPrefix": "/y"},
    {"RequestHeader": "X-A"},
    {"RequestHeader": "X-A", "Set": "1", "Append": "2"},
    {"X-Forwarded": "append"},
    {"X-Forwarded": "Set", "For": "set"},
    {"X-Forwarded": "Set", "Bogus": "Set"},
    {"ResponseHeader": "X", "Set": "1", "When": "Sometimes"},
    {"RequestHeadersCopy": "yes"},
    {},
])
def test_invalid_transforms(raw: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        compile_transform(raw, "route 'r' transform 0")


def test_path_transforms_get_their_leading_slash_and_when_ignores_case() -> None:
    # PathTransformFactory.MakePathString; ResponseTransformFactory's When comparison
    req = ForwardRequest("GET", "/a", [], {})
    apply_request_transforms([compile_transform({"PathPrefix": "base"}, "t")], req, {},
                             client_ip="1.2.3.4", host="h", scheme="http", path_base="/api")
    assert req.path == "/base/a"
    pattern = compile_transform({"PathPattern": "x/{id}"}, "t")
    assert pattern.template is not None and pattern.template.bind({"id": "7"}) == "/x/7"
    always = compile_transform({"ResponseHeader": "X-A", "Set": "1", "When": "always"}, "t")
    assert apply_response_transforms([always], 500, []) == [("X-A", "1")]


def test_transforms_apply() -> None:
    route = RouteTemplate.parse("/rest/v1/cameras/{cameraId}/ptzPresets/{ptzId}")
    values = route.match(split_path("/rest/v1/cameras/c1/ptzPresets/p2"))
    assert values is not None
    transforms = [compile_transform(t, "t") for t in (
        {"PathPattern": "/REST/v1/Internal/CameraCommands/ptzPresets"},
        {"QueryRouteParameter": "cameraId", "Set": "cameraId"},
        {"QueryRouteParameter": "ptzId", "Append": "ptzId"},
        {"queryvalueparameter": "v", "set": "1"},  # keys ignore case
        {"RequestHeader": "X-Forwarded-Prefix", "Append": "/api/idp"},
        {"X-Forwarded": "Append", "Prefix": "Off"},
        {"RequestHeaderRemove": "Cookie"},
    )]
    req = ForwardRequest("GET", "/rest/v1/cameras/c1/ptzPresets/p2", [("task", "go")],
                         {"cookie": "a=b", "x-forwarded-for": "10.0.0.9"})
    apply_request_transforms(transforms, req, values, client_ip="127.0.0.1", host="gw",
                             scheme="http", path_base="/api")
    assert req.path == "/REST/v1/Internal/CameraCommands/ptzPresets"
    assert req.query == [("task", "go"), ("cameraId", "c1"), ("ptzId", "p2"), ("v", "1")]
    assert "cookie" not in req.headers
    assert req.headers["x-forwarded-for"] == "10.0.0.9,127.0.0.1"
    assert req.headers["x-forwarded-prefix"] == "/api/idp"
    out = apply_response_transforms(
        [compile_transform({"ResponseHeader": "X-A", "Set": "1"}, "t"),
         compile_transform({"ResponseHeader": "X-F", "Append": "2", "When": "Failure"}, "t")],
        200, [("x-a", "0")])
    assert out == [("X-A", "1")]
