"""The running configuration of an emulated gateway: what it loaded at its last start.

IIS starts the gateway's worker process when the app pool starts or recycles; ASP.NET Core
then reads ``appsettings.json`` and ``appsettings.Production.json`` once (the
environment is Production) and YARP validates its routes and clusters. The emulation
does the same with gwctl's .NET configuration model (`gwctl.netjson`): comments and
trailing commas are accepted, keys ignore case, a duplicate key, a non-object top level,
a syntax error, an invalid log level or boolean, or a proxy configuration YARP refuses is
a failed start, and a failed start answers every request with 503 until the files are
fixed *and* the pool is recycled. Editing the files changes nothing until then.

YARP start-up checks emulated (`gwctl.sim.routing` for templates and transforms): a
route needs ``Match`` with ``Path`` or ``Hosts``; the path template must parse (unknown
inline constraint, bad regex, misplaced catch-all...); ``Order`` must be an integer;
``Methods`` without duplicates; header and query-parameter matches need ``Name``, a known
``Mode`` and ``Values`` unless the mode is ``Exists``/``NotExists`` (and none then);
every transform is one known transform with its companions; ``AuthorizationPolicy`` /
``CorsPolicy`` must name a known policy; every destination needs an ``Address``;
``LoadBalancingPolicy`` must be known. Not start-up errors (`gwctl.yarp`): a route whose
``ClusterId`` names no cluster answers its requests 503; a destination ``Address`` that
is not an absolute http(s) URI answers them 502; an unknown inline route constraint
makes every request answer 500 (the endpoint matcher is built on the first request).

The emulated gateway runs the .NET of its release (`gwctl.versions.dotnet`, the default
of ``gwctl lint-file`` and of a fleet's gateways), unless its host was given another
(``gwctl sim up --gateway-dotnet NAME=10``): up to .NET 9 a JSON ``null`` reads as ``""``
and ``[]`` as an empty section, from .NET 10 a ``null`` stays null and ``[]`` is ``""``.

A gateway whose configuration does not load answers every request with 503: the
manual's troubleshooting chapter lists 502/503 for it, and IIS stops an app pool whose
worker keeps failing (its own 503). That status is the simulator's choice, not YARP's.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gwctl.cors.origins import normalized_origin
from gwctl.errors import InputError
from gwctl.netjson import runtime as dotnet
from gwctl.netjson.config import Effective, FlatConfig, flatten_document, flatten_value
from gwctl.netjson.parser import parse
from gwctl.ops.winpaths import child
from gwctl.rules import _logging
from gwctl.sim.routing import (
    HEADER_MODES,
    QUERY_MODES,
    ConfigError,
    Endpoint,
    EndpointTable,
    RouteTemplate,
    Transform,
    ValueMatch,
    compile_transform,
)
from gwctl.sim.state import utc_now_text
from gwctl.textio import decode
from gwctl.versions.dotnet import runtime_for
from gwctl.versions.features import supports
from gwctl.versions.release import Version
from gwctl.yarp import destination, settings

log = logging.getLogger("gwctl.sim")

BASE_FILE = "appsettings.json"
PRODUCTION_FILE = "appsettings.Production.json"
HTTP_METHODS = frozenset({"HEAD", "OPTIONS", "GET", "PUT", "POST", "PATCH", "DELETE", "TRACE"})
#: Google's public STUN server, the 2023 R1/R2 default (WebRTC.STUN.Hostname.Address)
LEGACY_DEFAULT_STUN = "stun:stun1.l.google.com:19302"


# -- helpers over the configuration tree ------------------------------------------------------


def ci(node: Any, key: str) -> Any:
    """Child `key` of a configuration section, ignoring case (None when absent)."""
    if isinstance(node, dict):
        k = key.lower()
        for name, value in node.items():
            if name.lower() == k:
                return value
    return None


def children(node: Any) -> Iterator[tuple[str, Any]]:
    """(key, child) of a section, whether it came out as an object or an index list."""
    if isinstance(node, dict):
        yield from node.items()
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield str(i), item


def items_of(node: Any) -> list[Any]:
    return [v for _, v in children(node)]


def parse_bool(value: Any, where: str, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ConfigError(f"Failed to convert configuration value '{value}' at '{where}' to type "
                      "'System.Boolean'.")


def parse_int(value: Any, where: str, default: int = 0) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ConfigError(f"Failed to convert configuration value '{value}' at '{where}' to type "
                      "'System.Int32'.")


def csv_values(value: Any) -> list[str]:
    if not isinstance(value, str):
        return []
    return [v.strip() for v in value.split(",") if v.strip()]


# -- CORS ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CorsPolicy:
    """The gateway's CORS section: which origins get ``Access-Control-Allow-*`` headers."""

    any_origin: bool
    origins: frozenset[str]
    headers: str | None
    methods: str | None
    any_header: bool
    any_method: bool
    header_list: frozenset[str]
    method_list: frozenset[str]

    @classmethod
    def from_section(cls, section: Any) -> CorsPolicy | None:
        if not parse_bool(ci(section, "Enabled"), "CORS:Enabled"):
            return None
        origins = csv_values(ci(section, "Access-Control-Allow-Origin"))
        headers = csv_values(ci(section, "Access-Control-Allow-Headers"))
        methods = csv_values(ci(section, "Access-Control-Allow-Methods"))
        return cls(
            # CorsPolicy.AllowAnyOrigin: only a sole "*"; elsewhere it is a literal
            any_origin=origins == ["*"],
            # CorsPolicyBuilder lowercases configured origins (a trailing slash or a path
            # stays, and never matches) and writes an IDN host in punycode; a browser's
            # Origin header is compared exactly
            origins=frozenset(normalized_origin(o) for o in origins),
            headers=", ".join(headers) if headers else None,
            methods=", ".join(methods) if methods else None,
            any_header="*" in headers,
            any_method="*" in methods,
            header_list=frozenset(h.lower() for h in headers),
            method_list=frozenset(m.upper() for m in methods),
        )

    def allows(self, origin: str) -> bool:
        return self.any_origin or origin in self.origins

    def response_headers(self, origin: str) -> list[tuple[bytes, bytes]]:
        """Headers of an actual (non-preflight) response from an allowed origin."""
        out = [(b"access-control-allow-origin",
                b"*" if self.any_origin else origin.encode("latin-1"))]
        if self.headers:
            out.append((b"access-control-allow-headers", self.headers.encode("latin-1")))
        if self.methods:
            out.append((b"access-control-allow-methods", self.methods.encode("latin-1")))
        if not self.any_origin:
            out.append((b"vary", b"Origin"))
        return out

    def preflight(self, origin: str, method: str, request_headers: str | None
                  ) -> list[tuple[bytes, bytes]]:
        """Headers of a preflight answer; empty when the policy refuses it."""
        if not self.allows(origin):
            return []
        if not self.any_method and method.upper() not in self.method_list:
            return []
        wanted = [h.strip().lower() for h in (request_headers or "").split(",") if h.strip()]
        if not self.any_header and any(h not in self.header_list for h in wanted):
            return []
        return self.response_headers(origin)


