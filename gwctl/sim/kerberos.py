"""The simulator's own Kerberos realm: an MIT KDC on loopback (``gwctl sim up --kerberos``).

MIT krb5's server tools (Debian ``krb5-kdc`` and ``krb5-admin-server``: ``kdb5_util``,
``kadmin.local``, ``krb5kdc``) build the realm in ``DIR/kerberos/``:

    krb5.conf        what a client exports as KRB5_CONFIG (realm -> the loopback KDC)
    kdc.conf         the KDC's profile (database, stash, listening port, log)
    principal*       the KDC database and its stash (``.k5.<REALM>``)
    http.keytab      the keys of ``HTTP/<host>`` of every emulated host: the WinRM
                     endpoint's acceptor credential
    kdc.pid          the running KDC (started by the simulator process, ended with it)
    kdc.log          the KDC's log

Hosts are reached at 127.0.0.1, so the inventory names each host's service principal
with ``ansible_winrm_kerberos_hostname_override`` (as users do for hosts reached by
address in a domain). The user principal requires pre-authentication, as AD's do. The
realm is created by ``sim up --kerberos``, its KDC lives as long as the simulator
process, and ``sim down`` removes the realm's files.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gwctl.errors import GwctlError, UsageError
from gwctl.processes import pid_alive

KERBEROS_DIR = "kerberos"
KRB5_CONF = "krb5.conf"
KEYTAB = "http.keytab"
PID = "kdc.pid"
#: the MIT tools this needs, with the Debian package holding each
TOOLS = {"kdb5_util": "krb5-kdc", "krb5kdc": "krb5-kdc", "kadmin.local": "krb5-admin-server"}
_SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")


class KerberosUnavailable(GwctlError):
    """The MIT KDC tools or Python's GSSAPI binding are missing on this machine."""


@dataclass(frozen=True)
class SimRealm:
    """The realm of a state directory, as ``state.json`` records it (key ``kerberos``)."""

    realm: str
    kdc_port: int
    user: str
    password: str

    def to_json(self) -> dict[str, Any]:
        return {"realm": self.realm, "kdc_port": self.kdc_port, "user": self.user,
                "password": self.password}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SimRealm:
        return cls(str(data["realm"]), int(data["kdc_port"]), str(data["user"]),
                   str(data["password"]))


def realm_dir(state_dir: Path) -> Path:
    return state_dir / KERBEROS_DIR


def krb5_conf(state_dir: Path) -> Path:
    return realm_dir(state_dir) / KRB5_CONF


def keytab(state_dir: Path) -> Path:
    return realm_dir(state_dir) / KEYTAB


def realm_name(site: str) -> str:
    """``demo`` -> ``DEMO.GWCTL.SIM``: realms are upper-case by convention (AD's are)."""
    return re.sub(r"[^A-Z0-9-]", "-", site.upper()) + ".GWCTL.SIM"


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for directory in _SBIN:
        candidate = Path(directory, name)
        if candidate.is_file():
            return str(candidate)
    raise KerberosUnavailable(
        f"gwctl sim up --kerberos needs MIT krb5's {name}, which is not installed "
        f"(Debian: apt-get install {' '.join(sorted(set(TOOLS.values())))})")


def check_available() -> None:
    """Refuse, saying what to install, before anything is created."""
    for name in TOOLS:
        _tool(name)
    try:
        import gssapi  # noqa: F401
    except ImportError:
        raise KerberosUnavailable(
            "gwctl sim up --kerberos needs Python's GSSAPI binding for the simulator's "
            "Kerberos acceptor: pip install 'gwctl[kerberos]'") from None


def _free_port() -> int:
    """A loopback port free for both TCP and UDP (the KDC listens on both)."""
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port
    raise GwctlError("no free loopback port for the simulator's KDC")


def _profiles(directory: Path, realm: str, port: int) -> tuple[str, str]:
    client = (
        "[libdefaults]\n"
        f"    default_realm = {realm}\n"
        "    dns_lookup_kdc = false\n"
        "    dns_lookup_realm = false\n"
        # hosts are named by the inventory's hostname override, never by reverse DNS
        "    rdns = false\n"
        "    dns_canonicalize_hostname = false\n"
        "    udp_preference_limit = 1\n"
        "[realms]\n"
        f"    {realm} = {{\n"
        f"        kdc = 127.0.0.1:{port}\n"
        "    }\n")
    kdc = (
        "[kdcdefaults]\n"
        f"    kdc_listen = 127.0.0.1:{port}\n"
        f"    kdc_tcp_listen = 127.0.0.1:{port}\n"
        "[realms]\n"
        f"    {realm} = {{\n"
        f"        database_name = {directory / 'principal'}\n"
        f"        key_stash_file = {directory / ('.k5.' + realm)}\n"
        f"        acl_file = {directory / 'kadm5.acl'}\n"
        f"        kdc_listen = 127.0.0.1:{port}\n"
        f"        kdc_tcp_listen = 127.0.0.1:{port}\n"
        "    }\n"
        "[logging]\n"
        f"    kdc = FILE:{directory / 'kdc.log'}\n"
        f"    default = FILE:{directory / 'kdc.log'}\n")
    return client, kdc


