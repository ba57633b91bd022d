"""Fault profiles of an emulated gateway host.

A profile is written ``NAME[:PARAM]`` (CLI ``--fault HOST=NAME[:PARAM]``, ``gwctl sim
fault``, `gwctl.sim.SimSite.set_fault`). Several profiles can be active on one host at
once; setting a profile again replaces its parameter.

=====================  ======================================================  ==========
profile                effect on the host's gateway port                       default
=====================  ======================================================  ==========
``latency:MS``         every request waits MS milliseconds before it is        100
                       handled
``drop:N``             the next N requests get their connection closed         1
                       without any response
``drop:R`` (0<R<1)     each request is dropped with probability R (seeded)
``5xx-burst:N``        the next N requests answer 500, 502, 503, 500, ...      3
``5xx-burst:N/S``      ... all with status S (500..599)
``slow-recycle:S``     an app-pool recycle takes S seconds, during which       5
                       every request answers 503
``webrtc-concurrency`` ``POST .../WebRTC/Session`` answers                     10
``[:S]``               ``400 {"error":"Request failed with status 400"}``
                       while another session of this gateway is still being
                       set up: created less than S seconds ago and not yet
                       answered (``PATCH Session/{id}`` with ``answerSDP``)
=====================  ======================================================  ==========

``none`` (or ``clear``) removes every profile of the host.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from gwctl.errors import UsageError

PROFILES: tuple[str, ...] = (
    "latency", "drop", "5xx-burst", "slow-recycle", "webrtc-concurrency",
)
CLEAR_WORDS = ("none", "clear")
BURST_CYCLE = (500, 502, 503)
DEFAULT_WEBRTC_WINDOW = 10.0


def split_profile(text: str) -> tuple[str, str | None]:
    """``"latency:50"`` -> ``("latency", "50")``; checks the name."""
    name, sep, param = text.strip().partition(":")
    name = name.strip().lower()
    if name not in PROFILES and name not in CLEAR_WORDS:
        raise UsageError(f"unknown fault profile {name!r} (profiles: {', '.join(PROFILES)}, "
                         "or 'none' to clear)")
    return name, (param.strip() if sep else None)


def _number(profile: str, param: str, low: float, high: float) -> float:
    try:
        value = float(param)
    except ValueError:
        raise UsageError(f"fault {profile}: {param!r} is not a number") from None
    if not low <= value <= high:
        raise UsageError(f"fault {profile}: {param} is outside {low:g}..{high:g}")
    return value


@dataclass
class Faults:
    """The active fault profiles of one host (persisted in ``state.json``)."""

    latency_ms: float = 0.0
    drop_remaining: int = 0
    drop_ratio: float = 0.0
    burst_remaining: int = 0
    burst_status: int | None = None
    burst_sent: int = 0
    recycle_delay: float = 0.0
    webrtc_window: float | None = None

    def set(self, profile: str, param: str | None = None) -> None:
        """Activate `profile` (a name from `PROFILES`, or ``none``) with its parameter."""
        name, inline = split_profile(profile)
        if param is None:
            param = inline
        if name in CLEAR_WORDS:
            self.clear()
        elif name == "latency":
            self.latency_ms = _number(name, param or "100", 0, 600_000)
        elif name == "drop":
            value = _number(name, param or "1", 0, 1_000_000)
            if 0 < value < 1:
                self.drop_ratio, self.drop_remaining = value, 0
            else:
                if value != int(value):
                    raise UsageError("fault drop: give a count (1, 2, ...) or a ratio 0<R<1")
                self.drop_remaining, self.drop_ratio = int(value), 0.0
        elif name == "5xx-burst":
            count_text, _, status_text = (param or "3").partition("/")
            count = _number(name, count_text, 0, 1_000_000)
            if count != int(count):
                raise UsageError("fault 5xx-burst: the count must be a whole number")
            self.burst_remaining, self.burst_sent = int(count), 0
            self.burst_status = (int(_number(name, status_text, 500, 599))
                                 if status_text else None)
        elif name == "slow-recycle":
            self.recycle_delay = _number(name, param or "5", 0, 3600)
        elif name == "webrtc-concurrency":
            self.webrtc_window = _number(name, param or str(DEFAULT_WEBRTC_WINDOW), 0.001, 86400)

    def clear(self, profile: str | None = None) -> None:
        if profile is None:
            fresh = Faults()
            self.__dict__.update(fresh.__dict__)
            return
        name, _ = split_profile(profile)
        if name in CLEAR_WORDS:
            self.clear()
        elif name == "latency":
            self.latency_ms = 0.0
        elif name == "drop":
            self.drop_remaining, self.drop_ratio = 0, 0.0
        elif name == "5xx-burst":
            self.burst_remaining, self.burst_status, self.burst_sent = 0, None, 0
        elif name == "slow-recycle":
            self.recycle_delay = 0.0
        elif name == "webrtc-concurrency":
            self.webrtc_window = None

    @property
    def any_request_fault(self) -> bool:
        """Whether a request on this host must go through the fault checks at all."""
        return bool(self.latency_ms or self.drop_remaining or self.drop_ratio
                    or self.burst_remaining)

    def take_drop(self, rng: random.Random) -> bool:
        if self.drop_remaining > 0:
            self.drop_remaining -= 1
            return True
        return self.drop_ratio > 0 and rng.random() < self.drop_ratio

    def take_burst(self) -> int | None:
        if self.burst_remaining <= 0:
            return None
        self.burst_remaining -= 1
        status = self.burst_status or BURST_CYCLE[self.burst_sent % len(BURST_CYCLE)]
        self.burst_sent += 1
        return status

    def describe(self) -> list[str]:
        """The active profiles as ``NAME:PARAM`` texts."""
        out: list[str] = []
        if self.latency_ms:
            out.append(f"latency:{self.latency_ms:g}")
        if self.drop_remaining:
            out.append(f"drop:{self.drop_remaining}")
        if self.drop_ratio:
            out.append(f"drop:{self.drop_ratio:g}")
        if self.burst_remaining:
            suffix = f"/{self.burst_status}" if self.burst_status else ""
            out.append(f"5xx-burst:{self.burst_remaining}{suffix}")
        if self.recycle_delay:
            out.append(f"slow-recycle:{self.recycle_delay:g}")
        if self.webrtc_window is not None:
            out.append(f"webrtc-concurrency:{self.webrtc_window:g}")
        return out

    def to_json(self) -> list[str]:
        return self.describe()

    @classmethod
    def from_json(cls, data: Any) -> Faults:
        faults = cls()
        for item in data or []:
            faults.set(str(item))
        return faults