# -- ICE servers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class IceServer:
    url: str
    username: str | None = None
    credential: str | None = None

    @property
    def scheme(self) -> str:
        return self.url.split(":", 1)[0].lower()


def _ice_servers(webrtc: Any, version: Version) -> list[IceServer]:
    if supports("webrtc-ice-servers", version):
        out = []
        for item in items_of(ci(webrtc, "iceServers")):
            url = ci(item, "url") or ci(item, "urls")
            if isinstance(url, str) and url:
                out.append(IceServer(url, ci(item, "username"), ci(item, "credential")))
        return out
    if supports("webrtc-stun-single", version):
        address = ci(ci(ci(webrtc, "STUN"), "Hostname"), "Address")
        if isinstance(address, str) and address:
            url = address if ":" in address and address.split(":")[0].lower().startswith(
                ("stun", "turn")) else f"stun:{address}"
            return [IceServer(url)]
        return [IceServer(LEGACY_DEFAULT_STUN)]
    return []


# -- the running configuration ---------------------------------------------------------------


@dataclass
class Cluster:
    id: str
    destinations: list[tuple[str, str]]  # (name, address)


@dataclass
class RunningConfig:
    ok: bool
    reason: str | None = None
    loaded_at: str = field(default_factory=utc_now_text)
    endpoints: EndpointTable = field(default_factory=lambda: EndpointTable([]))
    clusters: dict[str, Cluster] = field(default_factory=dict)
    cors: CorsPolicy | None = None
    ice_servers: list[IceServer] = field(default_factory=list)
    log_levels: dict[str, str] = field(default_factory=dict)
    #: sha256 of the files the configuration was loaded from (None: absent)
    files: dict[str, str | None] = field(default_factory=dict)
    route_count: int = 0
    #: why the endpoint matcher cannot be built (every request answers 500), or None
    matcher_error: str | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.ok else "503",
            "reason": self.reason,
            "loaded_at": self.loaded_at,
            "routes": self.route_count,
            "clusters": sorted(c.id for c in self.clusters.values()),
            "cors": (None if self.cors is None else
                     sorted(self.cors.origins) if not self.cors.any_origin else ["*"]),
            "ice_servers": [s.url for s in self.ice_servers],
            "files": self.files,
        }


