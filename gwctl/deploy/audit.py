"""The controller's audit log: one JSON line per apply, rollback and unlock.

Where (first that is set): ``--audit-log PATH``, ``$GWCTL_AUDIT_LOG``, the fleet's
``defaults.audit_log`` (relative to the fleet's directory), else the XDG state directory
(``$XDG_STATE_HOME/gwctl/audit.jsonl``, ``~/.local/state/gwctl/audit.jsonl``; on Windows
``%LOCALAPPDATA%\\gwctl\\audit.jsonl``). The file is created 0600 in a 0700 directory,
and each record is one ``write`` of one line to a descriptor opened with ``O_APPEND``,
so records of concurrent runs never interleave.

A record says who (the OS user; the Kerberos principal when a host was reached with
Kerberos), from where (the controller's host name), what (the fleet path and digest,
its git commit and whether the work tree was dirty, the plan digest), why (the change
reference, the reason given to work outside a maintenance window) and what happened on
each host (outcome, detail, the backup ids of the files replaced). It holds no secret:
details pass through the redactor, and no rendered file content is ever part of it.
The same record, narrowed to the host's own outcome, goes into the Windows Application
event log of each host the run changed, rolled back, failed or unlocked (remote
operation ``write_event``, event source ``gwctl``; ids in `EVENT_IDS`). Unchanged hosts
get no entry: a no-op apply must not flood the event logs. A host an apply or rollback
changed gets its entry in the command that releases its lock (`event_step`, sent by
`gwctl.deploy.apply.finish`), with ``exit_code`` null since the run has not ended.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
import subprocess
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gwctl import __version__
from gwctl.errors import InputError
from gwctl.ops.batch import Step
from gwctl.output import redact

if TYPE_CHECKING:
    from collections.abc import Callable

    from gwctl.deploy.results import GatewayResult
    from gwctl.hosts.inventory import InventoryHost
    from gwctl.hosts.targets import TransportFactory

ENV = "GWCTL_AUDIT_LOG"
FORMAT = 1


def default_path() -> Path:
    """The per-user state location an XDG-aware tool uses."""
    if os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "gwctl" / "audit.jsonl"
    state = os.environ.get("XDG_STATE_HOME")
    base = Path(state) if state and Path(state).is_absolute() else \
        Path.home() / ".local" / "state"
    return base / "gwctl" / "audit.jsonl"


def resolve_path(option: str | None, fleet_setting: str | None,
                 fleet_dir: Path | None) -> Path:
    if option:
        return Path(option)
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    if fleet_setting:
        p = Path(fleet_setting)
        return p if p.is_absolute() or fleet_dir is None else fleet_dir / p
    return default_path()


def fleet_git(fleet_path: Path) -> dict[str, Any]:
    """The commit the fleet is at and whether its work tree differs from it; nulls when
    the fleet is not in a git repository (or git is not installed)."""
    where = fleet_path if fleet_path.is_dir() else fleet_path.parent
    try:
        head = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=30, check=False)
        if head.returncode != 0:
            return {"commit": None, "dirty": None}
        status = subprocess.run(["git", "-C", str(where), "status", "--porcelain",
                                 "--untracked-files=no", "--", "."],
                                capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return {"commit": None, "dirty": None}
    dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
    return {"commit": head.stdout.strip() or None, "dirty": dirty}


def kerberos_principal(host_vars: Sequence[dict[str, Any]], names: Sequence[str]) -> str | None:
    """The principal used when any of the hosts is reached with Kerberos: the inventory's
    user, else the credential cache's default principal."""
    from gwctl.transport.winrm_settings import WinRMSettings

    for name, hv in zip(names, host_vars, strict=True):
        if str(hv.get("ansible_connection") or "winrm") != "winrm":
            continue
        try:
            settings = WinRMSettings.from_ansible_vars(name, hv)
        except InputError:
            continue
        if "kerberos" in settings.transports:
            return settings.user or _cache_principal()
    return None


def _cache_principal() -> str:
    try:
        import gssapi

        return str(gssapi.Credentials(usage="initiate").name)
    except Exception:  # no cache, or no GSSAPI: say so rather than fail the run
        return "(the credential cache's default principal, unreadable)"


def digest_json(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":"))
                          .encode("utf-8")).hexdigest()


@dataclass
class HostOutcome:
    gateway: str
    host: str
    outcome: str
    detail: str = ""
    backups: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, result: GatewayResult) -> HostOutcome:
        return cls(result.gateway, result.host, result.outcome, result.detail,
                   dict(result.backups))

    def to_json(self) -> dict[str, Any]:
        return {"gateway": self.gateway, "host": self.host, "outcome": self.outcome,
                "detail": redact.scrub(self.detail), "backups": dict(self.backups)}


