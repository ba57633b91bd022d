"""Typed route and cluster settings: what YARP parses at start, and what its validators refuse.

YARP turns the ``ReverseProxy`` section into objects on the first load
(microsoft/reverse-proxy src/ReverseProxy/Configuration/ConfigProvider/
ConfigurationConfigProvider.cs), parsing typed values with
``ConfigurationReadingExtensions`` (same folder): ``int.Parse`` / ``long.Parse`` (leading
sign, invariant), ``bool.Parse``, ``TimeSpan.ParseExact(value, "c")``, ``new Uri(value)``,
``Enum.Parse(value, ignoreCase: true)`` and ``Version.Parse``. A value that does not
parse throws, and on the first load that stops the gateway. An empty string is a value
too (``""`` does not parse) -- except for ``HttpRequest:Version``, which ``ReadVersion``
skips when empty; an empty section is no value. ``int.Parse``/``long.Parse`` run with
``NumberStyles.AllowLeadingSign`` only, so ``" 20"`` does not parse, while
``TimeSpan.ParseExact(.., "c")`` skips blanks around the value (dotnet/runtime
src/libraries/System.Private.CoreLib/src/System/Globalization/TimeSpanParse.cs,
``StringParser.TryParse``). Then ``ConfigValidator``
runs the cluster validators (src/ReverseProxy/Configuration/ClusterValidators/
LoadBalancingValidator.cs, SessionAffinityValidator.cs, HealthCheckValidator.cs,
ProxyHttpClientValidator.cs); each error they add stops the gateway too.

`problems` is the one implementation: the rule ``proxy-setting-value`` reports what it
finds, and the simulator refuses to start on it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

#: a key path inside a route or cluster, as spelled in YARP's configuration contract
Path = tuple[str, ...]
Parser = Callable[[str], bool]

_INT = re.compile(r"^\s*[+-]?[0-9]+\s*$")
# int.Parse(value, NumberStyles.AllowLeadingSign): no surrounding blanks
_STRICT_INT = re.compile(r"^[+-]?[0-9]+$")
# TimeSpan's constant ("c") format: [-][d.]hh:mm[:ss[.fffffff]], or whole days
_TIMESPAN = re.compile(r"^-?(?:(?P<d>[0-9]+)\.)?(?P<h>[0-9]{1,2}):(?P<m>[0-9]{1,2})"
                       r"(?::(?P<s>[0-9]{1,2})(?:\.[0-9]{1,7})?)?$|^-?[0-9]+$")
_VERSION = re.compile(r"^[0-9]+(\.[0-9]+){1,3}$")


def _int(bits: int) -> Parser:
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return lambda v: bool(_STRICT_INT.match(v)) and low <= int(v) <= high


def _bool(value: str) -> bool:
    return value.strip().lower() in ("true", "false")


def _timespan(value: str) -> bool:
    m = _TIMESPAN.match(value.strip(" \t"))
    if m is None:
        return False
    return (m.group("h") is None or int(m.group("h")) < 24) and (
        m.group("m") is None or int(m.group("m")) < 60) and (
        m.group("s") is None or int(m.group("s")) < 60)


def _enum(*names: str) -> Parser:
    folded = {n.lower() for n in names}
    # Enum.Parse also takes the underlying number and comma-separated names
    return lambda v: bool(v.strip()) and all(
        p.strip().lower() in folded or bool(_INT.match(p)) for p in v.split(","))


def _uri(value: str) -> bool:
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/\s]+", value.strip()))


def _version(value: str) -> bool:
    text = value.strip()
    if not value:
        return True  # ReadVersion: an empty string is no version
    return _VERSION.match(text if "." in text else text + ".0") is not None


def timespan_seconds(value: str) -> float | None:
    """The length of a valid constant-format TimeSpan, in seconds (sign included)."""
    value = value.strip(" \t")
    m = _TIMESPAN.match(value)
    if m is None:
        return None
    sign = -1.0 if value.startswith("-") else 1.0
    if m.group("h") is None:
        return sign * int(value.lstrip("-")) * 86400
    seconds = int(m.group("d") or 0) * 86400 + int(m.group("h")) * 3600 + int(m.group("m")) * 60
    return sign * (seconds + int(m.group("s") or 0))


#: typed values of a route: path -> (parser, type shown to the user)
ROUTE_VALUES: dict[Path, tuple[Parser, str]] = {
    ("MaxRequestBodySize",): (_int(64), "a whole number (Int64)"),
}
#: typed values of a cluster
CLUSTER_VALUES: dict[Path, tuple[Parser, str]] = {
    ("SessionAffinity", "Enabled"): (_bool, "true or false"),
    ("SessionAffinity", "Cookie", "SameSite"): (
        _enum("Unspecified", "None", "Lax", "Strict"), "Unspecified, None, Lax or Strict"),
    ("SessionAffinity", "Cookie", "HttpOnly"): (_bool, "true or false"),
    ("SessionAffinity", "Cookie", "MaxAge"): (_timespan, "a TimeSpan such as 01:00:00"),
    ("SessionAffinity", "Cookie", "IsEssential"): (_bool, "true or false"),
    ("SessionAffinity", "Cookie", "SecurePolicy"): (
        _enum("SameAsRequest", "Always", "None"), "SameAsRequest, Always or None"),
    ("SessionAffinity", "Cookie", "Expiration"): (_timespan, "a TimeSpan such as 01:00:00"),
    ("HealthCheck", "Passive", "Enabled"): (_bool, "true or false"),
    ("HealthCheck", "Passive", "ReactivationPeriod"): (_timespan,
                                                       "a TimeSpan such as 00:02:00"),
    ("HealthCheck", "Active", "Enabled"): (_bool, "true or false"),
    ("HealthCheck", "Active", "Interval"): (_timespan, "a TimeSpan such as 00:00:15"),
    ("HealthCheck", "Active", "Timeout"): (_timespan, "a TimeSpan such as 00:00:10"),
    ("HttpClient", "DangerousAcceptAnyServerCertificate"): (_bool, "true or false"),
    ("HttpClient", "MaxConnectionsPerServer"): (_int(32), "a whole number (Int32)"),
    ("HttpClient", "EnableMultipleHttp2Connections"): (_bool, "true or false"),
    ("HttpClient", "WebProxy", "Address"): (_uri, "an absolute URI"),
    ("HttpClient", "WebProxy", "BypassOnLocal"): (_bool, "true or false"),
    ("HttpClient", "WebProxy", "UseDefaultCredentials"): (_bool, "true or false"),
    ("HttpRequest", "ActivityTimeout"): (_timespan, "a TimeSpan such as 00:01:40"),
    ("HttpRequest", "Version"): (_version, "an HTTP version such as 1.1 or 2"),
    ("HttpRequest", "VersionPolicy"): (
        _enum("RequestVersionOrLower", "RequestVersionOrHigher", "RequestVersionExact"),
        "RequestVersionOrLower, RequestVersionOrHigher or RequestVersionExact"),
    ("HttpRequest", "AllowResponseBuffering"): (_bool, "true or false"),
}
_SSL_PROTOCOLS = _enum("None", "Ssl2", "Ssl3", "Tls", "Default", "Tls11", "Tls12", "Tls13")

#: the policies YARP registers (names compare ignoring case)
LOAD_BALANCING = ("PowerOfTwoChoices", "FirstAlphabetical", "Random", "RoundRobin",
                  "LeastRequests")
AVAILABLE_DESTINATIONS = ("HealthyAndUnknown", "HealthyOrPanic")
ACTIVE_POLICIES = ("ConsecutiveFailures",)
PASSIVE_POLICIES = ("TransportFailureRate",)
AFFINITY_POLICIES = ("Cookie", "HashCookie", "ArrCookie", "CustomHeader")
AFFINITY_FAILURE_POLICIES = ("Redistribute", "Return503Error")
#: what Encoding.GetEncoding knows on .NET without extra code pages
ENCODINGS = frozenset({"utf-8", "utf8", "utf-16", "utf-16le", "utf-16be", "unicode",
                       "unicodefffe", "utf-32", "utf-32le", "utf-32be", "us-ascii", "ascii",
                       "iso-8859-1", "latin1", "iso_8859-1", "l1", "cp819", "ibm819",
                       "utf-7", "x-unicode20utf8", "unicode-1-1-utf-8", "unicode-2-0-utf-8"})

Finding = tuple[str, Path]


def _child(node: Any, key: str) -> Any:
    if isinstance(node, Mapping):
        k = key.lower()
        for name, value in node.items():
            if str(name).lower() == k:
                return value
    return None


def _at(node: Any, path: Path) -> Any:
    for key in path:
        node = _child(node, key)
    return node


def _text(node: Any, path: Path) -> str | None:
    """``configuration[path]``: a string, or None for an absent key or a section."""
    value = _at(node, path)
    return value if isinstance(value, str) else None


def _typed(node: Any, table: Mapping[Path, tuple[Parser, str]]) -> Iterator[Finding]:
    for path, (parse, kind) in table.items():
        value = _text(node, path)
        if value is not None and not parse(value):
            yield f"{':'.join(path)} {value!r} is not {kind}", path


def _policy(node: Any, path: Path, known: tuple[str, ...], what: str) -> Iterator[Finding]:
    value = _text(node, path)
    if value and value.lower() not in {k.lower() for k in known}:
        yield (f"{':'.join(path)} {value!r} is not a registered {what} policy "
               f"({', '.join(known)})", path)


def _positive(node: Any, path: Path) -> Iterator[Finding]:
    value = _text(node, path)
    seconds = timespan_seconds(value) if value else None
    if seconds is not None and seconds <= 0:
        yield f"{':'.join(path)} {value!r} must be positive", path


def _enabled(node: Any, path: Path) -> bool:
    return (_text(node, path) or "").strip().lower() == "true"


#: route policies -> the keywords YARP's route validators accept without a registered
#: policy of that name (src/ReverseProxy/Configuration/RouteValidators/
#: AuthorizationPolicyValidator.cs, CorsPolicyValidator.cs; AuthorizationConstants.cs,
#: CorsConstants.cs). The gateway registers no named policy gwctl knows of.
ROUTE_POLICIES: dict[str, tuple[str, ...]] = {
    "AuthorizationPolicy": ("Default", "Anonymous"),
    "CorsPolicy": ("Default", "Disable"),
}


#: the members of a route and of a cluster that `route_problems` and `cluster_problems`
#: read (folded). Each function sees only these (`route_part`, `cluster_part`), so a check
#: that reads another member finds nothing and its test fails until it is listed here;
#: callers may therefore judge routes and clusters that agree on these members alike.
ROUTE_MEMBERS = frozenset({*(p[0].lower() for p in ROUTE_VALUES), "routeid",
                           *(k.lower() for k in ROUTE_POLICIES)})
CLUSTER_MEMBERS = frozenset({*(p[0].lower() for p in CLUSTER_VALUES), "httpclient",
                             "loadbalancingpolicy", "healthcheck", "sessionaffinity"})


def _part(node: Any, members: frozenset[str]) -> dict[str, Any]:
    if not isinstance(node, Mapping):
        return {}
    return {k: v for k, v in node.items() if str(k).lower() in members}


def route_part(route: Any) -> dict[str, Any]:
    """The members of `route` that decide `route_problems` (not Match, not Transforms)."""
    return _part(route, ROUTE_MEMBERS)


def cluster_part(cluster: Any) -> dict[str, Any]:
    """The members of `cluster` that decide `cluster_problems` (not its Destinations)."""
    return _part(cluster, CLUSTER_MEMBERS)


def route_problems(route: Any) -> list[Finding]:
    """Why YARP refuses this route's settings at start (``ConfigurationConfigProvider``)."""
    route = route_part(route)
    out = list(_typed(route, ROUTE_VALUES))
    if _text(route, ("RouteId",)):
        out.append(("a RouteId field: YARP refuses it (routes are objects named by their "
                    "id since 1.0)", ("RouteId",)))
    for key, keywords in ROUTE_POLICIES.items():
        value = _text(route, (key,))
        if value and value.lower() not in {k.lower() for k in keywords}:
            out.append((f"{key} {value!r} names no policy the gateway registers (YARP "
                        f"accepts {' or '.join(keywords)} here)", (key,)))
    return out


