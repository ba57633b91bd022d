"""How a WinRM exchange fails: pywinrm's and requests' errors as `TransportError`.

Each failure is classified once: `BrokenExchange.retryable` is set only when nothing
suggests the host acted on the request (refused, reset, timed out, a message it could not
decrypt), which is what lets the transport retry a read-only operation. Texts never carry
request content: the payload may hold secrets.
"""

from __future__ import annotations

import logging
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import requests
from winrm.exceptions import (
    InvalidCredentialsError,
    WinRMError,
    WinRMOperationTimeoutError,
    WinRMTransportError,
    WSManFaultError,
)

from gwctl.errors import TransportError

log = logging.getLogger("gwctl.transport")

T = TypeVar("T")


class RetryPolicy(Protocol):
    """The settings `with_retries` reads (`WinRMSettings` has them)."""

    @property
    def connect_retries(self) -> int: ...

    @property
    def retry_delay_sec(self) -> float: ...


class BrokenExchange(Exception):
    """An exchange failed in transit; `retryable` when nothing suggests the host acted."""

    def __init__(self, error: TransportError, retryable: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.retryable = retryable


def broken_exchange(
    exc: BaseException, doing: str, error: Callable[[str], TransportError]
) -> BrokenExchange:
    """Translate a pywinrm/requests failure; never put request content in the text."""
    prefix = f"{doing}: " if doing else ""
    if isinstance(exc, BrokenExchange):
        return exc
    if isinstance(exc, InvalidCredentialsError):
        return BrokenExchange(error(f"{prefix}the host rejected the credentials (HTTP 401)"), False)
    if isinstance(exc, requests.exceptions.SSLError):
        return BrokenExchange(error(f"{prefix}TLS failed: {root_cause(exc)}"), False)
    if isinstance(exc, requests.exceptions.Timeout):
        return BrokenExchange(error(f"{prefix}timed out: {root_cause(exc)}"), True)
    if isinstance(
        exc, (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)
    ):
        return BrokenExchange(error(f"{prefix}connection failed: {root_cause(exc)}"), True)
    if isinstance(exc, WSManFaultError):
        code = exc.wsman_fault_code or exc.wmierror_code
        return BrokenExchange(error(f"{prefix}WS-Management fault {code}: {exc.reason}"), False)
    if isinstance(exc, WinRMOperationTimeoutError):
        return BrokenExchange(error(f"{prefix}WS-Management operation timeout"), True)
    if isinstance(exc, WinRMTransportError):
        # 400: an encrypted message the host could not decrypt, i.e. never processed
        return BrokenExchange(error(f"{prefix}HTTP {exc.code} from the host"), exc.code == 400)
    if isinstance(exc, WinRMError):
        return BrokenExchange(error(f"{prefix}{exc}"), False)
    if isinstance(exc, (ET.ParseError, StopIteration, AssertionError, KeyError, ValueError)):
        return BrokenExchange(
            error(f"{prefix}malformed WS-Management response ({type(exc).__name__})"),
            False,
        )
    if isinstance(exc, OSError):
        return BrokenExchange(error(f"{prefix}{exc.strerror or exc}"), True)
    raise exc


def root_cause(exc: BaseException) -> str:
    """The innermost reason of a requests/urllib3 error, without its wrapping noise."""
    seen: set[int] = set()
    current: BaseException | None = exc
    last = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        last = current
        nxt = getattr(current, "reason", None)
        if not isinstance(nxt, BaseException):
            args = [a for a in current.args if isinstance(a, BaseException)]
            nxt = args[0] if args else (current.__cause__ or current.__context__)
        current = nxt
    text = str(last)
    if isinstance(last, OSError) and last.strerror:
        text = last.strerror
    # urllib3 prefixes "<connection object at 0x...>: "
    return re.sub(r"^<[^>]*>: ", "", text) or type(last).__name__


def clean_clixml(stderr: bytes) -> str:
    """PowerShell sends errors as CLIXML over WinRM; keep their text only."""
    text = stderr.decode("utf-8", errors="replace")
    if not text.startswith("#< CLIXML"):
        return text
    try:
        root = ET.fromstring(text.split("\n", 1)[1] if "\n" in text else "")
    except ET.ParseError:
        return text
    lines = [
        (node.text or "").replace("_x000D__x000A_", "\n")
        for node in root.iter()
        if node.tag.endswith("}S") and node.get("S") == "Error"
    ]
    return "".join(lines) or text



def with_retries(name: str, what: str, policy: RetryPolicy, may_retry: bool,
                 attempt: Callable[[], T], reset: Callable[[], None]) -> T:
    """`attempt()`, again after a `BrokenExchange` that allows it when `may_retry` (a
    read-only operation), up to ``policy.connect_retries`` more times; `reset()` after
    every break, so the next attempt starts afresh. Raises the last break's error."""
    attempts = 1 + (max(0, policy.connect_retries) if may_retry else 0)
    started = time.monotonic()
    for number in range(1, attempts + 1):
        try:
            value = attempt()
            break
        except BrokenExchange as broken:
            reset()
            if not broken.retryable or number == attempts:
                raise broken.error from broken.__cause__
            log.warning("%s: %s failed (%s), retrying (%d/%d)", name, what,
                        broken.error.message, number, attempts - 1)
            time.sleep(policy.retry_delay_sec * number)
    log.debug("%s: %s took %.1f ms", name, what, (time.monotonic() - started) * 1000)
    return value


def keep_first_environment(transport: Any, build: str) -> None:
    """Make `transport`'s session builder (the method named `build`) turn requests'
    environment reading off once the session is built: requests would otherwise scan the
    whole environment on every round trip (pywinrm, pypsrp), and rewrite
    ``os.environ['no_proxy']`` while it does, racing threads that read it."""
    original = getattr(transport, build)

    def build_once() -> Any:
        session = original()
        session.trust_env = False
        return session

    setattr(transport, build, build_once)
