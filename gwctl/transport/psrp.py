"""PSRP transport: gwctl's operations through a JEA session configuration, with pypsrp.

A JEA endpoint (docs/jea.md, ``--configuration-name``) is a PowerShell session
configuration: it offers no cmd shell, only a runspace pool in which the connecting
account may call the functions its role capability makes visible. This transport opens
one runspace pool on ``http://schemas.microsoft.com/powershell/<ConfigurationName>`` and
runs each operation as one pipeline holding one command, the module's function of that
operation (``Invoke-GwctlReadFile -Request <request>``), and a batch as one pipeline
holding ``Invoke-GwctlBatch -Request <request>``. The request is the text the bootstrap
reads on stdin (`gwctl.ops.wire.encode_stdin`, `gwctl.ops.batch.encode_batch`: ASCII
JSON and base64), passed as a parameter value: PSRP serialises it as a string, so no
script text is built and nothing is spliced into any. The function's output is the
bootstrap's ``GWCTL-RESULT`` line, parsed by `gwctl.ops.wire` as for WinRS.

Where to connect and how to log on are the WinRM settings (`WinRMSettings`: the same
inventory variables and CLI options); retries follow the WinRM transport's rule: only
read-only operations, and only after a failure that says the host did not act.
A command the endpoint refuses (not visible, no-language mode) is a `TransportError`
naming PowerShell's error id: the endpoint does not match this gwctl's module.
"""

from __future__ import annotations

import logging
import threading
from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from pypsrp.exceptions import (
    AuthenticationError,
    WinRMError,
    WinRMTransportError,
    WSManFaultError,
)
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from gwctl.errors import CredentialsExpired, InputError, TransportError
from gwctl.ops import OPERATIONS, RETRYABLE_OPS, wire
from gwctl.ops.batch import (
    Step,
    check_steps,
    describe,
    encode_batch,
    read_batch_result,
    read_result,
    retryable,
)
from gwctl.ops.jea import BATCH_FUNCTION, function_name
from gwctl.transport.base import Transport
from gwctl.transport.winrm import warn_once
from gwctl.transport.winrm_errors import (
    BrokenExchange,
    broken_exchange,
    keep_first_environment,
    with_retries,
)
from gwctl.transport.winrm_kerberos import explain
from gwctl.transport.winrm_settings import WinRMSettings

log = logging.getLogger("gwctl.transport")

#: the configuration PowerShell remoting opens when none is named: unrestricted
DEFAULT_CONFIGURATION = "Microsoft.PowerShell"
#: WinRM transport names -> pypsrp's auth names ("ssl" and "plaintext" are Basic)
_AUTH = {"basic": "basic", "plaintext": "basic", "ssl": "basic", "ntlm": "ntlm",
         "kerberos": "kerberos", "credssp": "credssp", "certificate": "certificate"}


class JeaFunctionTransport(Transport):
    """gwctl's operations as calls of the JEA module's functions in a runspace pool.

    Subclasses say where the pool comes from (`_exchange`) and how failures read
    (`_error`); the requests, the calls and the reading of their output are here."""

    name: str

    def run(
        self, op: str, params: Mapping[str, Any], payload: bytes | None = None
    ) -> dict[str, Any]:
        if op not in OPERATIONS:
            raise ValueError(f"unknown remote operation {op!r}")
        request = wire.encode_stdin(op, params, payload)
        stdout = self._exchange(op, function_name(op), request, op in RETRYABLE_OPS)
        return read_result(self.name, op, stdout, None, b"", self._error)

    def run_batch(self, steps: Sequence[Step]) -> list[dict[str, Any]]:
        check_steps(steps)
        what = describe(steps)
        stdout = self._exchange(what, BATCH_FUNCTION, encode_batch(steps), retryable(steps))
        return read_batch_result(self.name, steps, stdout, None, b"", self._error)

    @abstractmethod
    def _exchange(self, what: str, function: str, request: bytes, may_retry: bool) -> bytes:
        """The function's output lines for `request`; `TransportError` when it broke."""

    @abstractmethod
    def _error(self, what: str) -> TransportError:
        """A failure of this host's exchange, worded with where it went."""

    def _call(self, pool: RunspacePool, what: str, function: str, request: bytes) -> bytes:
        """One pipeline, one command: `function -Request <request>`."""
        ps = PowerShell(pool)
        # a command and a named parameter: PSRP carries the request as a serialised
        # string, never as PowerShell source
        ps.add_cmdlet(function).add_parameter("Request", request.decode("ascii"))
        try:
            output = ps.invoke()
        except Exception as exc:
            raise self._broken(exc, f"running {what}") from exc
        if ps.had_errors or ps.streams.error:
            raise BrokenExchange(self._error(f"{what}: {_refusal(function, ps)}"), False)
        return "".join(f"{line}\r\n" for line in output if isinstance(line, str)).encode("utf-8")

    def _broken(self, exc: BaseException, doing: str) -> BrokenExchange:
        """Translate a pypsrp/requests failure; never put request content in the text."""
        if isinstance(exc, BrokenExchange):
            return exc
        if isinstance(exc, AuthenticationError):
            return BrokenExchange(self._error(f"{doing}: the host rejected the credentials "
                                              f"({exc})"), False)
        if isinstance(exc, WSManFaultError):
            return BrokenExchange(self._error(f"{doing}: WS-Management fault {exc.code}: "
                                              f"{exc.reason}"), False)
        if isinstance(exc, WinRMTransportError):
            if exc.code == 401:
                return BrokenExchange(self._error(f"{doing}: the host rejected the "
                                                  "credentials (HTTP 401)"), False)
            return BrokenExchange(self._error(f"{doing}: HTTP {exc.code} from the host"),
                                  exc.code == 400)
        if isinstance(exc, WinRMError):
            return BrokenExchange(self._error(f"{doing}: {exc}"), False)
        return broken_exchange(exc, doing, self._error)