def _read_source(path: Path, trusted: str | None = None, runtime: int = dotnet.DEFAULT
                 ) -> tuple[FlatConfig | None, str | None]:
    """The flattened file (None when absent) and its sha256; ConfigError when unusable.

    A file whose digest is `trusted` (the reference base the simulator installed, strict
    JSON after its ``//`` header) takes a fast path through the standard JSON parser.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        raise ConfigError(f"{path.name}: cannot be read: {exc.strerror}") from None
    digest = hashlib.sha256(data).hexdigest()
    if trusted is not None and digest == trusted:
        body = b"".join(line for line in data.splitlines(keepends=True)
                        if not line.lstrip().startswith(b"//"))
        try:
            value = json.loads(body)
        except ValueError:
            value = None
        if isinstance(value, dict):
            return flatten_value(value, path.name, runtime), digest
    try:
        text = decode(data, file=path.name)
        doc = parse(text, file=path.name)
        flat = flatten_document(doc, runtime)
    except InputError as exc:
        raise ConfigError(str(exc)) from None
    if flat.duplicates:
        dup = flat.duplicates[0]
        where = f"{path.name}:{dup.second.line}:{dup.second.column}: " if dup.second.line else ""
        raise ConfigError(f"{where}A duplicate key '{dup.key}' was found.")
    return flat, digest


def startup_problem(files: Sequence[Path], base: Path | None, version: Version,
                    runtime: int | None = None) -> str | None:
    """The first start-up failure gwctl's own rules find in the live files, if any.

    The checks are those of ``gwctl lint-file`` (`gwctl.rules.runner.lint_files`, limited to
    the rules whose ``EFFECT`` is ``start``: `gwctl.rules.startup_rule_ids`), so the
    simulator and the linter agree on what stops a gateway; the compile step after it
    (which the emulation needs anyway) catches the rest.
    """
    try:
        from gwctl.problems import Level
        from gwctl.rules import startup_rule_ids
        from gwctl.rules.runner import lint_files
    except ImportError:  # pragma: no cover - the rules package is optional here
        return None
    startup = startup_rule_ids()
    try:
        problems = lint_files([str(f) for f in files], base=str(base) if base else None,
                              version=version.name, only=set(startup),
                              dotnet_version=runtime)
    except Exception as exc:  # a linter bug must not take the emulation down
        log.warning("gwctl lint failed on %s: %s", [str(f) for f in files], exc)
        return None
    for p in problems:
        if p.level is Level.ERROR and p.rule in startup:
            where = Path(p.file).name if p.file else ""
            if where and p.line:
                where += f":{p.line}" + (f":{p.column}" if p.column else "")
            return f"{where + ': ' if where else ''}{p.message} ({p.rule})"
    return None


def load_running_config(install_dir: Path, version: Version,
                        internal: Sequence[Endpoint] = (),
                        trusted_base: str | None = None,
                        runtime: int | None = None,
                        environment: str = "Production") -> RunningConfig:
    """Start the gateway on the files in `install_dir`; never raises.

    `runtime`: the gateway's .NET major version (default: its release's).

    `trusted_base`: sha256 of an ``appsettings.json`` known to be valid (the bundled
    reference the simulator installed), whose lint is skipped when no environment file
    exists -- it keeps the start of hundreds of gateways fast. `environment` is the
    hosting environment (`gwctl.iis.behaviour.effective_environment`): the host loads
    ``appsettings.{environment}.json`` over the base, found as NTFS finds names (ignoring
    case), so a Staging gateway never reads ``appsettings.Production.json``.
    """
    files: dict[str, str | None] = {}
    if runtime is None:
        runtime = runtime_for(version)
    env_name = f"appsettings.{environment}.json"
    env_path = child(install_dir, env_name)
    try:
        sources = []
        for name, path in ((BASE_FILE, install_dir / BASE_FILE), (env_name, env_path)):
            flat, digest = _read_source(path, trusted_base if name == BASE_FILE else None,
                                        runtime)
            files[name] = digest
            if flat is not None:
                sources.append(flat)
        base = install_dir / BASE_FILE
        production = env_path
        if files[env_name] is not None:
            problem = startup_problem([production], base if files[BASE_FILE] else None,
                                      version, runtime)
        elif files[BASE_FILE] is not None and files[BASE_FILE] != trusted_base:
            problem = startup_problem([base], None, version, runtime)
        else:
            problem = None
        if problem:
            raise ConfigError(problem)
        eff = Effective(sources)
        config = _build(eff, version, internal)
    except ConfigError as exc:
        return RunningConfig(ok=False, reason=str(exc), files=files)
    config.files = files
    return config


def _build(eff: Effective, version: Version, internal: Sequence[Endpoint]) -> RunningConfig:
    tree = eff.tree()
    levels: dict[str, str] = {}
    for category, level in children(ci(ci(tree, "Logging"), "LogLevel")):
        if not isinstance(level, str) or _logging.skipped(level):
            continue  # null (.NET 10) or empty: the category keeps the default level
        if not _logging.is_level(level):
            raise ConfigError(f"Configuration value '{level}' for category '{category}' is "
                              "not supported.")
        levels[category] = level
    cors = CorsPolicy.from_section(ci(tree, "CORS")) if supports("cors", version) else None
    ice = _ice_servers(ci(tree, "WebRTC"), version)
    proxy = ci(tree, "ReverseProxy")
    clusters = _clusters(ci(proxy, "Clusters"))
    routes = _routes(ci(proxy, "Routes"))
    unresolved = [f"route '{r.id}' {e}" for r in routes for e in r.template.constraint_errors]
    return RunningConfig(
        ok=True,
        matcher_error=unresolved[0] if unresolved else None,
        endpoints=EndpointTable([*routes, *internal]),
        clusters=clusters,
        cors=cors,
        ice_servers=ice,
        log_levels=levels,
        route_count=len(routes),
    )


def _clusters(section: Any) -> dict[str, Cluster]:
    out: dict[str, Cluster] = {}
    for cluster_id, cluster in children(section):
        where = f"cluster '{cluster_id}'"
        refused = settings.cluster_problems(cluster)
        if refused:
            raise ConfigError(f"The {where}: {refused[0][0]}.")
        destinations = []
        for name, dest in children(ci(cluster, "Destinations")):
            address = ci(dest, "Address")
            if not isinstance(address, str) or destination.missing(address):
                raise ConfigError(f"No address found for destination '{name}' on {where}.")
            # any other address loads; a request to an unusable one fails (gateway.py)
            destinations.append((name, address.strip()))
        out[cluster_id.lower()] = Cluster(cluster_id, destinations)
    return out


def _value_matches(section: Any, where: str, kind: str) -> tuple[ValueMatch, ...]:
    modes = QUERY_MODES if kind == "query" else HEADER_MODES
    default_mode = "exact" if kind == "query" else "exactheader"
    out = []
    for i, item in enumerate(items_of(section)):
        here = f"{where} {kind} match {i}"
        name = ci(item, "Name")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{here}: A null or empty name has been set.")
        mode_text = ci(item, "Mode")
        # absent: the default; present but empty (or null): Enum.Parse throws
        mode = default_mode if not isinstance(mode_text, str) else mode_text.lower()
        if mode not in modes:
            raise ConfigError(f"{here}: '{mode_text}' is not a valid value for Mode.")
        values = tuple(v for v in items_of(ci(item, "Values")) if isinstance(v, str))
        existence = mode in ("exists", "notexists")
        if existence and values:
            raise ConfigError(f"{here}: Values must not be set when Mode is '{mode_text}'.")
        if not existence and not values:
            raise ConfigError(f"{here}: Values are required when Mode is "
                              f"'{mode_text or default_mode}'.")
        sensitive = parse_bool(ci(item, "IsCaseSensitive"), f"{here}:IsCaseSensitive")
        out.append(ValueMatch(name, mode, values, sensitive))
    return tuple(out)


def _routes(section: Any) -> list[Endpoint]:
    out: list[Endpoint] = []
    for route_id, route in children(section):
        key = json.dumps([route_id, route], sort_keys=True)
        compiled = _ROUTE_CACHE.get(key)
        if compiled is None:
            compiled = _route(route_id, route)
            if len(_ROUTE_CACHE) >= _ROUTE_CACHE_SIZE:
                _ROUTE_CACHE.clear()
            _ROUTE_CACHE[key] = compiled
        out.append(compiled)
    return out


#: compiled routes by their configuration (gateways of one release share most routes;
#: an Endpoint is never changed after it is built)
_ROUTE_CACHE: dict[str, Endpoint] = {}
_ROUTE_CACHE_SIZE = 4096


def _route(route_id: str, route: Any) -> Endpoint:
    where = f"route '{route_id}'"
    refused = settings.route_problems(route)
    if refused:
        raise ConfigError(f"The {where}: {refused[0][0]}.")
    match = ci(route, "Match")
    if not isinstance(match, dict):
        raise ConfigError(f"The {where} requires Match.")
    path = ci(match, "Path")
    hosts = tuple(h for h in items_of(ci(match, "Hosts")))
    for host in hosts:
        why = settings.host_problem(host)
        if why is not None:
            raise ConfigError(f"The {where} {why}.")
    if not path and not hosts:
        raise ConfigError(f"The {where} requires Hosts or Path specified. Set the Path to "
                          "'/{**catchall}' to match all requests.")
    try:
        template = RouteTemplate.parse(str(path) if path else "/{**catchall}")
    except ConfigError as exc:
        raise ConfigError(f"Invalid path '{path}' for {where}: {exc}") from None
    methods_raw = [str(m).upper() for m in items_of(ci(match, "Methods"))
                   if isinstance(m, str)]
    if len(set(methods_raw)) != len(methods_raw):
        raise ConfigError(f"Duplicate HTTP method in the {where}.")
    unknown = [m for m in methods_raw if m not in HTTP_METHODS]
    if unknown:
        raise ConfigError(f"Unsupported HTTP method '{unknown[0]}' in the {where}.")
    transforms: list[Transform] = []
    for i, raw in enumerate(items_of(ci(route, "Transforms"))):
        if not isinstance(raw, dict):
            raise ConfigError(f"The {where} has an invalid transform {i}.")
        transforms.append(compile_transform(raw, f"{where} transform {i}"))
    cluster = ci(route, "ClusterId")
    return Endpoint(
        id=route_id,
        template=template,
        order=parse_int(ci(route, "Order"), f"ReverseProxy:Routes:{route_id}:Order"),
        methods=frozenset(methods_raw) if methods_raw else None,
        hosts=tuple(str(h) for h in hosts),
        headers=_value_matches(ci(match, "Headers"), where, "header"),
        query=_value_matches(ci(match, "QueryParameters"), where, "query"),
        cluster_id=str(cluster) if isinstance(cluster, str) and cluster else None,
        transforms=tuple(transforms),
    )
