"""The local transport: the contract on a directory, through JSON as over the wire."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from gwctl.errors import OperationError, TransportError
from gwctl.ops.pyimpl import FileAppPools
from gwctl.transport.base import Transport
from gwctl.transport.local import LocalTransport

TARGET = r"C:\Program Files\Milestone\XProtect API Gateway\appsettings.Production.json"


@pytest.fixture
def transport(tmp_path: Path) -> LocalTransport:
    (tmp_path / "C" / "Program Files" / "Milestone" / "XProtect API Gateway").mkdir(parents=True)
    return LocalTransport("gw1", tmp_path)


def test_is_a_transport(transport: LocalTransport) -> None:
    assert isinstance(transport, Transport)
    assert transport.name == "gw1"


def test_write_then_read(transport: LocalTransport) -> None:
    data = b'{"CORS": {"Enabled": false}}'
    digest = hashlib.sha256(data).hexdigest()
    with transport:
        result = transport.run(
            "write_file", {"path": TARGET, "sha256": digest, "expected_sha256": "absent"}, data
        )
        assert result == {"changed": True, "sha256": digest}
        assert transport.run("read_file", {"path": TARGET})["sha256"] == digest


def test_failures_are_operation_errors(transport: LocalTransport) -> None:
    with pytest.raises(OperationError) as caught:
        transport.run("restore", {"path": TARGET, "backup_dir": r"C:\b", "backup_id": None})
    assert caught.value.code == "not_found"


def test_params_must_survive_json(transport: LocalTransport) -> None:
    with pytest.raises(TypeError):
        transport.run("read_file", {"path": Path("C:/x")})
    # a tuple arrives as a list, as it would over WinRM
    assert transport.run("stat", {"paths": (TARGET,)})["files"][TARGET]["exists"] is False


def test_app_pools_default_to_the_host_directory(tmp_path: Path) -> None:
    FileAppPools(tmp_path).ensure("VideoOS ApiGateway AppPool")
    transport = LocalTransport("gw1", str(tmp_path))
    assert transport.run("recycle_app_pool", {"name": "VideoOS ApiGateway AppPool"})["state"] == (
        "Started"
    )


@pytest.mark.skipif(os.name == "nt", reason="rootless is the on-host mode on Windows")
def test_rootless_needs_windows() -> None:
    with pytest.raises(TransportError):
        LocalTransport("gw1")