class PsrpTransport(JeaFunctionTransport):
    """Runs gwctl operations on one host through its JEA endpoint, connecting with the
    host's WinRM settings. Calls are serialised; use one object per host."""

    def __init__(self, name: str, settings: WinRMSettings) -> None:
        if not settings.configuration_name:
            raise ValueError("the PSRP transport needs a session configuration name")
        self.name = name
        self.settings = settings
        self.configuration_name = settings.configuration_name
        self.insecure_reasons = settings.insecure_reasons
        self.insecure = bool(self.insecure_reasons)
        self._lock = threading.Lock()
        self._pool: RunspacePool | None = None
        self._auth: str | None = None  # the WinRM transport name that worked
        if self.insecure:
            warn_once(name, settings.endpoint, self.insecure_reasons)
        if settings.credential_warnings:
            warn_once(name, settings.endpoint, settings.credential_warnings, "credssp")

    def __enter__(self) -> PsrpTransport:
        return self

    def close(self) -> None:
        """Close the runspace pool (a WS-Management Delete)."""
        with self._lock:
            pool, self._pool = self._pool, None
            if pool is None:
                return
            try:
                pool.close()
            except Exception as exc:
                raise self._broken(exc, "closing the runspace pool").error from exc

    # -- one exchange ---------------------------------------------------------------------

    def _exchange(self, what: str, function: str, request: bytes, may_retry: bool) -> bytes:
        with self._lock:
            return with_retries(self.name, what, self.settings, may_retry,
                                lambda: self._call(self._open(), what, function, request),
                                self._reset)

    # -- connection -----------------------------------------------------------------------

    def _open(self) -> RunspacePool:
        if self._pool is not None:
            return self._pool
        failures: list[str] = []
        candidates = [self._auth] if self._auth else self.settings.transports
        for auth in candidates:
            pool = RunspacePool(self._wsman(auth), configuration_name=self.configuration_name)
            try:
                pool.open()
            except Exception as exc:
                broken = self._broken(exc, f"opening session configuration "
                                           f"{self.configuration_name!r}")
                if len(candidates) == 1:
                    raise broken from exc
                failures.append(f"{auth}: {broken.error.message}")
                if broken.retryable:  # the host is unreachable: other methods will not help
                    raise BrokenExchange(self._error("; ".join(failures)), True) from exc
                continue
            self._pool, self._auth = pool, auth
            return pool
        raise BrokenExchange(self._error("no WinRM transport worked: " + "; ".join(failures)),
                             False)

    def _wsman(self, auth: str) -> WSMan:
        s = self.settings
        method = _AUTH[auth]
        encryption = s.message_encryption
        if method in ("basic", "certificate") and encryption == "auto":
            # as pywinrm: Basic and certificates have no message encryption, https protects
            encryption = "never"
        options: dict[str, Any] = {}
        if method == "kerberos":
            # HTTP/<host>, the service principal the WinRM transport (pywinrm) logs on to
            # too; pypsrp's default would be WSMAN/<host>
            options = {"negotiate_hostname_override": s.kerberos_hostname_override,
                       "negotiate_delegate": s.kerberos_delegation,
                       "negotiate_service": "HTTP"}
        if method == "certificate":
            options = {"certificate_pem": s.cert_pem, "certificate_key_pem": s.cert_key_pem}
        validation: bool | str = s.server_cert_validation == "validate"
        if validation and s.ca_trust_path:
            validation = s.ca_trust_path
        try:
            wsman = WSMan(
                s.host.strip("[]"), port=s.port, path=s.path.lstrip("/"),
                ssl=s.scheme == "https", auth=method, username=s.user, password=s.password,
                # pypsrp declares a bool but hands the value to requests' verify, which
                # takes a CA bundle path too
                cert_validation=cast(bool, validation), encryption=encryption,
                operation_timeout=s.operation_timeout_sec, read_timeout=s.read_timeout_sec,
                connection_timeout=s.read_timeout_sec,
                proxy=None if s.proxy == "legacy_requests" else s.proxy,
                **options)
        except ValueError as exc:
            raise InputError(f"{self.name}: cannot use WinRM transport {auth} for PSRP: "
                             f"{exc}") from None
        # pypsrp's session would rewrite os.environ['no_proxy'] on every round trip
        keep_first_environment(wsman.transport, "_build_session")
        return wsman

    def _reset(self) -> None:
        """Forget the runspace pool after a failure: the next call opens a new one."""
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                pool.close()
            except Exception as exc:
                log.debug("%s: closing a broken runspace pool: %s", self.name, exc)

    # -- errors ---------------------------------------------------------------------------

    def _broken(self, exc: BaseException, doing: str) -> BrokenExchange:
        if type(exc).__module__.split(".")[0] not in ("krb5", "gssapi", "spnego"):
            return super()._broken(exc, doing)
        # a Kerberos logon pyspnego refused: name the principal and why, as the WinRM
        # transport does (the text is the mechanism's, never a token)
        s = self.settings
        message = explain(exc, s.user or "the credential cache's default principal",
                          s.kerberos_hostname_override or s.host)
        error = self._error(f"{doing}: {message}")
        if "ticket has expired" in message:
            error = CredentialsExpired(error.message)
        return BrokenExchange(error, False)

    def _error(self, what: str) -> TransportError:
        return TransportError(f"{self.name} ({self.settings.endpoint}, session configuration "
                              f"{self.configuration_name}): {what}")


