"""An Access-Control-Allow-Origin entry is not an origin a browser will ever send.

Browsers send ``Origin: scheme://host[:port]`` -- without a path, without a trailing
slash and without the scheme's default port. ASP.NET Core's CORS middleware lowercases
each configured origin and then compares exactly (``CorsPolicyBuilder.WithOrigins`` /
``GetNormalizedOrigin``, dotnet/aspnetcore src/Middleware/CORS/src/Infrastructure/
CorsPolicyBuilder.cs), so ``https://Portal.Example.com`` matches, but an entry written
any other way never does, and CORS silently fails for that site: ``yourdomain1.com``
(the manual's own example: no scheme), ``https://portal.example.com/`` (trailing slash),
``https://portal.example.com/app`` (path), ``https://portal.example.com:443`` (default
port), ``https://*.example.com`` (wildcards are not patterns). An internationalised host
(``https://bücher.example.com``) is the exception: ASP.NET Core converts it to punycode
and keeps only scheme, host and a non-default port, which is what browsers send. ``*``
means any origin only as the *sole* entry (``CorsPolicy.AllowAnyOrigin``,
src/Middleware/CORS/src/Infrastructure/CorsPolicy.cs); among other origins it is a
literal that matches nothing, reported here. Empty entries (``a,,b``) are reported too.
A sole ``*`` and ``null`` are left to ``cors-wildcard-origin``. ``gwctl sim`` compares
origins the same way.

PASS::

    cors:
      allow_origins: [https://portal.example.com, http://localhost:8080]

FAIL::

    cors:
      allow_origins: [yourdomain1.com, https://portal.example.com/]
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final

from gwctl.cors.origins import normalized_origin
from gwctl.problems import Level, Problem
from gwctl.rules import _cors
from gwctl.rules.base import Options
from gwctl.rules.target import Target

ID: Final = "cors-origin-format"
LEVEL: Final = Level.ERROR
EFFECT: Final = "silent"
OPTIONS: Final[dict[str, Any]] = {}

_ORIGIN = re.compile(
    r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<host>\[[0-9A-Fa-f:.]+\]|[^/:?#\s\[\]]+)"
    r"(?::(?P<port>[^/?#]*))?(?P<rest>.*)$")
_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
                   r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def problem_with(origin: str) -> str | None:
    """Why `origin` is not ``scheme://host[:port]`` as browsers send it (None: it is)."""
    if not origin:
        return "empty entry (two commas in a row, or a trailing comma)"
    if normalized_origin(origin) != origin.lower():
        return None  # an internationalised host: ASP.NET Core stores what browsers send
    m = _ORIGIN.match(origin)
    if m is None:
        if "://" not in origin:
            return f"no scheme: browsers send e.g. 'https://{origin.split('/')[0]}'"
        return "not scheme://host[:port]"
    scheme, host, port, rest = m.group("scheme", "host", "port", "rest")
    if rest == "/":
        return "trailing slash: browsers send the origin without one"
    if rest:
        return f"an origin has no path, query or fragment ({rest!r})"
    if "*" in host:
        return "wildcards are not patterns here: list each origin"
    if not host.startswith("[") and not _HOST.match(host):
        return f"{host!r} is not a host name"
    if port is not None:
        if not port.isdigit() or not 0 < int(port) < 65536:
            return f"port {port!r} is not 1..65535"
        if _DEFAULT_PORTS.get(scheme.lower()) == port.lstrip("0"):
            return f"browsers omit the default port {port} of {scheme}"
    return None


def check(target: Target, options: Options) -> Iterator[Problem]:
    if target.view is None:
        return
    entries = _cors.items(target, _cors.ORIGIN)
    for i, item in entries:
        if item == "*" and len(entries) > 1:
            message = ("'*' among other origins is not a wildcard: ASP.NET Core allows any "
                       "origin only when '*' is the sole entry, so it matches nothing here")
            yield from target.report(ID, LEVEL, message, _cors.ORIGIN, item=i)
            continue
        if item.lower() in _cors.WILDCARDS:
            continue
        why = problem_with(item)
        if why is not None:
            message = (f"origin {item!r} never matches a browser's Origin header ({why}); "
                       "CORS fails for that site")
            yield from target.report(ID, LEVEL, message, _cors.ORIGIN, item=i)
