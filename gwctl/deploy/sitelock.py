"""The site lock: one apply per site at a time, from any controller.

Host locks (`gwctl.deploy.hostlock`) keep two runs from writing one gateway at once, but
two rollouts of one site could still interleave: the second would take the hosts the
first had not reached yet. So ``gwctl apply`` first takes a lock per site it touches,
holds it for the whole run (planning, confirmation, rollout), and releases it at the end.

Where it lives: a lock file, ``SITE_LOCK_PATH``, on the site's *anchor* host -- the host of
the gateway co-located with the management server (mandatory since 2024 R2; else the
site's first gateway in fleet order with an inventory host). Every controller that can
apply to a site reaches that host through the same inventory, so CI runners and laptops
see one lock, with no shared file system or extra service to set up; and it is taken with
the same atomic ``lock_acquire`` operation as host locks (exclusive create, race-safe
take-over of stale locks, a lifetime capped at a day).

* Sites are locked in name order, so two multi-site runs cannot deadlock.
* ``--lock-timeout SECONDS`` waits (polling) for a held lock; 0 (default) refuses at once.
  A refusal names the holder, its expiry and the anchor host.
* A lock left by a gwctl process of this controller that no longer runs is taken over
  with a warning; otherwise it expires after ``SITE_LOCK_TTL_S``, or
  ``gwctl unlock --host ANCHOR --site-lock -i INVENTORY`` removes it after showing the
  holder.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType

from gwctl.deploy.hostlock import acquire
from gwctl.errors import GwctlError, OperationError
from gwctl.fleet.model import Fleet
from gwctl.hosts.inventory import InventoryHost
from gwctl.hosts.targets import Target, TransportFactory, pair

log = logging.getLogger("gwctl.deploy.sitelock")

SITE_LOCK_PATH = r"C:\ProgramData\gwctl\site.lock"
#: a rollout of a large site takes long; a crashed one is taken over (same controller),
#: removed with gwctl unlock, or expires after this
SITE_LOCK_TTL_S = 4 * 3600
POLL_S = 1.0


def anchors(fleet: Fleet, sites: Iterable[str],
            hosts: Sequence[InventoryHost]) -> dict[str, Target]:
    """Site name -> the target whose host carries the site lock: the same for every run,
    whatever gateways it selected."""
    out: dict[str, Target] = {}
    for site in sorted(set(sites)):
        ordered = sorted(fleet.site(site).gateways, key=lambda g: not g.colocated)
        paired, _ = pair(fleet, ordered, list(hosts))
        if not paired:
            raise OperationError(f"site {site}: no gateway of the site has an inventory "
                                 "host to carry the site lock", code="locked")
        out[site] = paired[0]
    return out


@dataclass
class SiteLocks:
    """Context manager: hold the site lock of every site in `sites`."""

    fleet: Fleet
    #: the sites to lock, and the inventory (to find each site's anchor host)
    sites: Iterable[str]
    hosts: Sequence[InventoryHost]
    transports: TransportFactory
    owner: str
    timeout_s: float = 0.0
    ttl_s: int = SITE_LOCK_TTL_S
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    #: what happened, for people: "locked site north on north-ms", ...
    steps: list[str] = field(default_factory=list)
    _held: list[tuple[str, Target, str]] = field(default_factory=list)

    def __enter__(self) -> SiteLocks:
        try:
            for site, anchor in anchors(self.fleet, self.sites, self.hosts).items():
                self._take(site, anchor)
        except BaseException:
            self.release()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()

    def _take(self, site: str, anchor: Target) -> None:
        token = secrets.token_hex(16)
        deadline = self.clock() + self.timeout_s
        waited = False
        while True:
            try:
                with self.transports(anchor.host) as transport:
                    acquire(transport, token, self.owner, self.ttl_s, self.steps,
                            path=SITE_LOCK_PATH, what=f"site {site} is")
                break
            except OperationError as exc:
                if exc.code != "locked":
                    raise
                if self.clock() >= deadline:
                    holder = exc.detail.get("owner") or "another apply"
                    raise OperationError(
                        f"site {site} is locked by {holder} (until "
                        f"{exc.detail.get('expires_at', '?')}, lock on host "
                        f"{anchor.name})" + ("; gave up after --lock-timeout"
                                             if waited else "")
                        + f"; wait for it (--lock-timeout SECONDS), or if that run is "
                        f"gone: gwctl unlock --host {anchor.name} --site-lock -i INVENTORY",
                        code="locked", detail=exc.detail) from None
                if not waited:
                    log.warning("site %s is locked by %s; waiting up to %.0f s",
                                site, exc.detail.get("owner"), self.timeout_s)
                    waited = True
                self.sleep(POLL_S)
        self._held.append((site, anchor, token))
        self.steps.append(f"locked site {site} on {anchor.name}")

    def held(self) -> list[tuple[str, Target, str]]:
        """The locks taken, as (site, anchor, token): for a caller that releases them from
        another process (the Ansible role's release task)."""
        return list(self._held)

    def release(self) -> None:
        while self._held:
            site, anchor, token = self._held.pop()
            try:
                with self.transports(anchor.host) as transport:
                    transport.run("lock_release", {"path": SITE_LOCK_PATH, "token": token})
            except GwctlError as exc:
                log.warning("site %s: the site lock on %s was not released (%s); it "
                            "expires by itself", site, anchor.name, exc)
