"""A live appsettings*.json is not JSON the gateway can read: it does not start (502/503).

The gateway reads appsettings files with System.Text.Json, skipping comments and
accepting trailing commas, with at most 64 levels of nesting (``JsonDocumentOptions``
with ``CommentHandling.Skip`` and ``AllowTrailingCommas``, default ``MaxDepth``:
dotnet/runtime src/libraries/Microsoft.Extensions.Configuration.Json/src/
JsonConfigurationFileParser.cs). Anything else -- a missing
comma, single quotes, an unquoted name, ``True`` instead of ``true``, two top-level
values, an empty file -- stops it at startup. gwctl reports the first error where the
gateway's reader would stop (file mode only: gwctl writes strict JSON itself).

PASS (comments and a trailing comma are accepted, as the gateway accepts them)::

    {
      // Yarp routing details while we debug
      "Logging": { "LogLevel": { "Yarp": "Information", } }
    }

FAIL (pasting a fragment of appsettings.json without its enclosing braces)::

    "ReverseProxy": {
      "Routes": { ... }
    }
"""

from __future__ import annotations

from typing import Any, Final

from gwctl.problems import Level

ID: Final = "json-syntax"
LEVEL: Final = Level.ERROR
EFFECT: Final = "start"
OPTIONS: Final[dict[str, Any]] = {}
