"""Where and how to reach one host over WinRM, read the way Ansible reads it.

`WinRMSettings` takes the names and defaults of Ansible's winrm connection plugin, so an
inventory that Ansible can use works unchanged (`WinRMSettings.from_ansible_vars`), and
refuses combinations that cannot work before any connection is tried.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gwctl.errors import InputError
from gwctl.loopback import is_loopback

AUTH_TRANSPORTS = ("basic", "ntlm", "kerberos", "credssp", "certificate", "plaintext", "ssl")


@dataclass(frozen=True)
class WinRMSettings:
    """Where and how to reach one host; names follow Ansible's winrm connection plugin.

    Unset `scheme`/`port`/`transport` are resolved as Ansible does: port 5986 and https by
    default, http when the port is 5985, the port from the scheme when only that is given;
    transport kerberos for ``user@REALM`` users, else ``ssl`` on https and ``plaintext`` on
    http (both are Basic). `transport` may list several, comma-separated, tried in order
    on the first connection.
    """

    host: str
    port: int | None = None
    scheme: str | None = None
    path: str = "/wsman"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    transport: str | None = None
    server_cert_validation: str = "validate"
    ca_trust_path: str | None = None
    cert_pem: str | None = None
    cert_key_pem: str | None = None
    message_encryption: str = "auto"
    operation_timeout_sec: int = 20
    read_timeout_sec: int = 30
    connect_retries: int = 2
    retry_delay_sec: float = 0.5
    command_timeout_sec: float = 600.0
    proxy: str | None = "legacy_requests"
    #: the Kerberos service principal's host part, when the host is reached by another name
    kerberos_hostname_override: str | None = None
    #: forward the Kerberos ticket to the host (Ansible's ansible_winrm_kerberos_delegation)
    kerberos_delegation: bool = False
    #: "managed": get the ticket with the password; "manual": use the credential cache
    kinit_mode: str | None = None
    #: False (``--no-ntlm``): refuse NTLM, whether named as a transport or as a fallback
    allow_ntlm: bool = True
    #: a named session configuration (a JEA endpoint, docs/jea.md), reached over PSRP by
    #: `gwctl.transport.psrp` (ansible_psrp_configuration_name)
    configuration_name: str | None = None

    def __post_init__(self) -> None:
        def fix(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        if self.scheme is not None and self.scheme not in ("http", "https"):
            raise InputError(
                f"{self.host}: WinRM scheme must be http or https, not {self.scheme!r}"
            )
        if self.port is None:
            fix("port", 5985 if self.scheme == "http" else 5986)
        if self.scheme is None:
            fix("scheme", "http" if self.port == 5985 else "https")
        if not self.path.startswith("/"):
            fix("path", "/" + self.path)
        if self.transport is None:
            default = "ssl" if self.scheme == "https" else "plaintext"
            fix("transport", "kerberos" if self.user and "@" in self.user else default)
        unknown = [t for t in self.transports if t not in AUTH_TRANSPORTS]
        if unknown or not self.transports:
            raise InputError(
                f"{self.host}: unknown WinRM transport {', '.join(unknown) or '(empty)'}; "
                f"use {', '.join(AUTH_TRANSPORTS)}"
            )
        if not self.allow_ntlm and "ntlm" in self.transports:
            raise InputError(
                f"{self.host}: WinRM transport ntlm is refused (--no-ntlm); use kerberos "
                "(a user@REALM login) or a certificate"
            )
        if self.kinit_mode not in (None, "managed", "manual"):
            raise InputError(f"{self.host}: kinit_mode must be managed or manual")
        if self.server_cert_validation not in ("validate", "ignore"):
            raise InputError(f"{self.host}: server_cert_validation must be validate or ignore")
        if self.message_encryption not in ("auto", "always", "never"):
            raise InputError(f"{self.host}: message_encryption must be auto, always or never")
        if not 1 <= self.operation_timeout_sec < self.read_timeout_sec:
            raise InputError(
                f"{self.host}: read_timeout_sec ({self.read_timeout_sec}) must exceed "
                f"operation_timeout_sec ({self.operation_timeout_sec}), both positive"
            )
        if self.kinit_mode == "manual":
            # Ansible: manual means the ticket comes from the credential cache (kinit)
            fix("password", None if self.transports == ["kerberos"] else self.password)
        needs_password = [t for t in self.transports if t not in ("kerberos", "certificate")]
        if needs_password and not (self.cert_pem and self.transports == ["ssl"]):
            if not self.user:
                raise InputError(f"{self.host}: WinRM transport {needs_password[0]} needs a user")
            if self.password is None:
                raise InputError(
                    f"{self.host}: WinRM transport {needs_password[0]} needs a password"
                )
        if "certificate" in self.transports and not (self.cert_pem and self.cert_key_pem):
            raise InputError(
                f"{self.host}: WinRM transport certificate needs cert_pem and cert_key_pem"
            )

    @property
    def transports(self) -> list[str]:
        return [t.strip().lower() for t in (self.transport or "").split(",") if t.strip()]

    @property
    def endpoint(self) -> str:
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"{self.scheme}://{host}:{self.port}{self.path}"

    @property
    def insecure_reasons(self) -> tuple[str, ...]:
        """Why someone on the network path could read or alter the traffic (none on loopback)."""
        if is_loopback(self.host):
            return ()
        reasons = []
        if self.scheme == "https" and self.server_cert_validation == "ignore":
            reasons.append("server certificate validation is off")
        if self.scheme == "http" and any(t in ("basic", "plaintext") for t in self.transports):
            reasons.append("Basic authentication over http sends the password unencrypted")
        if self.scheme == "http" and self.message_encryption == "never":
            reasons.append("message encryption is off over http")
        return tuple(reasons)

    @property
    def credential_warnings(self) -> tuple[str, ...]:
        """What hands the user's credentials to the host itself (loopback included)."""
        if "credssp" in self.transports:
            return ("CredSSP hands the user's full credentials (password) to the host, where "
                    "anyone controlling it can reuse them; prefer kerberos",)
        return ()

    @classmethod
    def from_ansible_vars(cls, name: str, vars: Mapping[str, Any]) -> WinRMSettings:
        """Settings from a host's Ansible variables (same names and defaults as Ansible):
        the winrm plugin's, or the psrp plugin's for ``ansible_connection: psrp``."""
        if str(vars.get("ansible_connection") or "").rsplit(".", 1)[-1] == "psrp":
            return cls._from_psrp_vars(name, vars)

        def pick(*names: str) -> Any:
            # Ansible: the later names in an option's variable list take precedence
            for var in reversed(names):
                if vars.get(var) is not None:
                    return vars[var]
            return None

        def text(*names: str) -> str | None:
            value = pick(*names)
            return None if value is None else str(value)

        def number(default: int, *names: str) -> int:
            value = pick(*names)
            if value is None:
                return default
            try:
                return int(value)
            except (TypeError, ValueError):
                raise InputError(f"{name}: {names[-1]} must be an integer, not {value!r}") from None

        transport = pick("ansible_winrm_transport")
        if isinstance(transport, (list, tuple)):
            transport = ",".join(str(t) for t in transport)
        connection_timeout = pick("ansible_winrm_connection_timeout")
        op_default, read_default = 20, 30
        if connection_timeout is not None:
            # Ansible: connection_timeout sets both, the read timeout 10 s longer
            op_default = number(20, "ansible_winrm_connection_timeout")
            read_default = op_default + 10
        return cls(
            host=text("ansible_host", "ansible_winrm_host") or name,
            port=number(5986, "ansible_port", "ansible_winrm_port"),
            scheme=text("ansible_winrm_scheme"),
            path=text("ansible_winrm_path") or "/wsman",
            user=text("ansible_user", "ansible_winrm_user"),
            password=text("ansible_password", "ansible_winrm_pass", "ansible_winrm_password"),
            transport=None if transport is None else str(transport),
            server_cert_validation=text("ansible_winrm_server_cert_validation") or "validate",
            ca_trust_path=text("ansible_winrm_ca_trust_path"),
            cert_pem=text("ansible_winrm_cert_pem"),
            cert_key_pem=text("ansible_winrm_cert_key_pem"),
            message_encryption=text("ansible_winrm_message_encryption") or "auto",
            operation_timeout_sec=number(op_default, "ansible_winrm_operation_timeout_sec"),
            read_timeout_sec=number(read_default, "ansible_winrm_read_timeout_sec"),
            proxy=text("ansible_winrm_proxy") or "legacy_requests",
            kerberos_hostname_override=text("ansible_winrm_kerberos_hostname_override"),
            kerberos_delegation=_flag(name, "ansible_winrm_kerberos_delegation",
                                      pick("ansible_winrm_kerberos_delegation")),
            kinit_mode=text("ansible_winrm_kinit_mode"),
            allow_ntlm=not _flag(name, "gwctl_no_ntlm", pick("gwctl_no_ntlm")),
            configuration_name=text("ansible_psrp_configuration_name"),
        )


    @classmethod
    def _from_psrp_vars(cls, name: str, vars: Mapping[str, Any]) -> WinRMSettings:
        """Settings from the psrp connection plugin's variables (ansible-core
        ``plugins/connection/psrp.py``: names, defaults, later names winning)."""

        def text(*names: str) -> str | None:
            for var in reversed(names):
                if vars.get(var) is not None:
                    return str(vars[var])
            return None

        def number(default: int, var: str) -> int:
            value = vars.get(var)
            try:
                return default if value is None else int(value)
            except (TypeError, ValueError):
                raise InputError(f"{name}: {var} must be an integer, not {value!r}") from None

        port_var = "ansible_psrp_port" if vars.get("ansible_psrp_port") is not None \
            else "ansible_port"
        user = text("ansible_user", "ansible_psrp_user")
        auth = (text("ansible_psrp_auth") or "negotiate").lower()
        if auth == "negotiate":
            # SPNEGO picks Kerberos for a domain principal (or a ticket), else NTLM
            auth = "kerberos" if not user or "@" in user else "ntlm"
        elif auth == "basic":
            auth = "plaintext" if text("ansible_psrp_protocol") == "http" else "ssl"
        operation = number(20, "ansible_psrp_operation_timeout")
        return cls(
            host=text("ansible_host", "ansible_psrp_host") or name,
            port=None if vars.get(port_var) is None else number(0, port_var),
            scheme=text("ansible_psrp_protocol"),
            path="/" + (text("ansible_psrp_path") or "wsman").lstrip("/"),
            user=user,
            password=text("ansible_password", "ansible_winrm_pass", "ansible_winrm_password"),
            transport=auth,
            server_cert_validation=text("ansible_psrp_cert_validation") or "validate",
            ca_trust_path=text("ansible_psrp_cert_trust_path", "ansible_psrp_ca_cert"),
            cert_pem=text("ansible_psrp_certificate_pem"),
            cert_key_pem=text("ansible_psrp_certificate_key_pem"),
            message_encryption=text("ansible_psrp_message_encryption") or "auto",
            operation_timeout_sec=operation,
            read_timeout_sec=number(30, "ansible_psrp_read_timeout"),
            proxy=text("ansible_psrp_proxy") or "legacy_requests",
            kerberos_hostname_override=text("ansible_psrp_negotiate_hostname_override"),
            kerberos_delegation=_flag(name, "ansible_psrp_negotiate_delegate",
                                      vars.get("ansible_psrp_negotiate_delegate")),
            allow_ntlm=not _flag(name, "gwctl_no_ntlm", vars.get("gwctl_no_ntlm")),
            configuration_name=text("ansible_psrp_configuration_name"),
        )


def _flag(name: str, var: str, value: Any) -> bool:
    """An Ansible boolean (true/yes/on/1 and their opposites)."""
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1", "y", "t"):
        return True
    if text in ("false", "no", "off", "0", "n", "f", ""):
        return False
    raise InputError(f"{name}: {var} must be true or false, not {value!r}")