def _refusal(function: str, ps: PowerShell) -> str:
    """Why the endpoint refused a command, in PowerShell's words and error id."""
    records = list(ps.streams.error)
    if not records:
        return f"{function} failed without an error record"
    record = records[0]
    message = str(record).strip()
    error_id = getattr(record, "fq_error", None) or ""
    return f"the endpoint refused {function}: {message}" + (f" ({error_id})" if error_id else "")


class RunspaceTransport(JeaFunctionTransport):
    """gwctl's operations through a runspace pool someone else opened on a JEA endpoint:
    Ansible's ``psrp`` connection plugin (``connection.runspace``, opened by its
    ``_connect()`` with ``ansible_psrp_configuration_name``). Nothing is retried here: the
    connection is the play's, and so are its retries. `failures` are the exception types
    the pool's opener raises when the host cannot be reached (Ansible's ``AnsibleError``)."""

    def __init__(self, name: str, open_pool: Callable[[], RunspacePool],
                 configuration_name: str, *,
                 failures: tuple[type[BaseException], ...] = ()) -> None:
        self.name = name
        self.open_pool = open_pool
        self.configuration_name = configuration_name
        self.failures = failures
        #: pipelines run (one per operation or batch)
        self.commands = 0

    def _exchange(self, what: str, function: str, request: bytes, may_retry: bool) -> bytes:
        try:
            pool = self.open_pool()
        except self.failures as exc:
            raise self._error(f"{what}: {exc}") from exc
        try:
            stdout = self._call(pool, what, function, request)
        except BrokenExchange as broken:
            raise broken.error from broken.__cause__
        self.commands += 1
        return stdout

    def _error(self, what: str) -> TransportError:
        return TransportError(f"{self.name} (session configuration "
                              f"{self.configuration_name}): {what}")
