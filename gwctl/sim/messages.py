"""Responses inside the emulation (between the gateway, its routes and the backends)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

Headers = list[tuple[bytes, bytes]]

JSON_TYPE = b"application/json; charset=utf-8"
HTML_TYPE = b"text/html; charset=us-ascii"


@dataclass
class SimResponse:
    status: int
    body: bytes = b""
    headers: Headers = field(default_factory=list)
    #: close the connection without answering (fault ``drop``)
    drop: bool = False
    #: what the access log records about how the gateway handled the request
    route: str = "-"
    destination: str = "-"
    note: str = "-"
    #: what IIS logs besides the status (``sc-substatus``: 30 of ANCM's 500.30)
    substatus: int = 0
    #: answered by HTTP.sys without the site (a stopped app pool): not in the site's log
    http_sys: bool = False


def json_response(status: int, data: Any, headers: Headers | None = None) -> SimResponse:
    body = json.dumps(data, separators=(",", ":")).encode("utf-8")
    return SimResponse(status, body, [(b"content-type", JSON_TYPE), *(headers or [])])


def rest_error(status: int, text: str) -> SimResponse:
    """A REST API error: ``{"error": {"httpCode": N, "details": [{"errorText": ...}]}}``."""
    return json_response(status, {"error": {"httpCode": status,
                                            "details": [{"errorText": text}]}})


def empty(status: int, headers: Headers | None = None) -> SimResponse:
    return SimResponse(status, b"", list(headers or []))


_IIS_PAGES = {
    404: ("Not Found", "HTTP Error 404. The requested resource is not found."),
    503: ("Service Unavailable", "HTTP Error 503. The service is unavailable."),
}


def iis_error(status: int) -> SimResponse:
    """The short HTML page HTTP.sys / IIS answers with (no app involved)."""
    title, text = _IIS_PAGES.get(status, ("Error", f"HTTP Error {status}."))
    body = (
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN""http://www.w3.org/TR/html4/strict.dtd">'
        f"\r\n<HTML><HEAD><TITLE>{title}</TITLE>\r\n"
        '<META HTTP-EQUIV="Content-Type" Content="text/html; charset=us-ascii"></HEAD>\r\n'
        f"<BODY><h2>{title}</h2>\r\n<hr><p>{text}</p>\r\n</BODY></HTML>\r\n"
    ).encode("ascii")
    return SimResponse(status, body, [(b"content-type", HTML_TYPE)])
