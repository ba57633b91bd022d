"""Running a WebRTC signalling probe against one gateway, and judging what it saw.

Each session: ``POST Session`` for its camera (sessions go round-robin over the cameras),
``GET``/``POST IceCandidates``, ``PATCH Session`` with the answer (`gwctl.verify.signalling`).
A session's *time to answer* runs from sending its ``POST Session`` to the gateway
accepting its answer. Sessions of one round run in threads; ``simultaneous`` (and ramp)
rounds start together at a barrier, and no session of such a round is answered before
every session request of the round has had its answer -- "N sessions at once", as a
dashboard opens them, whatever the speed of the machine running the probe.

The forum pattern is *present* when a session's ``POST Session`` was answered ``400``
while another session of the same gateway had been created and not yet answered -- the
report's words: "400 while another session of the same gateway is still being set up".
"""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from gwctl.errors import UsageError
from gwctl.loopback import is_loopback
from gwctl.probe.media import LOOPBACK_ADDRESSES, MediaClient
from gwctl.probe.pattern import Pattern
from gwctl.verify import signalling
from gwctl.verify.exchange import Exchange, Recorder
from gwctl.versions.release import Version

MAX_SESSIONS = 256


@dataclass
class SessionOutcome:
    round: int
    index: int
    camera: str
    label: str
    ok: bool = False
    #: the step that failed (``session``, ``session: answer``, ...) and its HTTP status
    failed_step: str | None = None
    status: int | None = None
    error: str | None = None
    #: seconds since the probe started
    post_sent_s: float | None = None
    #: when the answer to ``POST Session`` came back (success or not)
    post_done_s: float | None = None
    created_s: float | None = None
    answered_s: float | None = None
    #: with --media: when the first decoded video frame came out
    first_frame_s: float | None = None
    #: with --media: the client's peer, and frames decoded over --duration
    peer: int | None = None
    frames: int | None = None
    fps: float | None = None

    @property
    def time_to_answer_s(self) -> float | None:
        if self.answered_s is None or self.post_sent_s is None:
            return None
        return self.answered_s - self.post_sent_s

    @property
    def time_to_first_frame_s(self) -> float | None:
        if self.first_frame_s is None or self.post_sent_s is None:
            return None
        return self.first_frame_s - self.post_sent_s

    def to_json(self) -> dict[str, Any]:
        tta, ttf = self.time_to_answer_s, self.time_to_first_frame_s
        return {"round": self.round, "session": self.index, "camera": self.camera,
                "ok": self.ok, "failed_step": self.failed_step, "status": self.status,
                "error": self.error,
                "time_to_answer_ms": None if tta is None else round(tta * 1000, 1),
                "time_to_first_frame_ms": None if ttf is None else round(ttf * 1000, 1),
                "frames": self.frames,
                "fps": None if self.fps is None else round(self.fps, 1)}


