"""``*`` or ``null`` in Access-Control-Allow-Origin of a production gateway.

With a wildcard any web page, on any site, can call the gateway from its visitors'
browsers; ``null`` is the origin of sandboxed iframes and ``file://`` pages, which any
attacker can produce. The manual: "Never use wildcard (*) or null in your origin".
``*`` means any origin only when it is the sole entry (``CorsPolicy.AllowAnyOrigin``,
dotnet/aspnetcore src/Middleware/CORS/src/Infrastructure/CorsPolicy.cs); ``null`` is
compared as a literal origin, anywhere in the list. Reported when CORS is enabled and
the gateway's environment is one of ``environments``
(default: production).

For test and development systems (the manual's permissive example) declare the
environment: ``settings: {environment: development}`` on the site or gateway, or
``gwctl lint-file --environment development`` for live files. To accept it on one
production gateway anyway, suppress it inline with a reason.

PASS (a development gateway)::

    settings:
      environment: development
      cors: {enabled: true, allow_origins: ["*"]}

FAIL (production is the default)::

    settings:
      cors: {enabled: true, allow_origins: ["*"]}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules import _cors
from gwctl.rules.base import Options, in_environments
from gwctl.rules.target import Target

ID: Final = "cors-wildcard-origin"
LEVEL: Final = Level.ERROR
OPTIONS: Final[dict[str, Any]] = {"environments": ["production"]}


def check(target: Target, options: Options) -> Iterator[Problem]:
    if target.view is None or not in_environments(target, options) or not _cors.enabled(target):
        return
    entries = _cors.items(target, _cors.ORIGIN)
    for i, item in entries:
        if item.lower() not in _cors.WILDCARDS or (item == "*" and len(entries) > 1):
            # '*' opens the gateway only as the sole entry (cors-origin-format otherwise)
            continue
        who = ("any web page" if item == "*"
               else "any sandboxed iframe or file:// page (origin 'null')")
        message = (f"Access-Control-Allow-Origin contains {item!r} on a {target.environment} "
                   f"gateway: {who} can call the API with its users' credentials; list "
                   "explicit origins (https://host[:port])")
        yield from target.report(ID, LEVEL, message, _cors.ORIGIN, item=i)
