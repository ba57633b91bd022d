"""The ASP.NET Core Module's (ANCM's) entries in the Windows Application event log.

ANCM writes under the provider ``IIS AspNetCore Module V2`` (``IIS Express AspNetCore
Module V2`` under IIS Express); its event ids and message shapes are those of
dotnet/aspnetcore src/Servers/IIS/AspNetCoreModuleV2/CommonLib/aspnetcore_msg.mc (ids) and
CommonLib/resources.h (provider names and message texts). When the gateway's configuration
does not load, in-process hosting ends ``Program.Main`` inside the worker (1011, or 1035
with the captured stdout/stderr) and ANCM answers 500.30; out-of-process, the dotnet
process never listens (1000, or 1020 with the captured output) and ANCM answers 502.5.

`gwctl doctor` reads these back (remote operation ``read_events``); the simulator writes
them (`gwctl.sim.gateway`) with `start_failure_event`.
"""

from __future__ import annotations

from dataclasses import dataclass

PROVIDERS = ("IIS AspNetCore Module V2", "IIS Express AspNetCore Module V2")

#: the application id ANCM names: the site's metabase path plus the gateway's ``/api``
APP_ID = "/LM/W3SVC/{site_id}/ROOT/api"


@dataclass(frozen=True)
class AncmEvent:
    """What one ANCM event id means for a gateway, and what to do about it."""

    name: str
    cause: str
    remedy: str


_CONFIG = ("the gateway did not start: check the exception in the message (appsettings*.json "
           "that does not parse, a duplicate key, a bad ReverseProxy section)")
_FIX = ("fix the file (gwctl lint-file on the host's files, or gwctl rollback), then recycle "
        "the app pool")

#: start-up failures and their meaning (aspnetcore_msg.mc)
START_FAILURES: dict[int, AncmEvent] = {
    1000: AncmEvent("ASPNETCORE_EVENT_PROCESS_START_ERROR",
                    "out-of-process: the gateway's process did not start or did not listen "
                    "(502.5)", _FIX),
    1003: AncmEvent("ASPNETCORE_EVENT_RAPID_FAIL_COUNT_EXCEEDED",
                    "out-of-process: ANCM's rapid-fail limit was reached", _FIX),
    1007: AncmEvent("ASPNETCORE_EVENT_LOAD_CLR_FALIURE",
                    "the .NET runtime could not be loaded",
                    "install the ASP.NET Core Hosting Bundle the gateway's release needs"),
    1010: AncmEvent("ASPNETCORE_EVENT_ADD_APPLICATION_ERROR",
                    "ANCM could not start the application", _FIX),
    1011: AncmEvent("ASPNETCORE_EVENT_INPROCESS_THREAD_EXIT",
                    f"in-process: {_CONFIG} (500.30)", _FIX),
    1018: AncmEvent("ASPNETCORE_EVENT_INPROCESS_THREAD_EXCEPTION",
                    "in-process: an unhandled exception ended the gateway (500.30)", _FIX),
    1020: AncmEvent("ASPNETCORE_EVENT_PROCESS_START_FAILURE",
                    f"out-of-process: {_CONFIG} (502.5)", _FIX),
    1027: AncmEvent("ASPNETCORE_EVENT_GENERAL_ERROR", "ANCM reported an error", _FIX),
    1028: AncmEvent("ASPNETCORE_EVENT_INPROCESS_RH_MISSING",
                    "the in-process request handler is missing",
                    "repair the ASP.NET Core Hosting Bundle"),
    1029: AncmEvent("ASPNETCORE_EVENT_OUT_OF_PROCESS_RH_MISSING",
                    "the out-of-process request handler is missing",
                    "repair the ASP.NET Core Hosting Bundle"),
    1031: AncmEvent("ASPNETCORE_EVENT_INPROCESS_START_ERROR",
                    "in-process: the .NET host could not resolve the application (500.31 or "
                    "500.30)", "install the .NET runtime the gateway's release needs"),
    1034: AncmEvent("ASPNETCORE_CONFIGURATION_LOAD_ERROR",
                    "ANCM could not read its <aspNetCore> section of web.config",
                    "repair the gateway's web.config (reinstall the gateway)"),
    1035: AncmEvent("ASPNETCORE_EVENT_INPROCESS_THREAD_EXIT_STDOUT",
                    f"in-process: {_CONFIG} (500.30)", _FIX),
}

#: a successful start: errors before the newest one are history
START_SUCCESSES = frozenset({1001, 1032})  # PROCESS_START_SUCCESS, INPROCESS_START_SUCCESS


def start_failure_event(hosting_model: str, physical_root: str, output: str,
                        site_id: int = 1) -> tuple[int, str]:
    """(event id, message) ANCM writes when the gateway exits at start with `output` on
    its stderr: the shape of resources.h's messages, with the captured output."""
    app = APP_ID.format(site_id=site_id)
    if hosting_model == "inprocess":
        # 0xE0434352, the CLR's exception code, as Program.Main's exit code
        return 1035, (f"Application '{app}' with physical root '{physical_root}' has exited "
                      "from Program.Main with exit code = '-532462766'. First 30KB "
                      "characters of captured stdout and stderr logs:\r\n" + output)
    return 1020, (f"Application '{app}' with physical root '{physical_root}' failed to start "
                  "process with commandline '\".\\VideoOS.ApiGateway.exe\" ' with multiple "
                  "retries. Failed to bind to port '0'. First 30KB characters of captured "
                  "stdout and stderr logs from multiple retries:\r\n" + output)


def start_success_event(hosting_model: str, pid: int, port: int, site_id: int = 1
                        ) -> tuple[int, str]:
    """(event id, message) ANCM writes when the gateway started."""
    app = APP_ID.format(site_id=site_id)
    if hosting_model == "inprocess":
        return 1032, f"Application '{app}' started successfully."
    return 1001, (f"Application '{app}' started process '{pid}' successfully and process "
                  f"'{pid}' is listening on port '{port}'.")


__all__ = ["APP_ID", "PROVIDERS", "START_FAILURES", "START_SUCCESSES", "AncmEvent",
           "start_failure_event", "start_success_event"]
