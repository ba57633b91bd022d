"""The host lock: one apply, rollback or unlock at a time per gateway host.

The lock is a file on the host (``LOCK_PATH``) taken with the ``lock_acquire`` operation
and released with ``lock_release`` (docs/remote-operations.md). Its owner is written as
``user@controller pid N``, so that a lock left behind by a gwctl process that died
(kill -9, a crash, a cut network) can be recognised: when the owner names *this*
controller and that process no longer runs, the lock is taken over with a warning.
A lock of another controller, or of a process that still runs, is never taken over; it
expires by its TTL (at most a day, whatever the lock file says), or an operator removes
it with ``gwctl unlock``.
"""

from __future__ import annotations

import getpass
import logging
import os
import re
import secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from gwctl.deploy.results import GatewayResult
from gwctl.errors import CredentialsExpired, GwctlError, OperationError, TransportError
from gwctl.hosts.targets import Target, TransportFactory
from gwctl.ops.batch import BatchError, Step, retryable
from gwctl.output import redact
from gwctl.processes import pid_alive
from gwctl.transport.base import Transport

log = logging.getLogger("gwctl.deploy.hostlock")

LOCK_PATH = r"C:\ProgramData\gwctl\apply.lock"
LOCK_TTL_S = 900

_OWNER = re.compile(r"^(?P<user>.*)@(?P<host>[^\s@]+) pid (?P<pid>\d+)$")


def owner_name() -> str:
    """This process as a lock owner: ``user@controller pid N``."""
    return f"{getpass.getuser()}@{socket.gethostname()} pid {os.getpid()}"


def holder_is_dead(owner: str | None) -> bool:
    """True only when `owner` names this controller and a process that no longer runs."""
    match = _OWNER.match(owner or "")
    if match is None or match["host"].lower() != socket.gethostname().lower():
        return False
    pid = int(match["pid"])
    return pid != os.getpid() and not pid_alive(pid)


def _holder(exc: OperationError) -> dict[str, Any]:
    detail = getattr(exc, "detail", None)
    return detail if isinstance(detail, dict) else {}


@dataclass
class HostLock:
    """The host lock as held by one run."""

    token: str
    #: set by a run that released the lock itself, in a batch with its last steps
    released: bool = False

    def release_step(self) -> Step:
        return Step("lock_release", {"path": LOCK_PATH, "token": self.token})


def _take(transport: Transport, params: dict[str, Any], then: Sequence[Step],
          steps: list[str]) -> list[dict[str, Any]]:
    """lock_acquire, then `then` in the same command; the results of `then`."""
    if not then:
        transport.run("lock_acquire", params)
        return []
    try:
        return transport.run_batch([Step("lock_acquire", params), *then])[1:]
    except BatchError as exc:
        if exc.index == 0:
            raise
        # the lock is ours even though a later step failed: it must be released
        steps.append("locked")
        raise


def acquire(transport: Transport, token: str, owner: str, ttl_s: int,
            steps: list[str], *, path: str = LOCK_PATH, what: str = "host is",
            then: Sequence[Step] = ()) -> list[dict[str, Any]]:
    """Take the lock at `path` with the caller's `token`; take over a provably dead
    holder's lock. `then` runs in the same remote command once the lock is held (never
    when it is not); the results of its steps are returned.

    Raises `OperationError` (code ``locked``, ``detail`` the holder) naming a live holder.
    """
    params: dict[str, Any] = {"path": path, "owner": owner, "ttl_seconds": ttl_s,
                              "token": token}
    try:
        found = _take(transport, params, then, steps)
    except OperationError as exc:
        if exc.code != "locked" or getattr(exc, "index", 0) != 0:
            raise
        holder = _holder(exc)
        if not holder_is_dead(holder.get("owner")):
            raise OperationError(
                f"{what} locked by {holder.get('owner') or 'another apply'} (until "
                f"{holder.get('expires_at', '?')}); if that run is gone, 'gwctl unlock' "
                "removes the lock", code="locked", detail=holder) from None
        log.warning("%s: taking over the lock of %s (acquired %s): that process no longer "
                    "runs on this controller", transport.name, holder.get("owner"),
                    holder.get("acquired_at"))
        found = _take(transport, {**params, "take_over": {
            "owner": holder.get("owner"), "acquired_at": holder.get("acquired_at")}},
            then, steps)
        steps.append(f"took over the lock of {holder.get('owner')} (process gone)")
    if "locked" not in steps:
        steps.append("locked")
    return found


