"""The Ansible-connection transport: what it hands Ansible's connection plugins, that a
host runs it exactly like the other transports, how failures map; and the role's
argument specs against its README."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.connection.psrp import _common_args
from ansible.plugins.loader import shell_loader

from gwctl.errors import OperationError, TransportError
from gwctl.ops.pyimpl import DirectoryHost, is_bootstrap_command
from gwctl.ops.wire import bootstrap_text
from gwctl.transport.ansible_connection import (
    AnsibleConnectionTransport,
    check_connection,
    command_line,
)
from gwctl.transport.local import LocalTransport

ROOT = Path(__file__).resolve().parent.parent
TARGET = r"C:\Program Files\Milestone\XProtect API Gateway\appsettings.Production.json"


class HostConnection:
    """An Ansible connection to a directory-backed host: runs the bootstrap only, and
    records every command line and stdin it was given."""

    def __init__(self, root: Path) -> None:
        self.host = DirectoryHost(root)
        self.calls: list[tuple[str, bytes | None]] = []

    def exec_command(self, cmd: str, in_data: bytes | None = None,
                     sudoable: bool = True) -> tuple[int, bytes, bytes]:
        self.calls.append((cmd, in_data))
        if not is_bootstrap_command(cmd):
            return 1, b"", b"not the bootstrap"
        out, code = self.host.dispatch_wire(in_data or b"")
        return code, out, b""


def test_ansible_winrm_and_psrp_pass_the_command_line_through_unwrapped() -> None:
    shell = shell_loader.get("powershell")
    # ansible.plugins.connection.winrm.exec_command re-encodes any command not starting so
    winrm_prefix = shell._encode_script("", as_list=False, strict_mode=False,
                                        preserve_rc=False)
    line = command_line()
    assert line.startswith(winrm_prefix)
    assert line.startswith(" ".join(_common_args) + " -EncodedCommand")
    encoded = line.split(" ")[-1]
    assert base64.b64decode(encoded).decode("utf-16-le") == bootstrap_text()
    assert is_bootstrap_command(line)


def test_same_operations_and_bytes_as_the_local_transport(tmp_path: Path) -> None:
    data = b'{"CORS": {"Enabled": false}}\r\n'
    digest = hashlib.sha256(data).hexdigest()
    params = {"path": TARGET, "sha256": digest, "expected_sha256": "absent"}
    roots = {}
    for kind in ("ansible", "local"):
        root = tmp_path / kind
        (root / "C/Program Files/Milestone/XProtect API Gateway").mkdir(parents=True)
        roots[kind] = root
    connection = HostConnection(roots["ansible"])
    through_ansible = AnsibleConnectionTransport("gw1", connection)
    local = LocalTransport("gw1", roots["local"])
    assert through_ansible.run("write_file", params, data) == local.run("write_file", params,
                                                                       data)
    assert through_ansible.run("read_file", {"path": TARGET})["sha256"] == digest
    written = "C/Program Files/Milestone/XProtect API Gateway/appsettings.Production.json"
    assert (roots["ansible"] / written).read_bytes() == (roots["local"] / written).read_bytes()
    assert [cmd for cmd, _ in connection.calls] == [command_line()] * 2
    assert through_ansible.commands == 2 and through_ansible.bytes_sent > len(data)


def test_failures_map_to_gwctl_errors_and_bugs_propagate(tmp_path: Path) -> None:
    class Broken:
        def __init__(self, exc: Exception) -> None:
            self.exc = exc

        def exec_command(self, cmd: str, in_data: bytes | None = None,
                         sudoable: bool = True) -> tuple[int, bytes, bytes]:
            raise self.exc

    unreachable = AnsibleConnectionTransport(
        "gw1", Broken(AnsibleConnectionFailure("connection refused")),
        failures=(AnsibleConnectionFailure,))
    with pytest.raises(TransportError, match="gw1: ping: connection refused"):
        unreachable.run("ping", {})
    buggy = AnsibleConnectionTransport("gw1", Broken(KeyError("x")),
                                       failures=(AnsibleConnectionFailure,))
    with pytest.raises(KeyError):
        buggy.run("ping", {})

    (tmp_path / "C").mkdir()
    host = AnsibleConnectionTransport("gw1", HostConnection(tmp_path))
    with pytest.raises(OperationError, match=r"^gw1: read_file: ") as info:
        host.run("read_file", {"path": "relative\\path"})
    assert info.value.code == "bad_params"
    with pytest.raises(ValueError, match="unknown remote operation"):
        host.run("Invoke-Expression", {})


def test_only_connections_that_carry_stdin_are_accepted() -> None:
    check_connection("gw1", "ansible.builtin.winrm")
    check_connection("gw1", "ssh")
    with pytest.raises(TransportError, match="psrp without ansible_psrp_configuration_name "
                                             "cannot carry gwctl's operations"):
        check_connection("gw1", "ansible.builtin.psrp")
    # through a JEA endpoint the operations are the module's functions, not the bootstrap
    check_connection("gw1", "ansible.builtin.psrp", "gwctl")
    with pytest.raises(TransportError, match="use one of ssh, winrm"):
        check_connection("gw1", "community.docker.docker")


def test_role_readme_lists_exactly_the_argument_specs() -> None:
    role = ROOT / "roles" / "xprotect_api_gateway"
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())
    declared = set()
    for entry, spec in specs["argument_specs"].items():
        for name, option in spec["options"].items():
            default = "required" if option.get("required") else str(option["default"]).lower()
            declared.add((entry, name, option["type"], default))
    # an empty default is written "" in the table
    table = [(e, n, t, "" if d == '""' else d) for e, n, t, d in re.findall(
        r"^\| `(\w+)` \| `(\w+)` \| (\w+) \| ([\w%]+|\"\") \|$",
        (role / "README.md").read_text(), re.M)]
    assert set(table) == declared
    assert len(table) == len(declared)
    # every entry point has its tasks file, and defaults agree with the specs
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text())
    for entry, spec in specs["argument_specs"].items():
        assert (role / "tasks" / f"{entry}.yml").is_file()
        for name, option in spec["options"].items():
            if "default" in option:
                assert defaults[name] == option["default"]


def test_collection_and_role_plugins_are_the_same_shim() -> None:
    role_plugin = ROOT / "roles/xprotect_api_gateway/action_plugins/xprotect_api_gateway.py"
    collection_plugin = ROOT / "plugins/action/xprotect_api_gateway.py"
    assert role_plugin.read_bytes() == collection_plugin.read_bytes()
    assert b"from gwctl.ansible.action import ActionModule" in role_plugin.read_bytes()
    role_order = ROOT / "roles/xprotect_api_gateway/action_plugins/xprotect_api_gateway_order.py"
    collection_order = ROOT / "plugins/action/xprotect_api_gateway_order.py"
    assert role_order.read_bytes() == collection_order.read_bytes()
    assert b"from gwctl.ansible.order_action import ActionModule" in role_order.read_bytes()
