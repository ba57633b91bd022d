"""The top-level JSON value of an appsettings file is not an object: the gateway does not start.

Microsoft.Extensions.Configuration's JSON provider requires a top-level object
(``{...}``); an array, a string or a number is a startup error even when the JSON itself
is valid (a ``FormatException`` for a root that is not an object: dotnet/runtime
src/libraries/Microsoft.Extensions.Configuration.Json/src/JsonConfigurationFileParser.cs).

PASS::

    { "CORS": { "Enabled": false } }

FAIL::

    [ { "CORS": { "Enabled": false } } ]
"""

from __future__ import annotations

from typing import Any, Final

from gwctl.problems import Level

ID: Final = "top-level-not-object"
LEVEL: Final = Level.ERROR
EFFECT: Final = "start"
OPTIONS: Final[dict[str, Any]] = {}
