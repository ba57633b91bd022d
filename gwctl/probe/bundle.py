"""The support-case bundle of ``gwctl probe webrtc --report DIR``.

What the forum poster had to assemble by hand, in one directory and one zip:

- ``report.md`` (for people) and ``report.json`` (for tools): the environment -- product
  versions (``/.well-known/uris`` through the gateway; the installed gateway read over
  the remote operations), the gateway's effective configuration as its files on disk
  make it (``appsettings.json`` + ``appsettings.Production.json``), its ICE servers and
  CORS section -- the probe's summary and verdict, and the request/response pairs of a
  failed and of a successful session;
- ``exchanges.json``: every request and response of the probe;
- ``gateway-log-excerpt.txt``: the gateway's NLog log for the probe's time window, read
  with the same remote operations as apply, with a hint when the log level hides the
  messages that matter;
- ``support-case.zip``: the files above.

Secrets never reach it: exchanges are masked as they are recorded, the configuration is
masked by key and value, and every file is scrubbed of every secret gwctl knows before it
is written.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gwctl.errors import GwctlError
from gwctl.hosts.facts import BASE_FILE, read_live_files
from gwctl.hosts.inventory import InventoryHost
from gwctl.hosts.targets import TransportFactory, open_transport
from gwctl.netjson.config import Effective, flatten_text
from gwctl.output import redact
from gwctl.probe.gatewaylog import LogTarget, excerpt, log_target
from gwctl.probe.webrtc import ProbeResult, SessionOutcome
from gwctl.render.files import APPSETTINGS, NLOG
from gwctl.textio import decode
from gwctl.transport.base import Transport
from gwctl.verify.exchange import Exchange

FILES = ("report.md", "report.json", "exchanges.json", "gateway-log-excerpt.txt")
ZIP_NAME = "support-case.zip"
MAX_LOG_LINES = 2000


@dataclass
class Environment:
    product_version: str | None = None
    installed_gateway: str | None = None
    configuration: Any = None
    ice_servers: Any = None
    cors: Any = None
    log_file: str | None = None
    log_hint: str | None = None
    log_lines: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"product_version": self.product_version,
                "installed_gateway_version": self.installed_gateway,
                "effective_configuration": self.configuration,
                "ice_servers": self.ice_servers, "cors": self.cors,
                "log_file": self.log_file, "log_hint": self.log_hint, "errors": self.errors}


def _get(tree: Any, name: str) -> Any:
    if not isinstance(tree, dict):
        return None
    return next((v for k, v in tree.items() if k.lower() == name.lower()), None)


def gather_environment(host: InventoryHost, install_dir: str, result: ProbeResult,
                       transports: TransportFactory = open_transport) -> Environment:
    """Read the host (files, installed version, log); the version the well-known URIs
    answered comes from the probe's own exchange."""
    env = Environment()
    well_known = next((e for e in result.exchanges if e.label == "well-known"), None)
    if well_known is not None and well_known.status == 200:
        try:
            env.product_version = str(_get(json.loads(well_known.response_body),
                                           "ProductVersion"))
        except ValueError:
            pass
    directory = install_dir.rstrip("\\")
    try:
        with transports(host) as transport:
            versions = transport.run("read_versions", {"install_dir": directory,
                                                       "server_config": None})
            installed = versions.get("gateway")
            env.installed_gateway = (str(installed.get("version"))
                                     if isinstance(installed, dict) else None)
            files = read_live_files(transport, {n: f"{directory}\\{n}"
                                                for n in (BASE_FILE, APPSETTINGS, NLOG)})
            texts = {n: decode(f.content, file=n) if f.content is not None else None
                     for n, f in files.items()}
            layers = [flatten_text(t, file=n) for n in (BASE_FILE, APPSETTINGS)
                      if (t := texts.get(n)) is not None]
            tree = Effective(layers).tree()
            env.configuration = redact.mask_tree(tree)
            env.ice_servers = redact.mask_tree(_get(_get(tree, "WebRTC"), "iceServers"),
                                               "iceServers")
            env.cors = redact.mask_tree(_get(tree, "CORS"), "CORS")
            nlog_text = texts.get(NLOG)
            target_log = (log_target(nlog_text, directory) if nlog_text
                          else LogTarget(None, None))
            env.log_file = target_log.path
            env.log_hint = target_log.problem or target_log.hint()
            if target_log.path:
                _log_excerpt(transport, target_log.path, result, env)
    except GwctlError as exc:
        env.errors.append(f"reading the host: {redact.scrub(str(exc))}")
    return env