@dataclass
class AuditContext:
    """What a command knows before it touches a host; `record` adds the outcomes."""
    action: str
    fleet_path: str | None = None
    fleet_sha256: str | None = None
    change_ref: str | None = None
    outside_window: str | None = None
    kerberos_principal: str | None = None
    plan_sha256: str | None = None
    plan_file: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def record(self, hosts: Sequence[HostOutcome], *, now: datetime | None = None,
               exit_code: int | None = None) -> dict[str, Any]:
        at = (now or datetime.now(UTC)).astimezone(UTC)
        git = fleet_git(Path(self.fleet_path)) if self.fleet_path else \
            {"commit": None, "dirty": None}
        doc: dict[str, Any] = {
            "gwctl_audit": FORMAT,
            "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "action": self.action,
            "gwctl_version": __version__,
            "user": getpass.getuser(),
            "kerberos_principal": self.kerberos_principal,
            "controller": socket.gethostname(),
            "pid": os.getpid(),
            "fleet": {"path": self.fleet_path, "sha256": self.fleet_sha256,
                      "git_commit": git["commit"], "git_dirty": git["dirty"]},
            "plan_sha256": self.plan_sha256,
            "plan_file": self.plan_file,
            "change_ref": self.change_ref,
            "outside_window": self.outside_window,
            "exit_code": exit_code,
            "hosts": [h.to_json() for h in hosts],
        }
        doc.update(self.extra)
        return doc


def _scrubbed(value: Any) -> Any:
    """Every string of the record through the redactor (a reason or a detail may quote a
    registered secret)."""
    if isinstance(value, str):
        return redact.scrub(value)
    if isinstance(value, dict):
        return {k: _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v) for v in value]
    return value


def append(path: Path, record: dict[str, Any]) -> None:
    """Append one line atomically (one write, O_APPEND); the file is private (0600)."""
    line = (json.dumps(_scrubbed(record), separators=(",", ":")) + "\n").encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError as exc:
        raise InputError(f"cannot open the audit log: {exc.strerror}", file=str(path)) from None
    try:
        if os.name != "nt":
            os.fchmod(fd, 0o600)
        written = os.write(fd, line)
        if written != len(line):
            raise InputError(f"the audit log took {written} of {len(line)} bytes (disk full?)",
                             file=str(path))
    finally:
        os.close(fd)


def read(path: Path) -> list[dict[str, Any]]:
    """Every record of the log, oldest first (for tests and `gwctl doctor`)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


#: the event id of each audited action in the hosts' Application event log
EVENT_IDS = {"apply": 1000, "rollback": 1001, "unlock": 1002, "reconcile": 1003}


def entry_type(outcome: str) -> str:
    if outcome == "failed":
        return "Error"
    return "Warning" if outcome in ("rolled back", "skipped") else "Information"


def host_record(record: dict[str, Any], host: str) -> dict[str, Any]:
    """The record as one host's event log gets it: only that host's outcome."""
    return {**record, "hosts": [h for h in record["hosts"] if h["host"] == host]}


def event_step(record: dict[str, Any], host: str) -> Step:
    """The ``write_event`` that puts `record`, narrowed to `host`, into its event log."""
    mine = _scrubbed(host_record(record, host))
    message = json.dumps(mine, separators=(",", ":"))
    outcome = mine["hosts"][0]["outcome"] if mine["hosts"] else "unchanged"
    return Step("write_event", {"event_id": EVENT_IDS[record["action"]],
                                "entry_type": entry_type(outcome),
                                "message": message[:30000]})


def event_builder(ctx: AuditContext) -> Callable[[GatewayResult], Step]:
    """The audit record of one gateway an apply or rollback just changed, as its host's
    ``write_event`` step (`gwctl.deploy.apply.ApplyOptions.audit_event`). The run's exit
    code is not known yet: the event's ``exit_code`` is null."""
    def build(res: GatewayResult) -> Step:
        return event_step(ctx.record([HostOutcome.of(res)]), res.host)

    return build


def write_host_events(record: dict[str, Any], hosts: Sequence[InventoryHost],
                      transports: TransportFactory, workers: int = 8,
                      written: Collection[str] = ()) -> list[str]:
    """The record into each host's Application event log (``write_event``); a host that
    cannot take it is a warning, returned, never a failed run: the controller's log
    already holds the record. Hosts in `written` got their event in the apply's last
    command (`gwctl.deploy.apply.ApplyOptions.audit_event`) and are skipped."""
    from gwctl.errors import GwctlError
    from gwctl.hosts.fanout import fan_out

    by_name = {h.name: h for h in hosts}
    todo = [h["host"] for h in record["hosts"]
            if h["host"] in by_name and h["outcome"] != "unchanged" and h["host"] not in written]

    def one(i: int) -> str | None:
        name = todo[i]
        step = event_step(record, name)
        try:
            with transports(by_name[name]) as transport:
                transport.run(step.op, step.params)
        except GwctlError as exc:
            return f"{name}: the audit record did not reach its event log: " \
                   f"{redact.scrub(str(exc))}"
        return None

    return [w for w in fan_out(one, len(todo), workers=workers) if w]
