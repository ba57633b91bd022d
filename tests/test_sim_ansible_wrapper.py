"""The simulator's answers to Ansible's PowerShell module wrapper (bench arm 3), fed with
the exact command lines and stdin ansible-core's own builders produce: the temporary
directory, put_file's base64 chunks, win_copy's query and copy, win_stat, the app-pool
restart, the removal of the temporary directory -- acting on the emulated host."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ansible.executor.powershell.module_manifest import (
    _bootstrap_powershell_script,
    _create_powershell_wrapper,
)
from ansible.plugins.loader import shell_loader

from gwctl.sim.winrm_handler import SimCommandHandler

if TYPE_CHECKING:
    from gwctl.sim.server import SimSite

PROD = "appsettings.Production.json"
INSTALL = "C:\\Program Files\\Milestone\\XProtect API Gateway"


def shell() -> Any:
    plugin = shell_loader.get("powershell")
    plugin.set_options(var_options={}, direct={})
    return plugin


def module_stdin(name: str, args: dict[str, Any], become: Any = None) -> bytes:
    """What ansible-core pipes to the bootstrap wrapper for module `name`."""
    data: bytes = _create_powershell_wrapper(
        name=name, module_data=b"#!powershell\n# stand-in: the simulator never runs it\n",
        module_path=f"/x/{name.rsplit('.', 1)[-1]}.ps1", module_args=args, environment={},
        async_timeout=0, become_plugin=become, substyle="powershell", task_vars={},
        profile="legacy")
    return data


def bootstrap_line() -> str:
    line: str = shell().build_module_command("", "", "")
    return line


def run(site: SimSite, host: str, line: str, stdin: bytes = b"") -> tuple[int, bytes]:
    handler = site.wsman.resolver(host)
    result = handler.run(line, [], stdin)
    return result.exit_code, result.stdout


def test_a_win_copy_lands_through_put_file_and_the_pool_recycles(
        sim_factory: Callable[..., SimSite]) -> None:
    site = sim_factory(ansible_modules=True)
    content = b'{"CORS": {"Enabled": true}}\r\n' * 20000  # several 250000-byte chunks
    sha1 = hashlib.sha1(content).hexdigest()
    target = site.install_dir("demo-gw1") / PROD
    assert not target.exists()

    query = {"_copy_mode": "query", "dest": INSTALL, "force": True,
             "files": [{"src": "/local/p.json", "dest": PROD, "checksum": sha1}],
             "directories": [], "symlinks": []}
    code, out = run(site, "demo-gw1", bootstrap_line(),
                    module_stdin("ansible.windows.win_copy", query))
    assert code == 0 and json.loads(out)["files"] == query["files"]

    sh = shell()
    mk = sh._mkdtemp2("ansible-tmp-test", tmpdir="%TEMP%")
    code, out = run(site, "demo-gw1", mk.command, mk.input_data)
    tmp = out.decode().strip()
    assert code == 0 and tmp == "C:\\Windows\\Temp\\ansible-tmp-test"

    script, first = _bootstrap_powershell_script("winrm_put_file.ps1",
                                                 {"Path": tmp + "\\source"}, has_input=True)
    chunks = [base64.b64encode(content[i:i + 250000]) + b"\r\n"
              for i in range(0, len(content), 250000)]
    put = " ".join(sh._encode_script(script, as_list=True, strict_mode=False,
                                     preserve_rc=False))
    code, out = run(site, "demo-gw1", put, first + b"".join(chunks))
    assert code == 0 and json.loads(out) == {"sha1": sha1}
    modules = site.ansible_modules
    assert modules is not None and modules["demo-gw1"].traffic.upload_chunks == len(chunks) > 1

    copy = {"_copy_mode": "single", "src": tmp + "\\source", "dest": f"{INSTALL}\\{PROD}",
            "_original_basename": PROD}
    code, out = run(site, "demo-gw1", bootstrap_line(),
                    module_stdin("ansible.windows.win_copy", copy))
    assert code == 0 and json.loads(out)["checksum"] == sha1
    assert target.read_bytes() == content

    code, out = run(site, "demo-gw1", bootstrap_line(), module_stdin(
        "ansible.windows.win_stat", {"path": f"{INSTALL}\\{PROD}"}))
    assert json.loads(out)["stat"] | {"checksum": sha1, "size": len(content)} \
        == json.loads(out)["stat"]

    recycles = site.runtime.gateways["demo-gw1"].pool_state()["last_recycle"]
    code, out = run(site, "demo-gw1", bootstrap_line(), module_stdin(
        "microsoft.iis.web_app_pool", {"name": "VideoOS ApiGateway AppPool",
                                       "state": "restarted"}))
    assert code == 0 and json.loads(out)["changed"] is True
    assert site.runtime.gateways["demo-gw1"].pool_state()["last_recycle"] != recycles

    code, _ = run(site, "demo-gw1", sh.remove(tmp + "\\.", recurse=True))
    assert code == 0
    assert not site.state.host_root("demo-gw1").joinpath("C", "Windows", "Temp",
                                                         "ansible-tmp-test").exists()


def test_an_unmodelled_module_fails_naming_it_and_sites_refuse_modules_by_default(
        sim_factory: Callable[..., SimSite]) -> None:
    site = sim_factory(ansible_modules=True)
    code, out = run(site, "demo-gw1", bootstrap_line(),
                    module_stdin("ansible.windows.win_service", {"name": "W3SVC"}))
    result = json.loads(out)
    assert code == 1 and result["failed"] is True
    assert result["msg"].startswith("gwctl simulator: module ansible.windows.win_service "
                                    "is not modelled")

    # the same host without ansible_modules: the bootstrap path alone, as every site has
    handler = SimCommandHandler(site.runtime.gateways["demo-gw1"].directory)
    refused = handler.run(bootstrap_line(), [], module_stdin("ansible.windows.win_stat",
                                                             {"path": "C:\\x"}))
    assert refused.exit_code == 1
    assert b"does not execute other commands or Ansible modules" in refused.stderr
