"""CORS is enabled, but a browser REST/WebRTC client still could not call the gateway.

A browser client sends the bearer token in ``Authorization`` and JSON bodies with
``Content-Type: application/json``, and WebRTC signalling uses ``POST`` (create a
session) and ``PATCH`` (send the answer). Both headers need a preflight that the gateway
must allow. Reported when CORS is enabled and a header of ``headers`` or a method of
``methods`` (options) is not listed. ``*`` allows every header or method: the manual's
permissive development policy is used with bearer tokens, so the gateway answers a
preflight for ``*`` with the headers the browser asked for (a literal ``*`` would not
cover ``Authorization`` under the Fetch standard).

PASS::

    cors:
      enabled: true
      allow_origins: [https://portal.example.com]
      allow_headers: [Authorization, Content-Type]
      allow_methods: [GET, POST, PATCH]

FAIL (the manual's example: no Authorization header, so every authenticated call fails)::

    { "CORS": { "Enabled": true, "Access-Control-Allow-Origin": "https://portal.example.com",
                "Access-Control-Allow-Headers": "Content-Type",
                "Access-Control-Allow-Methods": "*" } }
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules import _cors
from gwctl.rules._cfg import Key
from gwctl.rules.base import Options
from gwctl.rules.target import Target

ID: Final = "cors-browser-client"
LEVEL: Final = Level.WARNING
OPTIONS: Final[dict[str, Any]] = {"headers": ["Authorization", "Content-Type"],
                                  "methods": ["POST", "PATCH"]}


def _anchor(target: Target, key: Key) -> Key:
    if target.in_override(key):
        return key
    return _cors.ENABLED if target.in_override(_cors.ENABLED) else _cors.SECTION


def check(target: Target, options: Options) -> Iterator[Problem]:
    if target.view is None or not _cors.enabled(target):
        return
    headers = {item.lower() for _, item in _cors.items(target, _cors.HEADERS)}
    if "*" not in headers:
        missing = [str(h) for h in options.get("headers") or () if str(h).lower() not in headers]
        if missing:
            message = (f"CORS is enabled but Access-Control-Allow-Headers does not allow "
                       f"{', '.join(missing)}: browsers refuse the preflight, so "
                       "authenticated REST and WebRTC calls fail")
            yield from target.report(ID, LEVEL, message, _anchor(target, _cors.HEADERS))
    methods = {item.upper() for _, item in _cors.items(target, _cors.METHODS)}
    if "*" not in methods:
        gone = [m for m in options.get("methods") or () if str(m).upper() not in methods]
        if gone:
            message = (f"CORS is enabled but Access-Control-Allow-Methods does not allow "
                       f"{', '.join(map(str, gone))}: browsers block those cross-origin "
                       "requests (WebRTC signalling needs POST and PATCH)")
            yield from target.report(ID, LEVEL, message, _anchor(target, _cors.METHODS))
