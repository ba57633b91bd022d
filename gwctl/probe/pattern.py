"""Timing patterns of a probe: when each session's request is sent.

- ``simultaneous``: all at once (the sessions wait at a barrier, then send together);
- ``staggered:DURATION``: one every DURATION (``200ms``, ``1s``, ``0.5s``);
- ``ramp``: rounds of 1, 2, 4, ... simultaneous sessions (the last round has all N),
  each round after the previous one finished, to find the highest concurrency that works.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gwctl.errors import UsageError

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s)$")
MAX_STAGGER_S = 60.0


def parse_duration(text: str, what: str) -> float:
    """``200ms`` / ``1.5s`` -> seconds."""
    m = _DURATION.match(text.strip().lower())
    if not m:
        raise UsageError(f"{what}: {text!r} is not a duration (e.g. 200ms, 2s)")
    value = float(m.group(1)) / (1000 if m.group(2) == "ms" else 1)
    return value


@dataclass(frozen=True)
class Pattern:
    kind: str  # simultaneous | staggered | ramp
    interval_s: float = 0.0

    def __str__(self) -> str:
        if self.kind == "staggered":
            return f"staggered:{self.interval_s * 1000:g}ms"
        return self.kind

    @classmethod
    def parse(cls, text: str) -> Pattern:
        name, sep, param = text.strip().lower().partition(":")
        if name == "simultaneous" and not sep:
            return cls("simultaneous")
        if name == "ramp" and not sep:
            return cls("ramp")
        if name == "staggered" and sep:
            interval = parse_duration(param, "--pattern staggered")
            if interval > MAX_STAGGER_S:
                raise UsageError(f"--pattern staggered: at most {MAX_STAGGER_S:g}s")
            return cls("staggered", interval)
        raise UsageError(f"--pattern: {text!r} is not simultaneous, staggered:DURATION or ramp")

    def rounds(self, sessions: int) -> list[int]:
        """How many sessions each round opens (one round except for ramp)."""
        if self.kind != "ramp":
            return [sessions]
        out, level = [], 1
        while level < sessions:
            out.append(level)
            level *= 2
        out.append(sessions)
        return out

    def offsets(self, count: int) -> list[float]:
        """Seconds after the round's start at which each session sends its request."""
        if self.kind == "staggered":
            return [i * self.interval_s for i in range(count)]
        return [0.0] * count
