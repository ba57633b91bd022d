"""The boundary releases gwctl's rules, plans and apply gate compare against.

Each constant is the ``since`` of one row of the feature table
(``gwctl/data/features.yaml``, loaded by `gwctl.versions.features`), read when this module
is imported, so a date lives in exactly one place:

=============================  ================================  =========
constant                       feature row                       release
=============================  ================================  =========
``GATEWAY_PRERELEASE``         ``gateway-prerelease``            2021 R2
``GATEWAY_MIN``                ``gateway-requires-vms``          2022 R1
``CORS_SINCE``                 ``cors``                          2022 R3
``WEBRTC_DEFAULT``             ``webrtc-default-on``             2023 R1
``ICE_SERVERS_SINCE``          ``webrtc-ice-servers``            2023 R3
``MANDATORY_GATEWAY_SINCE``    ``gateway-mandatory``             2023 R3
``VERSION_MATCH_SINCE``        ``version-match``                 2023 R3
``COLOCATED_MANDATORY_SINCE``  ``colocated-gateway-mandatory``   2024 R2
``DEVICE_ID_SINCE``            ``webrtc-session-deviceId``       2025 R2
=============================  ================================  =========
"""

from __future__ import annotations

from typing import Final

from gwctl.versions.features import feature
from gwctl.versions.release import Version

__all__ = [
    "COLOCATED_MANDATORY_SINCE",
    "CORS_SINCE",
    "DEVICE_ID_SINCE",
    "GATEWAY_MIN",
    "GATEWAY_PRERELEASE",
    "ICE_SERVERS_SINCE",
    "MANDATORY_GATEWAY_SINCE",
    "VERSION_MATCH_SINCE",
    "WEBRTC_DEFAULT",
]

GATEWAY_PRERELEASE: Final[Version] = feature("gateway-prerelease").since
GATEWAY_MIN: Final[Version] = feature("gateway-requires-vms").since
CORS_SINCE: Final[Version] = feature("cors").since
WEBRTC_DEFAULT: Final[Version] = feature("webrtc-default-on").since
ICE_SERVERS_SINCE: Final[Version] = feature("webrtc-ice-servers").since
MANDATORY_GATEWAY_SINCE: Final[Version] = feature("gateway-mandatory").since
VERSION_MATCH_SINCE: Final[Version] = feature("version-match").since
COLOCATED_MANDATORY_SINCE: Final[Version] = feature("colocated-gateway-mandatory").since
DEVICE_ID_SINCE: Final[Version] = feature("webrtc-session-deviceId").since