def host_problem(host: object) -> str | None:
    """Why YARP's ``HostValidator`` refuses one ``Match.Hosts`` entry, or None.

    microsoft/reverse-proxy src/ReverseProxy/Configuration/RouteValidators/HostValidator.cs:
    an empty name (``string.IsNullOrEmpty``: a blank is a name) and a punycode name
    (``xn--``, any case; the unicode spelling is required) are errors.
    """
    if not isinstance(host, str) or host == "":
        return "has an empty host name"
    if "xn--" in host.lower():
        return (f"has the punycode host name {host!r} (YARP refuses it: write the unicode "
                "host name)")
    return None


def cluster_problems(cluster: Any) -> list[Finding]:
    """Why YARP refuses this cluster's settings at start (reading, then the validators)."""
    cluster = cluster_part(cluster)
    out = list(_typed(cluster, CLUSTER_VALUES))
    for i, item in _items(_at(cluster, ("HttpClient", "SslProtocols"))):
        if isinstance(item, str) and not _SSL_PROTOCOLS(item):
            out.append((f"HttpClient:SslProtocols:{i} {item!r} is not an SslProtocols name",
                        ("HttpClient", "SslProtocols", i)))
    if out:
        return out  # reading failed: the validators never run
    out += _policy(cluster, ("LoadBalancingPolicy",), LOAD_BALANCING, "load balancing")
    out += _policy(cluster, ("HealthCheck", "AvailableDestinationsPolicy"),
                   AVAILABLE_DESTINATIONS, "available destinations")
    if _enabled(cluster, ("HealthCheck", "Active", "Enabled")):
        out += _policy(cluster, ("HealthCheck", "Active", "Policy"), ACTIVE_POLICIES,
                       "active health check")
        out += _positive(cluster, ("HealthCheck", "Active", "Interval"))
        out += _positive(cluster, ("HealthCheck", "Active", "Timeout"))
    if _enabled(cluster, ("HealthCheck", "Passive", "Enabled")):
        out += _policy(cluster, ("HealthCheck", "Passive", "Policy"), PASSIVE_POLICIES,
                       "passive health check")
        out += _positive(cluster, ("HealthCheck", "Passive", "ReactivationPeriod"))
    if _enabled(cluster, ("SessionAffinity", "Enabled")):
        out += _policy(cluster, ("SessionAffinity", "Policy"), AFFINITY_POLICIES,
                       "session affinity")
        out += _policy(cluster, ("SessionAffinity", "FailurePolicy"),
                       AFFINITY_FAILURE_POLICIES, "affinity failure")
        if not _text(cluster, ("SessionAffinity", "AffinityKeyName")):
            out.append(("SessionAffinity is enabled without an AffinityKeyName",
                        ("SessionAffinity",)))
        out += _positive(cluster, ("SessionAffinity", "Cookie", "Expiration"))
        out += _positive(cluster, ("SessionAffinity", "Cookie", "MaxAge"))
    limit = _text(cluster, ("HttpClient", "MaxConnectionsPerServer"))
    if limit is not None and int(limit) <= 0:
        out.append((f"HttpClient:MaxConnectionsPerServer {limit!r} must be positive",
                    ("HttpClient", "MaxConnectionsPerServer")))
    for key in ("RequestHeaderEncoding", "ResponseHeaderEncoding"):
        enc = _text(cluster, ("HttpClient", key))
        if enc is not None and enc.strip().lower() not in ENCODINGS:
            out.append((f"HttpClient:{key} {enc!r} is not an encoding .NET knows",
                        ("HttpClient", key)))
    return out


def _items(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, Mapping):
        yield from ((str(k), v) for k, v in node.items())
    elif isinstance(node, list):
        yield from ((str(i), v) for i, v in enumerate(node))
