"""Facts: what is on a gateway host now. Reading only; nothing here changes a host."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from gwctl.errors import OperationError
from gwctl.fleet.model import APP_POOL, Gateway
from gwctl.iis.hostinfo import HostInfo
from gwctl.render.files import APPSETTINGS, NLOG
from gwctl.render.nlog import DEFAULT_LOG_DIRECTORY
from gwctl.transport.base import Transport

BASE_FILE = "appsettings.json"


@dataclass(frozen=True)
class LiveFile:
    name: str
    path: str
    exists: bool
    content: bytes | None
    sha256: str | None

    @property
    def expected(self) -> str:
        """The lost-update guard for writing over this file as it was read."""
        return self.sha256 if self.exists and self.sha256 else "absent"


@dataclass(frozen=True)
class HostFacts:
    files: dict[str, LiveFile]
    app_pool: dict[str, Any]
    #: what read_host found (with ``gather(..., with_host=True)``)
    host: HostInfo | None = None

    def file(self, name: str) -> LiveFile:
        return self.files[name]


def read_live_files(transport: Transport, paths: dict[str, str]) -> dict[str, LiveFile]:
    """Several files in one operation (one WinRM command instead of one per file)."""
    return _files(transport.run("stat", {"paths": list(paths.values()), "content": True}),
                  paths)


def _files(result: dict[str, Any], paths: dict[str, str]) -> dict[str, LiveFile]:
    found = result.get("files") or {}
    out = {}
    for name, path in paths.items():
        info = found.get(path) or {}
        if not info.get("exists"):
            out[name] = LiveFile(name, path, False, None, None)
        else:
            out[name] = LiveFile(name, path, True, base64.b64decode(info.get("content_b64") or ""),
                                 info.get("sha256"))
    return out


def gather(transport: Transport, gw: Gateway, names: tuple[str, ...] = (
        BASE_FILE, APPSETTINGS, NLOG), *, with_app_pool: bool = False,
           extra: dict[str, str] | None = None, with_host: bool = False) -> HostFacts:
    """The gateway's files `names` and the `extra` files (name -> path) in one operation;
    with `with_host`, what ``read_host`` finds comes in the same operation (``stat``'s
    ``host`` parameter: one round trip for a diff)."""
    paths, params = stat_request(gw, names, extra=extra, with_host=with_host)
    result = transport.run("stat", params)
    pool = transport.run("app_pool_state", {"name": APP_POOL}) if with_app_pool else {}
    return facts_from(result, paths, pool, with_host=with_host)


def stat_request(gw: Gateway, names: tuple[str, ...] = (BASE_FILE, APPSETTINGS, NLOG), *,
                 extra: dict[str, str] | None = None, with_host: bool = False
                 ) -> tuple[dict[str, str], dict[str, Any]]:
    """The files read (name -> path) and ``stat``'s parameters, for a caller that sends
    the ``stat`` in a batch with other reads (`facts_from` reads its answer)."""
    paths = {**{n: gw.install_path(n) for n in names}, **(extra or {})}
    params: dict[str, Any] = {"paths": list(paths.values()), "content": True}
    if with_host:
        params["host"] = host_params(gw)
    return paths, params


def facts_from(result: dict[str, Any], paths: dict[str, str],
               pool: dict[str, Any] | None = None, *, with_host: bool = False) -> HostFacts:
    return HostFacts(_files(result, paths), pool or {},
                     _host_info(result.get("host")) if with_host else None)


def log_directory(gw: Gateway) -> str | None:
    """The log directory the gateway's rendered nlog.config names, when it is a plain
    Windows path (one built from layout renderers is only known on the host)."""
    value = str((gw.settings.get("nlog") or {}).get("log_directory", DEFAULT_LOG_DIRECTORY))
    return None if "${" in value else value


def host_params(gw: Gateway) -> dict[str, Any]:
    """``read_host``'s parameters for the gateway."""
    return {"install_dir": gw.install_dir, "pool": APP_POOL, "log_dir": log_directory(gw)}


def read_host_info(transport: Transport, gw: Gateway) -> HostInfo:
    """What decides what the gateway really runs (``read_host``: one operation)."""
    return _host_info(transport.run("read_host", host_params(gw)))


def _host_info(result: Any) -> HostInfo:
    try:
        if not isinstance(result, dict):
            raise ValueError("not an object")
        return HostInfo.from_result(result)
    except ValueError as exc:
        raise OperationError(f"read_host answered something unexpected: {exc}",
                             code="failed") from None
