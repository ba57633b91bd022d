"""Recorded HTTP exchanges: every request and response of a check or probe, masked.

What support needs to see of a failing client -- method, path, status, headers, body,
timing -- without what nobody may see: ``Authorization`` values, cookies, passwords in
forms and tokens in JSON bodies read ``(secret)`` (`gwctl.output.redact` decides).
Bodies are kept up to `MAX_BODY` characters.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

from gwctl.output import redact

MAX_BODY = 16_000
#: headers whose whole value is a credential
_SECRET_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization"})


def mask_headers(headers: httpx.Headers) -> list[tuple[str, str]]:
    out = []
    for name, value in headers.multi_items():
        low = name.lower()
        if low in _SECRET_HEADERS:
            scheme = value.split(" ", 1)[0] if " " in value and low.endswith(
                "authorization") else ""
            out.append((name, f"{scheme} {redact.MASK}".strip()))
        else:
            out.append((name, redact.scrub(value)))
    return out


def mask_body(content: bytes, content_type: str) -> str:
    text = content[:MAX_BODY * 4].decode("utf-8", "replace")
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        pairs = [(k, redact.MASK if redact.is_secret_name(k) else v)
                 for k, v in parse_qsl(text, keep_blank_values=True)]
        text = urlencode(pairs, safe="()")
    elif kind.endswith("json") or text.lstrip().startswith(("{", "[")):
        text = redact.mask_json_text(text)
    else:
        text = redact.scrub(text)
    return text if len(text) <= MAX_BODY else text[:MAX_BODY] + "...(truncated)"


@dataclass(frozen=True)
class Exchange:
    """One request and its response (or the error instead of one), masked."""

    label: str
    method: str
    url: str
    #: seconds since the recorder started
    started_s: float
    elapsed_s: float
    request_headers: list[tuple[str, str]]
    request_body: str
    status: int | None = None
    response_headers: tuple[tuple[str, str], ...] = ()
    response_body: str = ""
    error: str | None = None
    #: wall-clock time the request was sent (UTC, ISO 8601), for matching logs
    sent_at: str = ""

    @property
    def path(self) -> str:
        parts = urlsplit(self.url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label, "method": self.method, "url": self.url, "path": self.path,
            "sent_at": self.sent_at, "started_ms": round(self.started_s * 1000, 1),
            "elapsed_ms": round(self.elapsed_s * 1000, 1),
            "request": {"headers": [list(h) for h in self.request_headers],
                        "body": self.request_body},
            "response": None if self.status is None else {
                "status": self.status, "headers": [list(h) for h in self.response_headers],
                "body": self.response_body},
            "error": self.error,
        }

    def markdown(self) -> str:
        lines = [f"**{self.label}** -- `{self.method} {self.path}` at {self.sent_at} "
                 f"({self.elapsed_s * 1000:.0f} ms)", "", "```http",
                 f"{self.method} {self.path}"]
        lines += [f"{k}: {v}" for k, v in self.request_headers]
        if self.request_body:
            lines += ["", self.request_body]
        lines.append("```")
        if self.status is None:
            lines += ["", f"No response: {self.error}"]
        else:
            lines += ["", "```http", f"HTTP {self.status}"]
            lines += [f"{k}: {v}" for k, v in self.response_headers]
            if self.response_body:
                lines += ["", self.response_body]
            lines.append("```")
        return "\n".join(lines)


class Recorder:
    """An httpx client whose every exchange is kept (masked) in `exchanges`.

    With ``mask_later`` the masking (a scan of every header and body) waits until
    `exchanges` is read: the probe's session threads then spend their time on the
    sessions, not on masking each other's SDP while the gateway waits for them. Nothing
    leaves the recorder unmasked either way.
    """

    def __init__(self, client: httpx.Client, *, mask_later: bool = False) -> None:
        self.client = client
        self.origin = time.monotonic()
        self.mask_later = mask_later
        self._exchanges: list[Exchange] = []
        self._raw: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()

    @property
    def exchanges(self) -> list[Exchange]:
        with self._lock:
            raw, self._raw = self._raw, []
            self._exchanges += [_masked(*item) for item in raw]
            return self._exchanges

    def _keep(self, *item: Any) -> None:
        if self.mask_later:
            with self._lock:
                self._raw.append(item)
        else:
            exchange = _masked(*item)
            with self._lock:
                self._exchanges.append(exchange)

    def request(self, label: str, method: str, url: str, *,
                headers: dict[str, str] | None = None, json_body: Any = None,
                form: dict[str, str] | None = None) -> httpx.Response | None:
        """Send; None when no response came (the error is recorded)."""
        from datetime import UTC, datetime

        request = self.client.build_request(
            method, url, headers=headers,
            content=None if json_body is None else json.dumps(json_body).encode(),
            data=form)
        if json_body is not None:
            request.headers["Content-Type"] = "application/json"
        sent_at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        start = time.monotonic()
        try:
            response = self.client.send(request)
        except httpx.HTTPError as exc:
            self._keep(label, method, url, start - self.origin, time.monotonic() - start,
                       request, None, f"{type(exc).__name__}: {exc}", sent_at)
            return None
        self._keep(label, method, url, start - self.origin, time.monotonic() - start,
                   request, response, None, sent_at)
        return response


def _masked(label: str, method: str, url: str, started_s: float, elapsed_s: float,
            request: httpx.Request, response: httpx.Response | None, error: str | None,
            sent_at: str) -> Exchange:
    req_headers = mask_headers(request.headers)
    req_body = mask_body(request.content, request.headers.get("content-type", ""))
    if response is None:
        return Exchange(label, method, url, started_s, elapsed_s, req_headers, req_body,
                        error=redact.scrub(error or ""), sent_at=sent_at)
    return Exchange(label, method, url, started_s, elapsed_s, req_headers, req_body,
                    response.status_code, tuple(mask_headers(response.headers)),
                    mask_body(response.content, response.headers.get("content-type", "")),
                    sent_at=sent_at)
