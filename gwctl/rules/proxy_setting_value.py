"""A route or cluster setting YARP cannot read or refuses: the gateway does not start.

YARP parses the typed settings of routes and clusters on the first load and runs its
validators on the result; any failure stops the gateway (microsoft/reverse-proxy
src/ReverseProxy/Configuration/ConfigProvider/ConfigurationConfigProvider.cs, which
rethrows on the first load, and ConfigurationReadingExtensions.cs; the validators in
src/ReverseProxy/Configuration/ClusterValidators/ HealthCheckValidator.cs,
SessionAffinityValidator.cs, ProxyHttpClientValidator.cs, LoadBalancingValidator.cs, the
session-affinity policy in src/ReverseProxy/SessionAffinity/AffinitizeTransformProvider.cs,
and src/ReverseProxy/Configuration/RouteValidators/ AuthorizationPolicyValidator.cs,
CorsPolicyValidator.cs; policy names compare ignoring case,
src/ReverseProxy/Utilities/ServiceLookupHelper.cs). Checked (`gwctl.yarp.settings`, which
the simulator uses too):

* values that must parse: booleans (``SessionAffinity:Enabled``, ``HealthCheck:Active:
  Enabled``, ``HttpClient:DangerousAcceptAnyServerCertificate``, ...), TimeSpans in the
  constant format ``[d.]hh:mm:ss`` (``HealthCheck:Active:Interval``, ``HttpRequest:
  ActivityTimeout``, cookie ``MaxAge``/``Expiration``; ``30s`` does not parse), whole
  numbers without blanks around them (``HttpClient:MaxConnectionsPerServer``, a route's
  ``MaxRequestBodySize``), enums (``SameSite``, ``SecurePolicy``, ``VersionPolicy``,
  ``SslProtocols`` items), the HTTP ``Version`` and the ``WebProxy:Address`` URI -- an
  empty string does not parse either, except as ``Version`` (no version);
* policy names: ``LoadBalancingPolicy``, ``HealthCheck:AvailableDestinationsPolicy``,
  the active and passive health-check ``Policy`` and the session-affinity ``Policy`` and
  ``FailurePolicy`` when enabled;
* ranges: probing ``Interval``/``Timeout``, ``ReactivationPeriod`` and cookie
  ``Expiration``/``MaxAge`` positive, ``MaxConnectionsPerServer`` positive, an
  ``AffinityKeyName`` when session affinity is enabled, header encodings .NET knows;
* a route's ``AuthorizationPolicy`` / ``CorsPolicy`` naming a policy the gateway does not
  register (only the keywords Default/Anonymous and Default/Disable are known);
* a route with the pre-1.0 ``RouteId`` field.

PASS::

    clusters:
      vendor:
        HealthCheck: {Active: {Enabled: true, Interval: "00:00:15", Policy: ConsecutiveFailures}}
        HttpClient: {MaxConnectionsPerServer: 20}

FAIL::

    clusters:
      vendor:
        HealthCheck: {Active: {Enabled: true, Interval: 15s}}
        HttpClient: {MaxConnectionsPerServer: 0}
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules import _cfg, _yarp_routes
from gwctl.rules._memo import by_identity
from gwctl.rules.base import Options
from gwctl.rules.target import Target
from gwctl.yarp import settings

ID: Final = "proxy-setting-value"
LEVEL: Final = Level.ERROR
EFFECT: Final = "start"
OPTIONS: Final[dict[str, Any]] = {}


def _strings(node: Any) -> Any:
    """The section as the configuration holds it: every leaf a string (or absent)."""
    if isinstance(node, dict):
        return {k: _strings(v) for k, v in node.items()}
    if _cfg.is_section(node):
        return [_strings(v) for v in _cfg.children(node)]
    return _cfg.text(node)


def _frozen(node: Any) -> Hashable:
    """`_strings` of the section as a hashable value (equal exactly when those are equal)."""
    if isinstance(node, dict):
        return ("{", tuple((k, _frozen(v)) for k, v in node.items()))
    if _cfg.is_section(node):
        return ("[", tuple(_frozen(v) for v in _cfg.children(node)))
    return _cfg.text(node)


def check(target: Target, options: Options) -> Iterator[Problem]:
    if target.view is None:
        return
    for route in _yarp_routes.routes(target):
        found = route.facts.memo.get(ID)
        if found is None:
            found = settings.route_problems(_strings(settings.route_part(route.data)))
            route.facts.memo[ID] = found
        for message, path in found:
            yield from target.report(ID, LEVEL, f"route {route.id!r}: {message}",
                                     (*route.key, *path))
    # site clusters are shared objects; the reference base's clusters are copied per
    # gateway (their destination URLs differ) but their settings are alike: judge each
    # distinct set of the members YARP parses (`settings.cluster_part`) once per run
    judged: dict[Hashable, list[settings.Finding]] = target.shared.setdefault(
        (ID, "content"), {})

    def judge(cluster: Any) -> list[settings.Finding]:
        part = settings.cluster_part(cluster)
        key = _frozen(part)
        found = judged.get(key)
        if found is None:
            found = judged[key] = settings.cluster_problems(_strings(part))
        return found

    memo = by_identity(target.shared, ID)
    for cid, cluster in _cfg.items(_cfg.walk(target.view, _yarp_routes.CLUSTERS)):
        for message, path in memo.get(cluster, judge):
            yield from target.report(ID, LEVEL, f"cluster {cid!r}: {message}",
                                     (*_yarp_routes.CLUSTERS, cid, *path))