def _env(directory: Path) -> dict[str, str]:
    import os

    return {**os.environ, "KRB5_CONFIG": str(directory / KRB5_CONF),
            "KRB5_KDC_PROFILE": str(directory / "kdc.conf"),
            "KRB5RCACHEDIR": str(directory)}


def _run(directory: Path, args: list[str], what: str) -> None:
    done = subprocess.run(args, env=_env(directory), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, check=False, timeout=60)
    if done.returncode != 0:
        raise GwctlError(f"creating the simulator's Kerberos realm: {what} failed "
                         f"(exit {done.returncode}): {(done.stderr or done.stdout).strip()}")


def _kadmin(directory: Path, query: list[str], what: str) -> None:
    # kadmin.local splits its query on blanks: every word here is a generated password,
    # a principal built from a validated host name, or a path without blanks
    for word in query:
        if not word or any(c.isspace() or c in "\"'" for c in word):
            raise GwctlError(f"creating the simulator's Kerberos realm: {word!r} cannot "
                             "travel in a kadmin.local query")
    _run(directory, [_tool("kadmin.local"), "-q", " ".join(query)], what)


def create_realm(state_dir: Path, site: str, hosts: Iterable[str], user: str) -> SimRealm:
    """A new realm in ``DIR/kerberos`` (replacing one left there): the database, the user
    principal with a generated password, and ``HTTP/<host>`` of every host in the keytab.
    Nothing is left behind when a step fails."""
    check_available()
    directory = realm_dir(state_dir)
    if directory.exists():
        stop_kdc(state_dir)
        shutil.rmtree(directory)
    directory.mkdir(mode=0o700, parents=True)
    realm, port = realm_name(site), _free_port()
    try:
        client, kdc = _profiles(directory.resolve(), realm, port)
        (directory / KRB5_CONF).write_text(client, "utf-8")
        (directory / "kdc.conf").write_text(kdc, "utf-8")
        (directory / "kadm5.acl").write_text("", "utf-8")
        _run(directory, [_tool("kdb5_util"), "create", "-s", "-r", realm, "-P",
                         secrets.token_urlsafe(24)], "kdb5_util create")
        principal, password = f"{user}@{realm}", secrets.token_urlsafe(18)
        _kadmin(directory, ["addprinc", "+requires_preauth", "-pw", password, principal],
                f"adding {principal}")
        for host in hosts:
            spn = f"HTTP/{host}@{realm}"
            _kadmin(directory, ["addprinc", "-randkey", spn], f"adding {spn}")
            _kadmin(directory, ["ktadd", "-k", str(directory.resolve() / KEYTAB), spn],
                    f"exporting {spn} to the keytab")
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return SimRealm(realm, port, principal, password)


def start_kdc(state_dir: Path, realm: SimRealm, timeout: float = 10.0) -> int:
    """Start the realm's KDC (in the foreground of a child process); its pid, once it
    answers on its port."""
    directory = realm_dir(state_dir)
    if not (directory / "kdc.conf").is_file():
        raise UsageError(f"{directory}: the simulator's realm is gone; start afresh with "
                         f"'gwctl sim up --kerberos --state {state_dir}'")
    stop_kdc(state_dir)  # one left by a simulator that was killed
    with open(directory / "kdc.log", "ab") as log:
        proc = subprocess.Popen([_tool("krb5kdc"), "-n", "-r", realm.realm],
                                env=_env(directory), stdin=subprocess.DEVNULL, stdout=log,
                                stderr=log, close_fds=True)
    (directory / PID).write_text(f"{proc.pid}\n", "utf-8")
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            (directory / PID).unlink(missing_ok=True)
            raise GwctlError(f"the simulator's KDC exited at start (exit {proc.returncode}); "
                             f"see {directory / 'kdc.log'}")
        with contextlib.suppress(OSError), socket.create_connection(
                ("127.0.0.1", realm.kdc_port), timeout=0.5):
            return proc.pid
        if time.monotonic() > deadline:
            stop_kdc(state_dir)
            raise GwctlError(f"the simulator's KDC did not listen on 127.0.0.1:"
                             f"{realm.kdc_port} within {timeout:g} s")
        time.sleep(0.05)


def _is_kdc(pid: int) -> bool:
    try:
        return b"krb5kdc" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return pid_alive(pid)  # no /proc: trust the pid file this module wrote


def stop_kdc(state_dir: Path, timeout: float = 5.0) -> int | None:
    """End the KDC recorded in ``kdc.pid`` (SIGTERM, then SIGKILL); its pid, or None."""
    import os
    import signal

    path = realm_dir(state_dir) / PID
    try:
        pid = int(path.read_text("utf-8").strip())
    except (OSError, ValueError):
        return None
    if pid_alive(pid) and _is_kdc(pid):
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
            deadline = time.monotonic() + timeout
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            if not pid_alive(pid):
                break
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # the simulator's child: reaped, not left a zombie
    path.unlink(missing_ok=True)
    return pid


def remove_realm(state_dir: Path) -> bool:
    """Stop the KDC and delete the realm's files; whether there was a realm."""
    directory = realm_dir(state_dir)
    if not directory.exists():
        return False
    stop_kdc(state_dir)
    shutil.rmtree(directory)
    return True
