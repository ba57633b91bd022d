"""Judging a CORS answer as a browser does (the Fetch standard's CORS checks).

A browser sends a preflight (``OPTIONS`` with ``Origin``, ``Access-Control-Request-Method``
and, for headers outside the CORS safelist, ``Access-Control-Request-Headers``) before
any request that is not "simple" -- for the gateway, every call that carries
``Authorization: Bearer`` or a JSON body. The preflight passes only when:

1. its status is 2xx;
2. ``Access-Control-Allow-Origin`` is present once and is the request's origin exactly
   (case-sensitive) or ``*`` (``*`` only when the request carries no cookies, which is how
   the vendor's samples call the API);
3. the method is a safelisted one (GET, HEAD, POST) or listed in
   ``Access-Control-Allow-Methods`` (``*`` covers every method without credentials);
4. every requested non-safelisted header is listed in ``Access-Control-Allow-Headers``
   (compared ignoring case; ``*`` covers them all). The standard excepts
   ``Authorization`` from the wildcard and Firefox and Safari enforce that; Chromium (tested
   here, version 156) lets it through -- so the verdict follows Chromium and carries a note.

The actual response then needs its own ``Access-Control-Allow-Origin`` (rule 2), or the
page cannot read it. The reasons read like the browser console's, so a failure here is
the message the user's developer tools show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gwctl.cors.origins import browser_origin

__all__ = ["BrowserRequest", "Verdict", "blocked_message", "browser_origin", "check_origin",
           "judge_preflight"]

SAFELISTED_METHODS = frozenset({"GET", "HEAD", "POST"})
#: methods a browser upper-cases before sending (Fetch's "normalize")
NORMALISED_METHODS = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"})
SAFELISTED_CONTENT_TYPES = frozenset({"application/x-www-form-urlencoded",
                                      "multipart/form-data", "text/plain"})


@dataclass(frozen=True)
class BrowserRequest:
    """A request a web page makes to the gateway: what decides whether it needs a preflight."""

    method: str
    path: str
    #: request header name -> value, as the page sets them
    headers: Mapping[str, str]

    @property
    def normalised_method(self) -> str:
        upper = self.method.upper()
        return upper if upper in NORMALISED_METHODS else self.method

    def unsafe_headers(self) -> list[str]:
        """The header names a preflight must ask for (lower case, sorted, as browsers do)."""
        out = []
        for name, value in self.headers.items():
            low = name.lower()
            if low in ("accept", "accept-language", "content-language"):
                continue
            if low == "content-type" and value.split(";")[0].strip().lower() in \
                    SAFELISTED_CONTENT_TYPES:
                continue
            out.append(low)
        return sorted(set(out))

    def needs_preflight(self) -> bool:
        return (self.normalised_method not in SAFELISTED_METHODS
                or bool(self.unsafe_headers()))

    def preflight_headers(self, origin: str) -> dict[str, str]:
        headers = {"Origin": origin, "Access-Control-Request-Method": self.normalised_method}
        unsafe = self.unsafe_headers()
        if unsafe:
            headers["Access-Control-Request-Headers"] = ",".join(unsafe)
        return headers


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str = ""
    #: allowed by Chromium, but not by every browser
    note: str = ""


def _header(headers: Mapping[str, str] | Sequence[tuple[str, str]], name: str) -> list[str]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [v for k, v in items if k.lower() == name]


def _list(values: list[str]) -> list[str]:
    return [part.strip() for v in values for part in v.split(",") if part.strip()]


def check_origin(origin: str, headers: Mapping[str, str] | Sequence[tuple[str, str]],
                 *, credentials: bool = False) -> str | None:
    """Fetch's "CORS check": None when the response may be read by `origin`."""
    values = _header(headers, "access-control-allow-origin")
    if not values:
        return "No 'Access-Control-Allow-Origin' header is present on the requested resource."
    if len(values) > 1 or "," in values[0]:
        return ("The 'Access-Control-Allow-Origin' header contains multiple values "
                f"'{', '.join(values)}', but only one is allowed.")
    value = values[0].strip()
    if value == "*":
        if credentials:
            return ("The value of the 'Access-Control-Allow-Origin' header in the response "
                    "must not be the wildcard '*' when the request's credentials mode is "
                    "'include'.")
        return None
    if value != origin:
        return (f"The 'Access-Control-Allow-Origin' header has a value '{value}' that is not "
                "equal to the supplied origin.")
    if credentials and _header(headers, "access-control-allow-credentials") != ["true"]:
        return ("The value of the 'Access-Control-Allow-Credentials' header in the response "
                "is '' which must be 'true' when the request's credentials mode is 'include'.")
    return None


def judge_preflight(request: BrowserRequest, origin: str, status: int,
                    headers: Mapping[str, str] | Sequence[tuple[str, str]], *,
                    credentials: bool = False) -> Verdict:
    """Whether a browser at `origin` would go on to send `request` after this preflight."""
    prefix = "Response to preflight request doesn't pass access control check: "
    problem = check_origin(origin, headers, credentials=credentials)
    if problem:
        return Verdict(False, prefix + problem)
    if not 200 <= status <= 299:
        return Verdict(False, prefix + "It does not have HTTP ok status.")
    methods = _list(_header(headers, "access-control-allow-methods"))
    method = request.normalised_method
    wildcard_methods = methods == ["*"] or ("*" in methods and not credentials)
    if method not in SAFELISTED_METHODS and method not in methods and not wildcard_methods:
        return Verdict(False, f"Method {method} is not allowed by "
                              "Access-Control-Allow-Methods in preflight response.")
    allowed = {h.lower() for h in _list(_header(headers, "access-control-allow-headers"))}
    note = ""
    for name in request.unsafe_headers():
        if name in allowed:
            continue
        if "*" in allowed and not credentials:
            if name == "authorization":
                note = ("Authorization is allowed only through the wildcard '*' of "
                        "Access-Control-Allow-Headers: Chromium accepts that, Firefox and "
                        "Safari block it; list Authorization explicitly")
            continue
        return Verdict(False, f"Request header field {name} is not allowed by "
                              "Access-Control-Allow-Headers in preflight response.")
    return Verdict(True, note=note)


def blocked_message(url: str, origin: str, reason: str) -> str:
    """The browser console's sentence for a blocked request."""
    return (f"Access to fetch at '{url}' from origin '{origin}' has been blocked by CORS "
            f"policy: {reason}")
