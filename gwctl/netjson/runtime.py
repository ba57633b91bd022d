"""The .NET runtime of the gateway: what JSON ``null`` and ``[]`` become in the configuration.

Up to .NET 9, Microsoft.Extensions.Configuration.Json stores a JSON ``null`` as the empty
string and an empty array as a null value (like an empty object). From .NET 10 a
``null`` stays null and an empty array becomes the empty string
(dotnet/runtime src/libraries/Microsoft.Extensions.Configuration.Json/src/
JsonConfigurationFileParser.cs, ``SetNullIfElementIsEmpty``; the .NET 10 change is the
documented breaking change "Null values preserved in configuration",
learn.microsoft.com/dotnet/core/compatibility/extensions/10.0/
configuration-null-values-preserved). The difference decides findings: YARP reads a typed
setting only when it ``is string`` (microsoft/reverse-proxy src/ReverseProxy/
Configuration/ConfigProvider/ConfigurationReadingExtensions.cs), so ``"Mode": null``
stops a .NET 8 gateway (``""`` does not parse) and is the default mode on .NET 10.

Milestone does not publish the runtime of each release: `gwctl.versions.dotnet` holds
gwctl's assumption per release (``gwctl/data/dotnet.yaml``); a fleet's ``dotnet_version``
setting and ``gwctl lint-file --dotnet-version`` override it. `DEFAULT` is the runtime
of a gateway nothing is known about.
"""

from __future__ import annotations

DEFAULT = 8
SUPPORTED = (6, 7, 8, 9, 10)


def null_text(runtime: int) -> str | None:
    """What a JSON ``null`` is stored as."""
    return None if runtime >= 10 else ""


def empty_array_text(runtime: int) -> str | None:
    """What an empty JSON array is stored as (None: like an empty section)."""
    return "" if runtime >= 10 else None
