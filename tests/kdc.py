"""A real MIT KDC on loopback for the Kerberos tests (Debian krb5-kdc, driven by k5test).

`Kdc.start()` creates a realm in a temporary directory with:

- ``alice@GWCTL.TEST`` (password `ALICE_PASSWORD`) for password logons,
- ``carol@GWCTL.TEST`` (password `CAROL_PASSWORD`) for credential-cache logons (kinit),
- ``HTTP/127.0.0.1`` in `keytab` (the simulator's endpoint as URLs name it), and
  ``HTTP/gw-alias.gwctl.test`` alone in `alias_keytab` (for the hostname override).

Principals require pre-authentication, as Active Directory's do. The KDC listens on a
free loopback port; `env` holds the variables that point MIT krb5 at it (``KRB5_CONFIG``,
and a private ``KRB5CCNAME``), for tests to set with monkeypatch, never process-wide.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REALM = "GWCTL.TEST"
ALICE = f"alice@{REALM}"
ALICE_PASSWORD = "alice-Kerberos-pw1"
CAROL = f"carol@{REALM}"
CAROL_PASSWORD = "carol-Kerberos-pw1"
ALIAS = "gw-alias.gwctl.test"
BINARIES = ("krb5kdc", "kdb5_util", "kadmin.local", "kinit")


def missing() -> str | None:
    """Why a KDC cannot run here, or None."""
    for name in BINARIES:
        if shutil.which(name) is None and not Path("/usr/sbin", name).exists():
            return f"{name} not installed (Debian krb5-kdc, krb5-admin-server, krb5-user)"
    try:
        import gssapi  # noqa: F401
        import k5test  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} not installed (pip install -e '.[test,kerberos]')"
    return None


def _free_portbase() -> int:
    """A base port with the next three loopback ports free (KDC, kadmind, kpasswd)."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base > 65000:
            continue
        try:
            for offset in range(10):
                for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                    with socket.socket(socket.AF_INET, kind) as s:
                        s.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
    raise RuntimeError("no free port range for the KDC")


@dataclass
class Kdc:
    realm: Any
    keytab: Path
    alias_keytab: Path
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def start(cls) -> Kdc:
        from k5test import K5Realm

        loopback = {"kdc": "127.0.0.1:$port0", "admin_server": "127.0.0.1:$port1",
                    "kpasswd_server": "127.0.0.1:$port2"}
        realm = K5Realm(
            realm=REALM, portbase=_free_portbase(), create_user=False, get_creds=False,
            create_host=False,
            # no DNS: URLs name hosts by address; no KDC time sync: a skewed clock must show
            krb5_conf={"libdefaults": {"rdns": "false", "dns_canonicalize_hostname": "false",
                                       "kdc_timesync": "0", "udp_preference_limit": "1"},
                       "realms": {"$realm": loopback}},
        )
        for principal, password in ((ALICE, ALICE_PASSWORD), (CAROL, CAROL_PASSWORD)):
            realm.run_kadminl(f"addprinc +requires_preauth -pw {password} {principal}")
        tmp = Path(realm.tmpdir)
        keytab, alias_keytab = tmp / "http.keytab", tmp / "alias.keytab"
        for spn, path in ((f"HTTP/127.0.0.1@{REALM}", keytab),
                          (f"HTTP/{ALIAS}@{REALM}", alias_keytab)):
            realm.run_kadminl(f"addprinc -randkey {spn}")
            realm.extract_keytab(spn, str(path))
        env = {"KRB5_CONFIG": realm.env["KRB5_CONFIG"], "KRB5RCACHEDIR": realm.tmpdir,
               "KRB5CCNAME": f"FILE:{tmp / 'ccache-default'}"}
        return cls(realm, keytab, alias_keytab, env)

    @property
    def tmpdir(self) -> Path:
        return Path(self.realm.tmpdir)

    def kinit(self, ccache: Path, principal: str, password: str, lifetime: str = "10h") -> None:
        """A ticket in `ccache`, as a user's ``kinit`` would get it."""
        env = {**os.environ, **self.env, "KRB5CCNAME": f"FILE:{ccache}"}
        subprocess.run(["kinit", "-l", lifetime, principal], input=password + "\n",
                       text=True, env=env, check=True, capture_output=True, timeout=30)

    def expired_ccache(self, ccache: Path) -> None:
        """A credential cache whose ticket has expired (a 1-second ticket, then waited out)."""
        self.kinit(ccache, CAROL, CAROL_PASSWORD, lifetime="1s")
        deadline = time.monotonic() + 10
        env = {**os.environ, **self.env, "KRB5CCNAME": f"FILE:{ccache}"}
        # klist -s: exit status 1 once no valid ticket is left; waiting for time to pass is
        # the point here, this is not synchronisation with another thread
        while subprocess.run(["klist", "-s"], env=env, check=False).returncode == 0:
            if time.monotonic() > deadline:
                raise RuntimeError("the 1-second ticket did not expire")
            time.sleep(0.2)

    def stop(self) -> None:
        self.realm.stop()
        shutil.rmtree(self.realm.tmpdir, ignore_errors=True)
