"""Web origins, as ASP.NET Core's CORS middleware stores them and as browsers send them.

The gateway's CORS section lists origins; ASP.NET Core normalises each when it builds the
policy (``CorsPolicyBuilder.WithOrigins`` -> ``GetNormalizedOrigin``, dotnet/aspnetcore
src/Middleware/CORS/src/Infrastructure/CorsPolicyBuilder.cs) and then compares a
request's ``Origin`` header with them ordinally (``CorsService.IsOriginAllowed``,
CorsService.cs; ``CorsPolicy.DefaultIsOriginAllowed``, CorsPolicy.cs, same folder). A browser
serialises a page's origin in ASCII. `normalized_origin` is the first side (asked by the
rules and the simulator), `browser_origin` the second (asked by ``gwctl verify``'s
judge); both convert a host through `ascii_host`, so they cannot disagree.
"""

from __future__ import annotations

from urllib.parse import urlsplit

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
    (`browser_origin`), so they can only agree. The conversion is UTS #46 with
    nontransitional processing, as both do it: .NET's ``IdnMapping.GetAscii`` calls ICU's
    ``uidna_openUTS46`` with ``UIDNA_NONTRANSITIONAL_TO_ASCII`` (dotnet/runtime
    src/native/libs/System.Globalization.Native/pal_idna.c), and so does Chromium's URL
    canonicaliser -- ``straße`` stays ``xn--strae-oqa`` instead of IDNA 2003's
    ``strasse``. A name the `idna` package finds invalid under IDNA 2008 (it checks more
    than ICU: bidi, CONTEXTO, symbols such as U+2603) falls back to IDNA 2003, which
    accepts what ICU's UTS #46 tables still map.
    """
    import idna

    try:
        return idna.encode(host, uts46=True, transitional=False).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError):
        pass
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None


def serialise(scheme: str, host: str, port: int | None) -> str:
    """``scheme://host[:port]``, without the scheme's default port."""
    shown = f":{port}" if port is not None and port != _DEFAULT_PORTS[scheme] else ""
    return f"{scheme}://{host}{shown}"


def browser_origin(origin: str) -> str:
    """The ``Origin`` header a browser sends from a page at `origin` (a URL).

    A browser serialises a page's origin in ASCII (the URL Standard's origin
    serialisation): scheme and host in lower case, an internationalised host in punycode
    (``https://bücher.example.com`` sends ``https://xn--bcher-kva.example.com``), no
    default port, nothing after the authority. ASP.NET Core compares that header
    ordinally with the configured origins, which it stores punycoded and lower-cased
    (dotnet/aspnetcore src/Middleware/CORS/src/Infrastructure/CorsService.cs
    ``IsOriginAllowed``, CorsPolicy.cs ``DefaultIsOriginAllowed``, CorsPolicyBuilder.cs
    ``GetNormalizedOrigin``).
    Text that is no http(s) URL with a host is returned unchanged: no page has it as its
    origin, and the gateway's answer to it is what the fleet asked for.
    """
    parts = split_origin(origin)
    if parts is None:
        return origin
    scheme, host, port = parts
    if not host.isascii():
        idn = ascii_host(host)
        if idn is None:
            return origin
        host = idn
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address keeps its brackets
    return serialise(scheme, host, port)
