"""Cluster destination addresses, as YARP validates and uses them.

At start, YARP's ``DestinationValidator`` refuses only a destination *without* an address
(``string.IsNullOrEmpty``: "No address found for destination"; microsoft/reverse-proxy
src/ReverseProxy/Configuration/ClusterValidators/DestinationValidator.cs, run by
src/ReverseProxy/Configuration/ConfigValidator.cs). Any other string -- a blank one
included -- loads: the
outgoing request URI is built per request by concatenating the address and the path
(``RequestUtilities.MakeDestinationAddress``,
src/ReverseProxy/Forwarder/RequestUtilities.cs), and a relative, non-http(s) or
otherwise unusable address makes ``HttpForwarder`` fail that request with 502 Bad
Gateway (src/ReverseProxy/Forwarder/HttpForwarder.cs).
"""

from __future__ import annotations

import re

#: what the requests of a cluster with an unusable destination answer
BAD_ADDRESS_STATUS = 502
#: what the requests of a cluster without destinations answer: ``ForwarderMiddleware``
#: finds no available destination (src/ReverseProxy/Forwarder/ForwarderMiddleware.cs)
NO_DESTINATION_STATUS = 503

_URI = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<host>\[[0-9A-Fa-f:.]+\]|"
                  r"[^/:?#\s\[\]]+)(?::(?P<port>[0-9]*))?(?P<rest>[/?#]\S*)?$")


def missing(address: str | None) -> bool:
    """A start-up error: the destination has no (or an empty) Address; blanks are an address."""
    return address is None or address == ""


def address_problem(address: str) -> str | None:
    """Why requests to `address` fail (None: YARP can forward to it)."""
    text = address.strip()
    if not text:
        return "is blank (not an absolute URI)"
    m = _URI.match(text)
    if m is None:
        if "://" in text:
            return "is not an absolute URI"
        host_path = text.lstrip("/")
        example = f"https://HOST/{host_path}" if text.startswith("/") else f"https://{text}"
        return f"is not an absolute URI: write e.g. {example}"
    if m.group("scheme").lower() not in ("http", "https"):
        return f"uses scheme {m.group('scheme')!r} (YARP forwards over http or https only)"
    port = m.group("port")
    if port is not None and (not port.isdigit() or not 0 < int(port) < 65536):
        return f"has port {port!r} (not 1..65535)"
    return None