def _log_excerpt(transport: Transport, path: str, result: ProbeResult,
                 env: Environment) -> None:
    log = read_live_files(transport, {"log": path})["log"]
    if not log.exists or log.content is None:
        env.log_hint = f"the log file {path} does not exist"
        return
    start = result.started_at.replace(tzinfo=None)
    end = (result.ended_at or result.started_at).replace(tzinfo=None)
    lines = excerpt(log.content.decode("utf-8", "replace"), start, end)
    env.log_lines = [redact.scrub(line) for line in lines[-MAX_LOG_LINES:]]
    if not lines and env.log_hint is None:
        env.log_hint = ("the log has no line in the probe's time window; raise the level "
                        "with  nlog: {min_level: Debug}  in the fleet, gwctl apply, and "
                        "probe again")


def _pick(result: ProbeResult) -> tuple[SessionOutcome | None, SessionOutcome | None]:
    cases = result.forum_cases()
    failed = cases[0][0] if cases else (result.failed[0] if result.failed else None)
    return failed, (result.succeeded[0] if result.succeeded else None)


def _of(result: ProbeResult, outcome: SessionOutcome | None) -> list[Exchange]:
    if outcome is None:
        return []
    return [e for e in result.exchanges if e.label.startswith(outcome.label + " ")]


def _markdown(result: ProbeResult, env: Environment) -> str:
    failed, ok = _pick(result)
    stats = result.stats()
    lines = [f"# WebRTC probe of {result.gateway}", "",
             f"- gateway API: `{result.url}`, release {result.version}",
             f"- probe: {result.sessions_text()}",
             f"- window: {result.started_at.isoformat()} .. "
             f"{(result.ended_at or result.started_at).isoformat()}", "",
             "## Verdict", "", result.verdict(), ""]
    if result.highest_working is not None:
        lines += [f"Highest concurrency that worked: **{result.highest_working}** "
                  "simultaneous session set-up(s).", ""]
    lines += ["## Summary", "", "```json", json.dumps(stats, indent=2), "```", "",
              "| session | camera | result | time to answer |", "|---|---|---|---|"]
    for o in result.outcomes:
        tta = o.time_to_answer_s
        what = "ok" if o.ok else f"{o.failed_step}: {o.error or ''}"
        lines.append(f"| {o.label} | `{o.camera}` | {what} | "
                     f"{'' if tta is None else f'{tta * 1000:.0f} ms'} |")
    lines += ["", "## Environment", "",
              f"- ProductVersion (/.well-known/uris): {env.product_version}",
              f"- installed API Gateway: {env.installed_gateway}",
              *(f"- {e}" for e in env.errors), "", "ICE servers (effective, masked):", "",
              "```json", json.dumps(env.ice_servers, indent=2), "```", "",
              "CORS (effective):", "", "```json", json.dumps(env.cors, indent=2), "```", "",
              "<details><summary>Effective configuration (masked)</summary>", "", "```json",
              json.dumps(env.configuration, indent=2), "```", "", "</details>", ""]
    for title, outcome in (("A failed session", failed), ("A successful session", ok)):
        lines += [f"## {title}", ""]
        exchanges = _of(result, outcome)
        if not exchanges:
            lines += ["(none in this probe)", ""]
        for e in exchanges:
            lines += [e.markdown(), ""]
    lines += ["## Gateway log", "", f"File: `{env.log_file}`", ""]
    if env.log_hint:
        lines += [f"> {env.log_hint}", ""]
    lines += ["```text", *env.log_lines, "```", ""]
    return "\n".join(lines)


def write_bundle(directory: Path, result: ProbeResult, env: Environment) -> Path:
    """Write the bundle; returns the zip's path."""
    directory.mkdir(parents=True, exist_ok=True)
    failed, ok = _pick(result)
    doc = {"probe": result.to_json(), "environment": env.to_json(),
           "failed_session": [e.to_json() for e in _of(result, failed)],
           "successful_session": [e.to_json() for e in _of(result, ok)]}
    texts = {
        "report.md": _markdown(result, env),
        "report.json": json.dumps(doc, indent=2) + "\n",
        "exchanges.json": json.dumps([e.to_json() for e in result.exchanges], indent=2) + "\n",
        "gateway-log-excerpt.txt": "\n".join(
            ([f"# {env.log_hint}"] if env.log_hint else []) + env.log_lines) + "\n",
    }
    zip_path = directory / ZIP_NAME
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in FILES:
            text = redact.scrub(texts[name])  # the last line of defence
            (directory / name).write_text(text, "utf-8")
            archive.writestr(name, text)
    return zip_path
