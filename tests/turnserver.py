"""A real STUN/TURN server for tests: Debian's coturn (``turnserver``) on loopback.

`start_turnserver` picks a free port, starts ``turnserver`` with long-term credentials for
one user, and returns once a STUN binding request is answered. Tests that need it skip,
naming the reason, only when the binary is not installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

TURN_USER = "gateway"
TURN_REALM = "gwctl.test"


@dataclass
class TurnServer:
    port: int
    user: str
    password: str
    process: subprocess.Popen[bytes]

    def url(self, scheme: str = "turn", transport: str | None = None) -> str:
        suffix = f"?transport={transport}" if transport else ""
        return f"{scheme}:127.0.0.1:{self.port}{suffix}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def _free_port() -> int:
    # the port must be free for both UDP and TCP (turnserver listens on both)
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free loopback port")


def start_turnserver(workdir: Path, password: str) -> TurnServer:
    binary = shutil.which("turnserver")
    if binary is None:
        pytest.skip("coturn's turnserver is not installed (apt-get install coturn; .ci/run "
                    "installs it when it can)")
    from gwctl.verify.ice import probe

    port = _free_port()
    relay = port % 1000
    log = open(workdir / "turnserver.log", "wb")  # noqa: SIM115 - lives with the process
    process = subprocess.Popen(
        [binary, "-n", "--listening-ip=127.0.0.1", f"--listening-port={port}",
         "--relay-ip=127.0.0.1", "--lt-cred-mech", f"--user={TURN_USER}:{password}",
         f"--realm={TURN_REALM}", "--no-tls", "--no-dtls", "--no-cli", "-m", "1",
         f"--min-port={40000 + relay * 10}", f"--max-port={40000 + relay * 10 + 9}",
         f"--pidfile={workdir / 'turnserver.pid'}", f"--userdb={workdir / 'turndb'}",
         "--allow-loopback-peers", "--log-file=stdout", "--simple-log"],
        stdout=log, stderr=subprocess.STDOUT)
    log.close()
    server = TurnServer(port, TURN_USER, password, process)
    deadline = time.monotonic() + 15
    while True:
        if process.poll() is not None:
            text = (workdir / "turnserver.log").read_text("utf-8", "replace")[-2000:]
            raise RuntimeError(f"turnserver exited ({process.returncode}): {text}")
        if probe(server.url("stun"), timeout_s=0.5).ok:
            return server
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError("turnserver did not answer STUN within 15 s")