@dataclass
class ProbeResult:
    gateway: str
    url: str
    version: str
    pattern: str
    sessions: int
    cameras: list[str]
    started_at: datetime
    ended_at: datetime | None = None
    outcomes: list[SessionOutcome] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    #: the highest number of simultaneous set-ups that all succeeded (None: not measured)
    highest_working: int | None = None
    setup_error: str | None = None

    @property
    def succeeded(self) -> list[SessionOutcome]:
        return [o for o in self.outcomes if o.ok]

    @property
    def failed(self) -> list[SessionOutcome]:
        return [o for o in self.outcomes if not o.ok]

    def sessions_text(self) -> str:
        return (f"{self.sessions} session(s) across {len(self.cameras)} camera(s), pattern "
                f"{self.pattern}")

    def forum_cases(self) -> list[tuple[SessionOutcome, SessionOutcome]]:
        """(failed session, a session it collided with) for each forum-pattern failure.

        The gateway handled the refused request somewhere between sending it and its answer
        coming back; the other session was in set-up on the gateway if its own request had
        been sent before that answer came back, it was created, and its answer had not been
        accepted before the refused request was sent.
        """
        cases = []
        for f in self.failed:
            if f.failed_step != "session" or f.status != 400 or f.post_sent_s is None \
                    or f.post_done_s is None:
                continue
            sent, back = f.post_sent_s, f.post_done_s
            other = next((s for s in self.outcomes if s is not f and s.created_s is not None
                          and s.post_sent_s is not None and s.post_sent_s < back
                          and (s.answered_s is None or s.answered_s > sent)), None)
            if other is not None:
                cases.append((f, other))
        return cases

    def verdict(self) -> str:
        """The plain-words answer to the forum report's question."""
        cases = self.forum_cases()
        if self.setup_error:
            return f"The probe could not start: {self.setup_error}"
        if cases:
            f, other = cases[0]
            return (f"The forum's pattern is PRESENT: {len(cases)} session request(s) were "
                    "answered 400 Bad Request while another session of this gateway was "
                    f"still being set up (e.g. {f.label} was refused while {other.label} "
                    "was created but not yet answered).")
        if self.failed:
            return (f"The forum's pattern is absent, but {len(self.failed)} of "
                    f"{len(self.outcomes)} session(s) failed (see the table).")
        return (f"The forum's pattern is absent: all {len(self.outcomes)} session(s) were "
                "set up.")

    def stats(self) -> dict[str, Any]:
        times = sorted(t for o in self.outcomes if (t := o.time_to_answer_s) is not None)
        out: dict[str, Any] = {"sessions": len(self.outcomes),
                               "succeeded": len(self.succeeded), "failed": len(self.failed)}
        if times:
            out["time_to_answer_ms"] = {
                "min": round(times[0] * 1000, 1),
                "p50": round(statistics.median(times) * 1000, 1),
                "max": round(times[-1] * 1000, 1)}
        frames = sorted(t for o in self.outcomes if (t := o.time_to_first_frame_s) is not None)
        if frames:
            out["time_to_first_frame_ms"] = {
                "min": round(frames[0] * 1000, 1),
                "p50": round(statistics.median(frames) * 1000, 1),
                "p95": round(frames[min(len(frames) - 1,
                                        int(0.95 * len(frames)))] * 1000, 1),
                "max": round(frames[-1] * 1000, 1)}
        by_status: dict[str, int] = {}
        for o in self.failed:
            key = f"{o.failed_step}: {o.status if o.status is not None else o.error}"
            by_status[key] = by_status.get(key, 0) + 1
        out["failures"] = by_status
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "gateway": self.gateway, "url": self.url, "version": self.version,
            "pattern": self.pattern, "sessions_requested": self.sessions,
            "cameras": self.cameras,
            "started_at": self.started_at.isoformat(), "ended_at":
                self.ended_at.isoformat() if self.ended_at else None,
            "summary": self.stats(),
            "forum_pattern": {"present": bool(self.forum_cases()), "verdict": self.verdict(),
                              "cases": [{"refused": f.label, "while_setting_up": o.label}
                                        for f, o in self.forum_cases()]},
            "highest_working_concurrency": self.highest_working,
            "setup_error": self.setup_error,
            "outcomes": [o.to_json() for o in self.outcomes],
        }


@dataclass(frozen=True)
class ProbeSettings:
    user: str
    password: str
    sessions: int = 8
    cameras: int = 4
    pattern: Pattern = field(default_factory=lambda: Pattern("simultaneous"))
    client_id: str = signalling.DEFAULT_CLIENT_ID
    verify_tls: bool | str = True
    timeout_s: float = 15.0
    #: receive video with a real WebRTC peer per session (aiortc)
    media: bool = False
    media_timeout_s: float = 10.0
    #: with media: how long to keep receiving after the round's set-ups, to measure fps
    duration_s: float = 0.0
    #: with media: the client's STUN/TURN servers (url, username, credential)
    ice_servers: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    #: with media: relayed candidates only (a browser's iceTransportPolicy "relay")
    relay_only: bool = False

    def check(self) -> None:
        if not 1 <= self.sessions <= MAX_SESSIONS:
            raise UsageError(f"--sessions must be 1..{MAX_SESSIONS}")
        if self.cameras < 1:
            raise UsageError("--cameras must be 1 or more")


def _one(rec: Recorder, api: str, token: str, version: Version, out: SessionOutcome,
         start: threading.Barrier | None, delay: float, origin: float,
         media: MediaClient | None = None, media_timeout_s: float = 10.0,
         posted: threading.Barrier | None = None) -> None:
    if start is not None:
        start.wait()
    if delay:
        time.sleep(delay)  # the pattern's schedule, not synchronisation
    out.post_sent_s = time.monotonic() - origin
    try:
        try:
            session = signalling.create_session(rec, api, token, out.camera, version,
                                                label=f"{out.label} session")
            out.created_s = out.post_done_s = time.monotonic() - origin
        finally:
            if posted is not None:
                posted.wait()
        answer, key, candidates = None, None, None
        if media is not None:
            key, answer, candidates = media.answer(
                signalling.offer_of(session, f"{out.label} session"))
        signalling.complete_session(rec, api, token, session, answer=answer,
                                    candidates=candidates, label=f"{out.label} session")
        out.answered_s = time.monotonic() - origin
        out.peer = key
        if media is not None and key is not None:
            frame_at = media.first_frame(key, media_timeout_s)
            if frame_at is None:
                out.failed_step = "media"
                out.error = f"no decoded video frame within {media_timeout_s:g} s"
                return
            out.first_frame_s = frame_at - origin
        out.ok = True
    except signalling.SignallingError as exc:
        if out.post_done_s is None:
            out.post_done_s = time.monotonic() - origin
        out.failed_step = exc.step.removeprefix(f"{out.label} ")
        out.status = exc.status
        out.error = exc.detail