Work = Callable[[Transport, list[dict[str, Any]], HostLock], None]
#: handles a `first` batch that failed after its lock_acquire (a `BatchError` at a later
#: step) or whose exchange broke (a `TransportError`: which steps ran is unknown)
Recover = Callable[[Transport, GwctlError, HostLock], None]


def with_host_lock(target: Target, transports: TransportFactory, owner: str, ttl_s: int,
                   result: GatewayResult, work: Work, *, first: Sequence[Step] = (),
                   recover: Recover | None = None) -> None:
    """Run `work` on a transport to the host while holding the host lock.

    `first` runs in the same remote command as the lock_acquire; `work` gets their
    results and the `HostLock` (it may release the lock itself in a batch with its last
    steps and say so in `HostLock.released`). That command is sent again only when it
    provably did nothing beyond lock_acquire -- a busy lock of a dead holder, taken over
    (`acquire`) -- or when `first` is read-only and the exchange broke: `first` may
    write, and a write must never be sent twice. A failure of `first` after the lock was
    taken, or a broken exchange of a `first` that writes, goes to `recover` (without
    one, it fails the host). A `GwctlError` from taking the lock, from `work` or from
    `recover` marks `result` failed. The lock is released in every case (over a fresh
    connection if this one broke).
    """
    # chosen here, not by the host: if the answer to lock_acquire is lost, the same token
    # both re-acquires (finding we hold it) and releases the lock
    lock = HostLock(secrets.token_hex(16))
    transport = transports(target.host)
    try:
        try:
            try:
                found = acquire(transport, lock.token, owner, ttl_s, result.steps, then=first)
            except TransportError:
                if not retryable(first):
                    raise
                transport.close()
                transport = transports(target.host)
                found = acquire(transport, lock.token, owner, ttl_s, result.steps, then=first)
        except (BatchError, TransportError) as exc:
            if recover is None or (isinstance(exc, BatchError) and exc.index == 0):
                raise
            recover(transport, exc, lock)
            return
        work(transport, found, lock)
    except GwctlError as exc:
        result.outcome = "failed"
        result.detail = redact.scrub(str(exc))
        result.credentials_expired = isinstance(exc, CredentialsExpired)
    finally:
        if lock.released:
            transport.close()
        else:
            _release(target, transport, transports, lock.token, result)


def _release(target: Target, transport: Transport, transports: TransportFactory,
             token: str, result: GatewayResult) -> None:
    if "locked" not in result.steps and result.detail.startswith("host is locked by"):
        transport.close()
        return
    for attempt in (transport, None):
        try:
            t = attempt or transports(target.host)
            with t:
                answer = t.run("lock_release", {"path": LOCK_PATH, "token": token})
            if answer.get("released"):
                result.steps.append("unlocked")
            return
        except OperationError as exc:
            # not_owner: the lock is someone else's (ours expired and was taken over)
            log.debug("%s: releasing the lock: %s", target.name, exc)
            return
        except GwctlError as exc:
            log.debug("%s: releasing the lock: %s", target.name, exc)
    result.steps.append("lock left to expire")


def probe(transport: Transport, owner: str, path: str = LOCK_PATH) -> dict[str, Any] | None:
    """Who holds the lock at `path` (``{owner, acquired_at, expires_at}``), or None when
    nobody.

    Asks by trying to take the lock; a lock taken this way is released at once.
    """
    token = secrets.token_hex(16)
    try:
        transport.run("lock_acquire", {"path": path, "owner": owner, "ttl_seconds": 60,
                                       "token": token})
    except OperationError as exc:
        if exc.code != "locked":
            raise
        return _holder(exc)
    transport.run("lock_release", {"path": path, "token": token})
    return None


def break_lock(transport: Transport, owner: str, holder: dict[str, Any],
               path: str = LOCK_PATH) -> None:
    """Remove the lock of `holder` (as `probe` reported it), and only that one: a lock
    taken meanwhile by another run answers ``locked`` and stays."""
    if not holder.get("owner") or not holder.get("acquired_at"):
        raise OperationError("the lock file is being written or is unreadable; it expires "
                             f"at {holder.get('expires_at', '?')}", code="locked")
    token = secrets.token_hex(16)
    transport.run("lock_acquire", {"path": path, "owner": owner, "ttl_seconds": 60,
                                   "token": token, "take_over": {
                                       "owner": holder["owner"],
                                       "acquired_at": holder["acquired_at"]}})
    transport.run("lock_release", {"path": path, "token": token})
