"""Benchmark: validate and render the 1,000-gateway fleet to disk.

Target (issue 2): under 3 s wall and under 300 MB peak RSS on the 2-core machine, for
loading the YAML, checking it against the schema, building the model and writing every
gateway's appsettings.Production.json and nlog.config. Semantic rules are measured by
bench/lint_fleet.py. The baseline is what a user would otherwise write: one
ansible-playbook run on localhost that renders the same per-gateway data with Jinja2
``template`` tasks; it gets the already-merged settings of every gateway as variables,
so it does strictly less work than gwctl.

Usage: python bench/render_fleet.py [--baseline-gateways N]  (default 100, time scaled to 1,000)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work" / "render"
sys.path.insert(0, str(HERE))

GWCTL_RUN = """
import sys, time
from pathlib import Path
from gwctl import api
from gwctl.render.files import render_gateway, write_rendered
from gwctl.fleet.secrets import SecretResolver
t0 = time.perf_counter()
res = api.load(sys.argv[1])
assert res.fleet is not None and res.ok, res.problems[:3]
resolver = SecretResolver(res.fleet.base_dir)
n = 0
for gw in res.fleet.gateways():
    n += len(write_rendered(Path(sys.argv[2]), gw, render_gateway(gw, resolver)))
print(n, time.perf_counter() - t0)
"""

# one inventory host per gateway, as a user would write it; rendering happens on the
# controller (connection: local), so no remote work is counted
PLAYBOOK = """- hosts: all
  connection: local
  gather_facts: false
  tasks:
    - name: gateway directory
      ansible.builtin.file:
        path: "{{ out }}/{{ item.site }}/{{ item.name }}"
        state: directory
      vars: {item: "{{ gw }}"}
    - name: appsettings.Production.json
      ansible.builtin.copy:
        content: "{{ gw.appsettings | to_nice_json(indent=2) }}"
        dest: "{{ out }}/{{ gw.site }}/{{ gw.name }}/appsettings.Production.json"
    - name: nlog.config
      ansible.builtin.template:
        src: nlog.config.j2
        dest: "{{ out }}/{{ gw.site }}/{{ gw.name }}/nlog.config"
"""


def child_peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline-gateways", type=int, default=100,
                    help="render only the first N gateways with ansible and scale the time "
                         "(default 100: ansible needs over a second per gateway here)")
    args = ap.parse_args()
    from fleetgen import write_fleet

    from gwctl import api
    from gwctl.render.appsettings import render_appsettings
    from gwctl.render.jsonout import dumps
    from gwctl.render.nlog import nlog_context

    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    fleet_file = write_fleet(WORK / "fleet.yaml")
    env = dict(os.environ, **{f"TURN_{s:03d}": f"turn-secret-{s}" for s in range(100)})
    size_mb = fleet_file.stat().st_size / 1e6

    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", GWCTL_RUN, str(fleet_file), str(WORK / "gw")],
                         env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        print(out.stderr[-3000:])
        return 1
    gwctl_wall = time.perf_counter() - t0
    gwctl_rss = child_peak_rss_mb()
    files, inner = out.stdout.split()

    # the baseline's input: every gateway's merged, rendered data (secrets resolved)
    fleet = api.load(fleet_file).fleet
    assert fleet is not None
    gws = list(fleet.gateways())[: args.baseline_gateways]
    data = []
    for gw in gws:
        ctx = nlog_context(gw)
        ctx["archive"] = ctx["archive"].__dict__
        data.append({"site": gw.site_name, "name": gw.name,
                     "appsettings": json.loads(dumps(render_appsettings(gw), crlf=False)),
                     **ctx})
    base = WORK / "ansible"
    base.mkdir()
    inventory = {"all": {"hosts": {d["name"]: {"gw": d} for d in data}}}
    (base / "inventory.json").write_text(json.dumps(inventory))
    (base / "site.yml").write_text(PLAYBOOK)
    template = (Path(api.__file__).parent / "templates" / "nlog.config.j2").read_text()
    # the same template, fed from the loop item instead of gwctl's context
    header = "".join(f"{{% set {k} = gw.{k} %}}" for k in data[0] if k not in ("site", "name"))
    (base / "nlog.config.j2").write_text(header + template)
    t0 = time.perf_counter()
    res = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i",
                          "inventory.json", "site.yml", "-e", f"out={WORK / 'ansible-out'}",
                          "-e", f"ansible_python_interpreter={sys.executable}"],
                         cwd=base, env=dict(env, ANSIBLE_NOCOLOR="1"),
                         capture_output=True, text=True, check=False)
    ansible_wall = time.perf_counter() - t0
    if res.returncode != 0:
        print(res.stdout[-2000:], res.stderr[-2000:])
        return 1
    ansible_full = ansible_wall * len(list(fleet.gateways())) / len(gws)

    print(f"fleet: 1,000 gateways, 100 sites, 40 custom routes per gateway ({size_mb:.1f} MB "
          "of YAML)")
    print(f"gwctl load+schema+render to disk: {gwctl_wall:.2f} s wall "
          f"({float(inner):.2f} s in-process), {files} files, peak RSS {gwctl_rss:.0f} MB "
          "(targets: < 3 s, < 300 MB)")
    label = "" if len(gws) == 1000 else f" (measured on {len(gws)} gateways, scaled)"
    print(f"ansible-playbook template baseline: {ansible_wall:.2f} s for {len(gws)} gateways"
          f"{label}")
    print(f"ratio: gwctl is {ansible_full / gwctl_wall:.1f}x faster than the baseline")
    ok = gwctl_wall < 3 and gwctl_rss < 300
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
