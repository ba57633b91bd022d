"""``make demo``: the main job, end to end, on the embedded simulator.

Runs the commands a user would type, printing each before its output: validate and
render the example fleet, lint the vendor manual's own example files, then start an
emulated site (``gwctl sim up``), diff it against a fleet, apply (backup, atomic write,
recycle, health check), show the gateway answering with the new CORS policy, apply
again (nothing to do), and stop the simulator. The simulator emulates documented
behaviour on loopback; it is not Windows.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

import httpx
import yaml

from gwctl.cli.main import main as gwctl

ROOT = Path(__file__).resolve().parent.parent
STATE = Path(".sim") / "demo"
ORIGIN = "https://portal.example.com"


def step(title: str, *args: str, expect: tuple[int, ...] = (0,)) -> int:
    print(f"\n=== {title}\n$ gwctl {' '.join(shlex.quote(a) for a in args)}", flush=True)
    code = gwctl(list(args))
    sys.stdout.flush()
    if code not in expect:
        print(f"demo: unexpected exit code {code}", file=sys.stderr)
        raise SystemExit(1)
    print(f"(exit {code})")
    return code


def offline_part() -> None:
    fleet = "examples/fleet.yaml"
    step("Validate the example fleet (schema + semantic rules)", "validate", "-f", fleet)
    step("Render every gateway's files", "render", "-f", fleet, "-o", "out/demo")
    for path in sorted(Path("out/demo").rglob("*")):
        if path.is_file():
            print(f"  {path}  ({path.stat().st_size} bytes)")
    step("What hq-gw1 will actually run with: its WebRTC section", "effective",
         "-f", fleet, "--gateway", "hq-gw1", "--section", "WebRTC")
    step("Where each effective CORS value comes from", "effective", "-f", fleet,
         "--gateway", "hq-gw1", "--section", "CORS", "--format", "flat")
    manual = sorted(str(p) for p in Path("examples/manual").iterdir()
                    if p.suffix in (".json", ".config"))
    step("Lint the vendor manual's own example files, as the gateway would read them",
         "lint-file", *manual, expect=(0, 1))


def demo_fleet(state: Path) -> Path:
    """The simulator's own fleet file plus the settings this demo rolls out."""
    doc: dict[str, Any] = yaml.safe_load((state / "fleet.yaml").read_text())
    (site,) = doc["sites"].values()
    site["settings"] = {
        "cors": {"enabled": True, "allow_origins": [ORIGIN],
                 "allow_headers": ["Authorization", "Content-Type"],
                 "allow_methods": ["GET", "POST", "PATCH", "OPTIONS"]},
        "webrtc": {"ice_servers": [{"url": "stun:stun.example.com:3478"},
                                   {"url": "turns:turn.example.com:5349", "username": "gw",
                                    "credential": "env:DEMO_TURN_CREDENTIAL"}]},
        "logging": {"levels": {"Yarp": "Information"}},
    }
    path = state / "demo-fleet.yaml"
    path.write_text("# written by `make demo`: the simulator's fleet plus CORS/WebRTC/logging\n"
                    + yaml.safe_dump(doc, sort_keys=False))
    return path


def show_gateway(url: str) -> None:
    print(f"\n=== The gateway answers, with the new CORS policy\n$ curl {url}/.well-known/uris")
    r = httpx.get(f"{url}/.well-known/uris", timeout=5)
    print(f"HTTP {r.status_code}\n{r.text.strip()}")
    print(f"$ curl -X OPTIONS -H 'Origin: {ORIGIN}' -H 'Access-Control-Request-Method: POST' "
          f"{url}/rest/v1/sites")
    r = httpx.options(f"{url}/rest/v1/sites", timeout=5, headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
    print(f"HTTP {r.status_code}")
    for key, value in r.headers.items():
        if key.lower().startswith("access-control-"):
            print(f"{key}: {value}")


def online_part() -> None:
    shutil.rmtree(STATE, ignore_errors=True)
    state = str(STATE)
    step("Start an emulated XProtect site on loopback (management server + 2 gateways)",
         "sim", "up", "--site", "demo", "--version", "2025 R2", "--gateways", "2",
         "--state", state)
    try:
        fleet = str(demo_fleet(STATE))
        inventory = str(STATE / "inventory.yml")
        step("Drift between the fleet and the live hosts (exit 2 = drift)", "diff", "-f", fleet,
             "-i", inventory, "--detailed-exitcode", expect=(2,))
        step("Apply: lock, back up, write atomically, recycle, health-check", "apply", "-f",
             fleet, "-i", inventory, "--yes")
        doc = yaml.safe_load((STATE / "inventory.yml").read_text())
        (group,) = doc["all"]["children"].values()
        url = next(iter(group["hosts"].values()))["gwctl_gateway_url"]
        show_gateway(url)
        step("Apply again: nothing to change, nothing recycled", "apply", "-f", fleet, "-i",
             inventory, "--yes")
        step("The simulator's view of its hosts", "sim", "status", "--state", state)
    finally:
        step("Stop the simulator (ports released, no stray processes)", "sim", "down",
             "--state", state)


def main() -> int:
    os.chdir(ROOT)
    # the example fleet and the demo fleet reference their TURN secrets from the environment
    os.environ.setdefault("HQ_TURN_CREDENTIAL", "demo-turn-secret")
    os.environ.setdefault("DEMO_TURN_CREDENTIAL", "demo-turn-secret")
    offline_part()
    online_part()
    print("\ndemo finished")
    return 0


if __name__ == "__main__":
    sys.exit(main())
