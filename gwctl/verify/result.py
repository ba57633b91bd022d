"""One check's outcome, and a gateway's list of them, as text and as JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

#: ``warn`` and ``info`` are used by ``gwctl doctor`` (a risk, a hint); only ``fail`` fails
Status = Literal["pass", "fail", "skip", "warn", "info"]


@dataclass(frozen=True)
class CheckResult:
    """What one check found. ``detail`` and ``remedy`` are shown to people: no secrets."""

    check: str
    status: Status
    elapsed_s: float
    detail: str = ""
    #: what to do about a failure (or why a check was skipped)
    remedy: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "status": self.status,
                "elapsed_ms": round(self.elapsed_s * 1000, 1), "detail": self.detail,
                "remedy": self.remedy}

    def line(self) -> str:
        text = f"  {self.status.upper():<4}  {self.check:<40} {self.elapsed_s * 1000:7.0f} ms"
        if self.detail:
            text += f"  {self.detail}"
        if self.remedy and self.status not in ("pass", "skip"):
            text += f"\n        -> {self.remedy}"
        return text


@dataclass
class GatewayReport:
    gateway: str
    url: str
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.status != "fail" for c in self.checks)

    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status == "fail"]

    def to_json(self) -> dict[str, Any]:
        return {"gateway": self.gateway, "url": self.url, "ok": self.ok,
                "checks": [c.to_json() for c in self.checks]}
