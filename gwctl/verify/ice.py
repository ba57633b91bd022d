"""Reaching the ICE servers a gateway hands to its clients, with aioice's STUN/TURN client.

- ``stun:`` (UDP): a Binding request must be answered with the mapped address.
- ``turn:`` (UDP or ``?transport=tcp``) and ``turns:`` (TLS over TCP): an Allocate request
  with the configured username and credential (long-term credentials: the first answer is
  ``401`` with realm and nonce, the authenticated retry must succeed) must yield a relayed
  address; the allocation is released at once.
- ``stuns:`` (STUN over TLS, RFC 7064): a Binding request on a TLS connection. aioice
  has no STUN-over-TLS client, so the connection is asyncio's and the messages are
  aioice's (built and parsed by it; over TCP and TLS a STUN message needs no framing of
  its own, RFC 5389 section 7.2.2). ``turns:`` is aioice's own TLS TURN client.
- TLS certificates are verified against the system's trust store (``SSL_CERT_FILE``
  names another bundle) unless verification is switched off.

URL syntax is RFC 7064/7065: ``scheme:host[:port][?transport=udp|tcp]``; default ports
3478, and 5349 for the TLS schemes. Every attempt is bounded by a timeout: an unreachable
server costs that long, not the STUN retransmission schedule's 40 s.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any

DEFAULT_TIMEOUT_S = 3.0
DEFAULT_PORTS = {"stun": 3478, "turn": 3478, "stuns": 5349, "turns": 5349}


@dataclass(frozen=True)
class IceUrl:
    scheme: str
    host: str
    port: int
    transport: str  # "udp" | "tcp"

    @property
    def secure(self) -> bool:
        return self.scheme in ("stuns", "turns")


def parse_ice_url(url: str) -> IceUrl:
    """``turn:turn.example.com:3478?transport=tcp`` -> its parts; ValueError when malformed."""
    scheme, sep, rest = url.partition(":")
    scheme = scheme.lower()
    if not sep or scheme not in DEFAULT_PORTS:
        raise ValueError(f"{url!r} is not a stun:, stuns:, turn: or turns: URL")
    rest, _, query = rest.partition("?")
    transport = "tcp" if scheme in ("stuns", "turns") else "udp"
    if query:
        key, _, value = query.partition("=")
        if key.lower() != "transport" or value.lower() not in ("udp", "tcp"):
            raise ValueError(f"{url!r}: the only query is transport=udp|tcp")
        if scheme.startswith("stun"):
            raise ValueError(f"{url!r}: a stun URL takes no transport")
        transport = value.lower()
    if rest.startswith("//"):
        raise ValueError(f"{url!r}: ICE URLs have no '//' (write {scheme}:HOST:PORT)")
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else ""
    else:
        host, _, port_text = rest.partition(":")
    if not host:
        raise ValueError(f"{url!r} names no host")
    try:
        port = int(port_text) if port_text else DEFAULT_PORTS[scheme]
    except ValueError:
        raise ValueError(f"{url!r}: the port is not a number") from None
    if not 0 < port < 65536:
        raise ValueError(f"{url!r}: port {port} is out of range")
    return IceUrl(scheme, host, port, transport)


@dataclass(frozen=True)
class IceOutcome:
    ok: bool
    detail: str
    elapsed_s: float
    skipped: bool = False


class _BindingProtocol(asyncio.DatagramProtocol):
    """Just enough of a STUN client endpoint to run one aioice transaction."""

    def __init__(self) -> None:
        from aioice import stun

        self.transactions: dict[bytes, stun.Transaction] = {}
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        from aioice import stun

        try:
            message = stun.parse_message(data)
        except ValueError:
            return
        transaction = self.transactions.get(message.transaction_id)
        if transaction is not None:
            transaction.response_received(message, (addr[0], addr[1]))

    def send_stun(self, message: Any, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(bytes(message), addr)


async def _resolve(url: IceUrl) -> tuple[str, int]:
    loop = asyncio.get_running_loop()
    kind = socket.SOCK_DGRAM if url.transport == "udp" else socket.SOCK_STREAM
    infos = await loop.getaddrinfo(url.host, url.port, type=kind)
    address = infos[0][4]
    return str(address[0]), int(address[1])


async def _stun_binding(url: IceUrl) -> str:
    from aioice import stun

    address = await _resolve(url)
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(_BindingProtocol,
                                                              remote_addr=address)
    try:
        request = stun.Message(message_method=stun.Method.BINDING,
                               message_class=stun.Class.REQUEST)
        transaction = stun.Transaction(request, address, protocol)
        protocol.transactions[request.transaction_id] = transaction
        response, _ = await transaction.run()
        mapped = response.attributes.get("XOR-MAPPED-ADDRESS") or \
            response.attributes.get("MAPPED-ADDRESS")
        return f"binding answered, mapped address {mapped[0]}:{mapped[1]}" if mapped else \
            "binding answered"
    finally:
        transport.close()


def _tls_context(verify_tls: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


async def _stuns_binding(url: IceUrl, verify_tls: bool) -> str:
    from aioice import stun

    reader, writer = await asyncio.open_connection(url.host, url.port,
                                                   ssl=_tls_context(verify_tls))
    try:
        request = stun.Message(message_method=stun.Method.BINDING,
                               message_class=stun.Class.REQUEST)
        writer.write(bytes(request))
        await writer.drain()
        header = await reader.readexactly(20)
        body = await reader.readexactly(int.from_bytes(header[2:4], "big"))
        response = stun.parse_message(header + body)
        if response.transaction_id != request.transaction_id:
            raise ValueError("the answer is not to this request")
        if response.message_class == stun.Class.ERROR:
            raise stun.TransactionFailed(response)
        mapped = response.attributes.get("XOR-MAPPED-ADDRESS") or \
            response.attributes.get("MAPPED-ADDRESS")
        return (f"binding answered over TLS, mapped address {mapped[0]}:{mapped[1]}"
                if mapped else "binding answered over TLS")
    finally:
        writer.close()


async def _turn_allocate(url: IceUrl, username: str, credential: str,
                         verify_tls: bool) -> str:
    from aioice.turn import create_turn_endpoint

    address = await _resolve(url)
    context = _tls_context(verify_tls) if url.secure else None
    transport, _ = await create_turn_endpoint(
        asyncio.DatagramProtocol, address if not url.secure else (url.host, url.port),
        username, credential, ssl=context, transport=url.transport)
    try:
        relayed = transport.get_extra_info("sockname")
        return f"allocation granted, relayed address {relayed[0]}:{relayed[1]}"
    finally:
        transport.close()
        # let the close (a Refresh with lifetime 0, releasing the allocation) go out
        await asyncio.sleep(0)


def _failure(exc: BaseException, url: IceUrl) -> str:
    from aioice import stun

    if isinstance(exc, stun.TransactionFailed):
        code = exc.response.error_code
        reason = exc.response.attributes.get("ERROR-CODE", (code, ""))[1]
        if code == 401:
            return (f"the server refused the credentials (401 {reason}): username or "
                    "credential wrong")
        return f"the server answered an error ({code} {reason})"
    if isinstance(exc, TimeoutError | stun.TransactionTimeout):
        return f"no answer from {url.host}:{url.port}/{url.transport}"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve {url.host}: {exc.strerror or exc}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc}"
    if isinstance(exc, OSError):
        return f"{url.host}:{url.port}/{url.transport}: {exc.strerror or exc}"
    return f"{type(exc).__name__}: {exc}"


def probe(url_text: str, username: str | None = None, credential: str | None = None, *,
          timeout_s: float = DEFAULT_TIMEOUT_S, verify_tls: bool = True) -> IceOutcome:
    """Check one ICE server as a WebRTC client would use it (blocking, bounded)."""
    start = time.monotonic()
    try:
        url = parse_ice_url(url_text)
    except ValueError as exc:
        return IceOutcome(False, str(exc), time.monotonic() - start)
    if url.scheme.startswith("turn") and not (username and credential):
        return IceOutcome(False, "a TURN server needs a username and a credential; without "
                                 "them browsers get no relay candidate",
                          time.monotonic() - start)

    async def run() -> str:
        if url.scheme == "stun":
            return await asyncio.wait_for(_stun_binding(url), timeout_s)
        if url.scheme == "stuns":
            return await asyncio.wait_for(_stuns_binding(url, verify_tls), timeout_s)
        assert username is not None and credential is not None
        return await asyncio.wait_for(_turn_allocate(url, username, credential, verify_tls),
                                      timeout_s)

    try:
        detail = asyncio.run(run())
    except Exception as exc:  # every failure of the exchange is the check's answer
        return IceOutcome(False, _failure(exc, url), time.monotonic() - start)
    return IceOutcome(True, detail, time.monotonic() - start)
