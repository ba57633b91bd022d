"""WebRTC ICE servers as the gateway reads them, and STUN/TURN URI syntax (RFC 7064/7065)."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from gwctl.rules import _cfg
from gwctl.rules._cfg import Key

ICE: Key = ("WebRTC", "iceServers")
#: 2023 R1/R2: one STUN server
STUN: Key = ("WebRTC", "STUN", "Hostname", "Address")
SCHEMES = ("stun", "stuns", "turn", "turns")

_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*):(?P<rest>.*)$", re.DOTALL)
_HOSTNAME = re.compile(r"^(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)*"
                       r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.?$")


def servers(target: Any) -> list[tuple[int, Any]]:
    """(index, server) of the effective ``WebRTC:iceServers``."""
    return list(enumerate(_cfg.children(target.value(ICE))))


def url_of(server: Any) -> str | None:
    return _cfg.text(_cfg.get(server, "url")) if isinstance(server, dict) else None


def scheme_of(url: str) -> str:
    return url.partition(":")[0].strip().lower()


def url_problem(url: str) -> str | None:
    """Why `url` is not ``(stun|stuns|turn|turns):host[:port][?transport=udp|tcp]``."""
    m = _SCHEME.match(url.strip())
    if m is None or "." in m.group("scheme"):
        return "no scheme: write stun:host[:port] or turn:host[:port]"
    scheme, rest = m.group("scheme").lower(), m.group("rest")
    if scheme not in SCHEMES:
        hint = " (a host name? prefix it with stun: or turn:)" if rest[:1].isdigit() else ""
        return f"scheme {m.group('scheme')!r} is not stun, stuns, turn or turns{hint}"
    if rest.startswith("//"):
        return f"STUN/TURN URIs have no '//': write {scheme}:{rest[2:].rstrip('/')}"
    hostport, _, query = rest.partition("?")
    if query:
        if scheme in ("stun", "stuns"):
            return "only turn: and turns: URIs take a query (?transport=udp|tcp)"
        if query.lower() not in ("transport=udp", "transport=tcp"):
            return f"query {query!r} must be transport=udp or transport=tcp"
    if hostport.startswith("["):
        host, close, after = hostport[1:].partition("]")
        if not close:
            return "an IPv6 address must be closed with ']'"
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return f"{host!r} is not an IPv6 address"
        port, sep = after[1:], after[:1]
        if after and sep != ":":
            return f"unexpected {after!r} after the host"
    else:
        host, sep, port = hostport.rpartition(":") if ":" in hostport else (hostport, "", "")
        if not host:
            return "missing host"
        if "/" in host:
            return "a STUN/TURN URI has no path"
        if not _HOSTNAME.match(host):
            return f"{host!r} is not a host name or IP address"
    if sep and (not port.isdigit() or not 0 < int(port) < 65536):
        return f"port {port!r} is not 1..65535"
    return None
