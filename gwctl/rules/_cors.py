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
    """(index, item) of a comma-separated header value of the effective configuration
    (memoised per target: every CORS rule asks)."""
    memo_key = "cors-items:" + ":".join(key)
    found: list[tuple[int, str]] | None = target.memo.get(memo_key)
    if found is None:
        value = _cfg.text(target.value(key))
        found = ([] if value is None
                 else [(i, item) for i, (item, _) in enumerate(_cfg.split_csv(value))])
        target.memo[memo_key] = found
    return found


_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalized_origin(origin: str) -> str:
    """A configured origin as ASP.NET Core stores it (``CorsPolicyBuilder.GetNormalizedOrigin``,
    dotnet/aspnetcore src/Middleware/CORS/src/Infrastructure/CorsPolicyBuilder.cs).

    An absolute http(s) URI whose host is an internationalised name becomes
    ``scheme://punycode-host[:port]``, lower case, without a default port and without
    whatever followed the authority -- what a browser sends; anything else is only lower
    cased (a path, a trailing slash or a default port then never matches).
    """
    parts = split_origin(origin)
    if parts is None or parts[1].isascii():
        return origin.lower()
    idn = ascii_host(parts[1])
    if idn is None:
        return origin.lower()
    return serialise(parts[0], idn, parts[2])


def split_origin(origin: str) -> tuple[str, str, int | None] | None:
    """(lower-case scheme, host, port) of an absolute http(s) URI; None for anything else."""
    try:
        parts = urlsplit(origin)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    return scheme, host, port


def ascii_host(host: str) -> str | None:
    """An internationalised host name in punycode, lower case (None: not a valid name).

    Both sides of the comparison go through this one conversion: the configured origin
    as ASP.NET Core stores it (``Uri.IdnHost``) and the origin a browser serialises
    (`gwctl.verify.cors_judge.browser_origin`), so they can only agree.
    """
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None


def serialise(scheme: str, host: str, port: int | None) -> str:
    """``scheme://host[:port]``, without the scheme's default port."""
    shown = f":{port}" if port is not None and port != _DEFAULT_PORTS[scheme] else ""
    return f"{scheme}://{host}{shown}"