def run_probe(gateway: str, api: str, version: Version, s: ProbeSettings) -> ProbeResult:
    """Open the sessions; never raises for what the gateway answers (that is the result)."""
    s.check()
    result = ProbeResult(gateway, api, version.name, str(s.pattern), s.sessions, [],
                         datetime.now(UTC))
    local = is_loopback(urlsplit(api).hostname or "")
    media = MediaClient(s.ice_servers, s.relay_only,
                        LOOPBACK_ADDRESSES if local else None) if s.media else None
    try:
        return _run(gateway, api, version, s, result, media)
    finally:
        if media is not None:
            media.close()


def _run(gateway: str, api: str, version: Version, s: ProbeSettings, result: ProbeResult,
         media: MediaClient | None) -> ProbeResult:
    limits = httpx.Limits(max_connections=s.sessions + 4,
                          max_keepalive_connections=s.sessions + 4)
    with httpx.Client(verify=s.verify_tls, timeout=s.timeout_s, limits=limits) as client:
        rec = Recorder(client, mask_later=True)
        rec.request("well-known", "GET", f"{api}/.well-known/uris")
        try:
            token = signalling.get_token(rec, api, s.user, s.password, s.client_id)
            cameras = signalling.list_cameras(rec, api, token)
        except signalling.SignallingError as exc:
            result.setup_error = str(exc)
            result.exchanges = list(rec.exchanges)
            result.ended_at = datetime.now(UTC)
            return result
        from gwctl.output import redact

        redact.register(token)
        if not cameras:
            result.setup_error = "the gateway lists no camera"
        chosen = cameras[:s.cameras]
        result.cameras = chosen
        rounds = s.pattern.rounds(s.sessions) if chosen else []
        multi = len(rounds) > 1
        for r, count in enumerate(rounds, 1):
            outs = [SessionOutcome(r, i + 1, chosen[i % len(chosen)],
                                   f"r{r}s{i + 1:02d}" if multi else f"s{i + 1:02d}")
                    for i in range(count)]
            together = s.pattern.kind != "staggered"
            barrier = threading.Barrier(count) if together else None
            posted = threading.Barrier(count) if together else None
            offsets = s.pattern.offsets(count)
            with ThreadPoolExecutor(max_workers=count) as pool:
                futures = [pool.submit(_one, rec, api, token, version, out, barrier, delay,
                                       rec.origin, media, s.media_timeout_s, posted)
                           for out, delay in zip(outs, offsets, strict=True)]
                for future in futures:
                    future.result()  # a bug in a session thread must not pass silently
            if media is not None and s.duration_s > 0:
                _measure(media, outs, s.duration_s, rec.origin)
            result.outcomes += outs
            if all(o.ok for o in outs):
                result.highest_working = count if s.pattern.kind != "staggered" else None
            elif multi:
                break  # a higher level would only fail more
        if s.pattern.kind == "simultaneous" and result.outcomes and \
                not all(o.ok for o in result.outcomes):
            result.highest_working = _search(rec, api, token, version, chosen, s)
        result.exchanges = list(rec.exchanges)
    result.ended_at = datetime.now(UTC)
    return result


def _measure(media: MediaClient, outs: list[SessionOutcome], duration_s: float,
             origin: float) -> None:
    """Keep the round's sessions receiving for `duration_s`, then count their frames."""
    time.sleep(duration_s)  # the measurement's length, not a synchronisation
    now = time.monotonic() - origin
    for o in outs:
        if o.peer is None or o.first_frame_s is None:
            continue
        o.frames = media.frames.get(o.peer, 0)
        span = now - o.first_frame_s
        if span > 0 and o.frames > 1:
            o.fps = (o.frames - 1) / span


def _search(rec: Recorder, api: str, token: str, version: Version, cameras: list[str],
            s: ProbeSettings) -> int:
    """After a failed simultaneous round: the highest level 1, 2, 4, ... below it that
    works (these sessions are recorded too, labelled ``search``)."""
    best, level = 0, 1
    while level < s.sessions:
        outs = [SessionOutcome(0, i + 1, cameras[i % len(cameras)], f"search{level}s{i + 1:02d}")
                for i in range(level)]
        barrier, posted = threading.Barrier(level), threading.Barrier(level)
        with ThreadPoolExecutor(max_workers=level) as pool:
            futures = [pool.submit(_one, rec, api, token, version, out, barrier, 0.0,
                                   rec.origin, posted=posted) for out in outs]
            for future in futures:
                future.result()
        if not all(o.ok for o in outs):
            break
        best, level = level, level * 2
    return best
