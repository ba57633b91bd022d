"""The gwctl simulator: an emulated XProtect site on loopback.

It emulates *documented* behaviour of the XProtect API Gateway, its management server
and their Windows hosts, so that gwctl (and users' pipelines) can be exercised end to end
without a VMS: real install directories per host, an HTTP API per gateway that behaves
according to the files on disk, app-pool recycles, fault profiles, and a WinRM endpoint
that performs gwctl's remote operations. It is not Windows, not IIS and not the real API
Gateway; where the vendor documents nothing, the modules say which behaviour was chosen.

Modules: `state` (the state directory, inventory and fleet files), `server` (`SimSite`:
the sockets, uvicorn, the admin endpoint), `site` and `gateway` (the emulation),
`running` and `routing` (configuration loading, YARP routing), `backends` (management
server, IDP, event server), `webrtc`, `logs` (nlog.config, access logs), `faults`,
`winrm_handler` (glue to `wsman`), `control` (the CLI's side of a background process).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["SimSite", "SiteSpec"]

if TYPE_CHECKING:
    from gwctl.sim.server import SimSite
    from gwctl.sim.state import SiteSpec


def __getattr__(name: str) -> Any:
    # lazy: importing gwctl.sim must not pull in uvicorn and starlette
    if name == "SimSite":
        from gwctl.sim.server import SimSite

        return SimSite
    if name == "SiteSpec":
        from gwctl.sim.state import SiteSpec

        return SiteSpec
    raise AttributeError(name)
