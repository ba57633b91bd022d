"""The CORS section as the gateway reads it: comma-separated header values."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from gwctl.rules import _cfg
from gwctl.rules._cfg import Key

SECTION: Key = ("CORS",)
ENABLED: Key = ("CORS", "Enabled")
ORIGIN: Key = ("CORS", "Access-Control-Allow-Origin")
HEADERS: Key = ("CORS", "Access-Control-Allow-Headers")
METHODS: Key = ("CORS", "Access-Control-Allow-Methods")
WILDCARDS = ("*", "null")


def enabled(target: Any) -> bool:
    """``CORS:Enabled`` as bool.Parse reads it (disabled by default)."""
    return (_cfg.text(target.value(ENABLED)) or "").strip().lower() == "true"


def items(target: Any, key: Key) -> list[tuple[int, str]]:
    """(index, item) of a comma-separated header value of the effective configuration."""
    value = _cfg.text(target.value(key))
    if value is None:
        return []
    return [(i, item) for i, (item, _) in enumerate(_cfg.split_csv(value))]


_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalized_origin(origin: str) -> str:
    """A configured origin as ASP.NET Core stores it (``CorsPolicyBuilder.GetNormalizedOrigin``,
    dotnet/aspnetcore src/Middleware/CORS/src/Infrastructure/CorsPolicyBuilder.cs).

    An absolute http(s) URI whose host is an internationalised name becomes
    ``scheme://punycode-host[:port]``, lower case, without a default port and without
    whatever followed the authority -- what a browser sends; anything else is only lower
    cased (a path, a trailing slash or a default port then never matches).
    """
    try:
        parts = urlsplit(origin)
        host, port = parts.hostname, parts.port
    except ValueError:
        return origin.lower()
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not host or host.isascii():
        return origin.lower()
    try:
        idn = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return origin.lower()
    shown = f":{port}" if port is not None and port != _DEFAULT_PORTS[scheme] else ""
    return f"{scheme}://{idn}{shown}"
