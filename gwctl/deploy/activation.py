"""Pending activation: files on a host that its gateway may not be running yet.

A gateway runs what it read at its last start: ``appsettings*.json`` are read when the app
pool starts or recycles. An apply that dies after writing a file and before its recycle
and health check (kill -9, a cut network, a crash during the automatic rollback) leaves
files on disk that look right to a byte comparison while the gateway still serves the
old configuration. Comparing bytes alone would then call the host "in sync" forever.

So every apply (and rollback) leaves a record on the host, ``ACTIVATION_PATH``, written
*before* its first file write and marked done only *after* the health check passed::

    {"gwctl_activation": 1, "state": "pending" | "active", "gateway": "site/name",
     "owner": "user@controller pid N", "at": "...Z", "step": "apply" | "rollback",
     "recycle": true, "restore_points": {"appsettings.Production.json": "<backup id>"},
     "product_version": "25.2" | absent, "base_sha256": "<digest>" | absent}

``product_version`` (the gateway release installed when the backups were taken, as the
version gate read it) and ``base_sha256`` (the host's ``appsettings.json`` then) tie the
restore points to a release: ``gwctl rollback`` refuses to put back backups taken under
another release than the one installed now, unless ``--force`` (the overrides of one
release are not reviewed against another's base; the upgrade, not the rollback, is what
is to be undone).

``diff`` reads it with the managed files (same operation, no extra round trip) and
reports a pending record as drift ("configuration on disk not yet active"); ``apply``
completes a pending activation even when every byte already matches: it writes what
still differs, recycles when any step needed it, health-checks, and on failure restores
the *restore points* of the interrupted apply -- the files as they were before that apply
began, the last configuration known to have passed a health check -- not the half-written
state it found.

nlog.config needs no recycle: NLog watches it (``autoReload``) and reloads on the write
itself, whether or not gwctl's process survives. It is still covered by the record, so
that an apply cut between the two files is completed or rolled back as a whole.

The record is written with the ordinary ``write_file`` operation (atomic, verified) and
is read with ``stat``; a record that cannot be parsed is treated as pending, so that a
damaged record forces a recycle and health check rather than hiding anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

ACTIVATION_PATH = r"C:\ProgramData\gwctl\activation.json"
#: the name under which the record travels with the managed files in `HostFacts`
ACTIVATION = "activation"
FORMAT = 1

State = Literal["pending", "active"]
Step = Literal["apply", "rollback"]


@dataclass(frozen=True)
class Activation:
    """The activation record of a gateway host."""

    state: State
    gateway: str = ""
    owner: str = ""
    at: str = ""
    step: Step = "apply"
    #: whether completing it needs an app-pool recycle
    recycle: bool = True
    #: managed file name -> id of its backup taken before the interrupted apply began
    restore_points: dict[str, str] = field(default_factory=dict)
    #: why a damaged record counts as pending
    damaged: str | None = None
    #: the gateway release installed when the restore points were taken, if known
    product_version: str | None = None
    #: digest of the host's appsettings.json then, if known
    base_sha256: str | None = None

    @property
    def pending(self) -> bool:
        return self.state == "pending"

    def describe(self) -> str:
        """One line for people: what was interrupted, by whom, when."""
        if self.damaged:
            return f"the activation record on the host is unreadable ({self.damaged})"
        what = "a rollback" if self.step == "rollback" else "an apply"
        who = f" by {self.owner}" if self.owner else ""
        when = f" at {self.at}" if self.at else ""
        return f"{what}{who}{when} did not finish its recycle and health check"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"gwctl_activation": FORMAT, "state": self.state,
                                "gateway": self.gateway, "owner": self.owner, "at": self.at,
                                "step": self.step, "recycle": self.recycle,
                                "restore_points": dict(sorted(self.restore_points.items()))}
        if self.damaged:
            data["damaged"] = self.damaged
        if self.product_version is not None:
            data["product_version"] = self.product_version
        if self.base_sha256 is not None:
            data["base_sha256"] = self.base_sha256
        return data

    def encode(self) -> bytes:
        """The bytes written to the host: compact, sorted, UTF-8, CRLF-terminated."""
        body = {k: v for k, v in self.to_json().items() if k != "damaged"}
        return (json.dumps(body, sort_keys=True, ensure_ascii=True) + "\r\n").encode("ascii")


def parse(content: bytes | None) -> Activation | None:
    """The record from the host's bytes; None when there is none."""
    if content is None:
        return None
    try:
        data = json.loads(content.decode("utf-8-sig"))
        if not isinstance(data, dict) or data.get("gwctl_activation") != FORMAT:
            raise ValueError("not a gwctl activation record of format 1")
        state, step = data["state"], data.get("step", "apply")
        points = data.get("restore_points") or {}
        if state not in ("pending", "active") or step not in ("apply", "rollback") or \
                not isinstance(points, dict):
            raise ValueError("unknown state, step or restore points")
        return Activation(state, str(data.get("gateway", "")), str(data.get("owner", "")),
                          str(data.get("at", "")), step, bool(data.get("recycle", True)),
                          {str(k): str(v) for k, v in points.items()},
                          product_version=_text_or_none(data.get("product_version")),
                          base_sha256=_text_or_none(data.get("base_sha256")))
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        return Activation("pending", damaged=str(exc)[:200])


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
