"""What happened to one gateway: the outcome of an apply or a rollback, with its steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Outcome = Literal["unchanged", "changed", "rolled back", "failed", "skipped"]


@dataclass
class GatewayResult:
    gateway: str
    host: str
    outcome: Outcome
    detail: str = ""
    recycled: bool = False
    steps: list[str] = field(default_factory=list)
    #: the version gate's decision (GateDecision.to_json), when a gate was asked
    version_gate: dict[str, Any] | None = None
    #: the logon credentials expired (errors.CredentialsExpired): stop the rollout
    credentials_expired: bool = False
    #: managed file -> backup id: for an apply the backups taken before writing (its
    #: restore points), for a rollback the backups restored (the audit log records them)
    backups: dict[str, str] = field(default_factory=dict)
    #: the audit record reached the host's event log in the apply's last command
    #: (`ApplyOptions.audit_event`); the after-run write then skips this host
    event_written: bool = False

    def to_json(self) -> dict[str, Any]:
        data = {"gateway": self.gateway, "host": self.host, "outcome": self.outcome,
                "detail": self.detail, "recycled": self.recycled, "steps": self.steps}
        if self.version_gate is not None:
            data["version_gate"] = self.version_gate
        return data
