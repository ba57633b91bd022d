"""Answers to Ansible's PowerShell module wrapper, for benchmarks of plain playbooks.

ansible-core (2.19) runs everything on a Windows host -- modules, ``put_file``, the
remote temporary directory -- as one command line, ``PowerShell ... -EncodedCommand
<bootstrap_wrapper.ps1>``, whose stdin is a JSON manifest, a line of four NUL bytes, the
exec wrapper's manifest (scripts and the actions to run, the last one the module with
its arguments in ``complex_args``) and, for ``put_file``, another NUL line followed by the
file as base64 lines (ansible-core ``executor/powershell/module_manifest.py``,
``bootstrap_wrapper.ps1``, ``winrm_put_file.ps1``; ``plugins/connection/winrm.py``
``put_file``). Removing the temporary directory is a plain encoded
``Remove-Item '<path>' -Force -Recurse`` (``plugins/shell/powershell.py`` ``remove``).

`AnsibleModuleHost` decodes that traffic instead of running it: it finds the action (a
module by its fully qualified name, or one of the executor's scripts), and answers what
the module would have printed, acting on the emulated host's directory -- so a
``win_copy`` really lands in the gateway's install directory and an app-pool restart
really recycles the emulated gateway. Only the modules a "copy the files, stat them,
recycle the pool" playbook uses are modelled (`MODULES`); any other answers ``failed``
naming the module. It is not PowerShell: nothing of the scripts is executed.

Kept apart from the gwctl bootstrap path (`gwctl.sim.winrm_handler`) on purpose: a site
answers Ansible modules only when asked to (``SimSite(..., ansible_modules=True)``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import ntpath
import re
import shutil
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gwctl.errors import OperationError
from gwctl.ops.pyimpl import DirectoryHost
from gwctl.sim.wsman.shell import CommandResult

#: the words Ansible's PowerShell shell plugin starts every command with
_PREFIX = "PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand "
#: what identifies ansible-core's bootstrap_wrapper.ps1 once decoded
_BOOTSTRAP_MARK = "$codeJson = foreach ($in in $input)"
_SEPARATOR = b"\n\0\0\0\0\n"
_REMOVE = re.compile(r"^Remove-Item '((?:[^']|'')*)' -Force( -Recurse)?;", re.M)
#: %VAR% expansions of the emulated Windows account (remote_tmp defaults to %TEMP%)
ENVIRONMENT = {"TEMP": r"C:\Windows\Temp", "TMP": r"C:\Windows\Temp",
               "USERPROFILE": r"C:\Users\Administrator"}


class ModuleFailed(Exception):
    """A module's Fail-Json."""


@dataclass
class Traffic:
    """What the wrapper saw for one host (benchmarks print it)."""

    modules: int = 0
    scripts: int = 0
    upload_chunks: int = 0
    upload_bytes: int = 0
    become_users: tuple[str, ...] = ()


def decode_command(line: str) -> str | None:
    """The script of an ``-EncodedCommand`` line in Ansible's spelling, else None."""
    if not line.startswith(_PREFIX):
        return None
    try:
        return base64.b64decode(line[len(_PREFIX):].strip(), validate=True).decode("utf-16-le")
    except (binascii.Error, UnicodeDecodeError):
        return None


def _expand(path: str) -> str:
    return re.sub(r"%(\w+)%", lambda m: ENVIRONMENT.get(m[1].upper(), m[0]), path)


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


class AnsibleModuleHost:
    """One emulated host's answers to Ansible's module wrapper."""

    def __init__(self, host: DirectoryHost) -> None:
        self.host = host
        self.traffic = Traffic()
        self._lock = threading.Lock()

    def accepts(self, line: str) -> bool:
        script = decode_command(line)
        return script is not None and (_BOOTSTRAP_MARK in script
                                       or _REMOVE.search(script) is not None)

    def run(self, line: str, stdin: bytes) -> CommandResult:
        script = decode_command(line) or ""
        if _BOOTSTRAP_MARK not in script:
            return self._remove(script)
        parts = stdin.split(_SEPARATOR)
        try:
            manifest = json.loads(parts[1])
            action = manifest["actions"][-1]
        except (IndexError, ValueError, KeyError, TypeError):
            return _fail("the exec wrapper's manifest could not be read", code=1)
        become = [a for a in manifest["actions"] if a.get("name") == "become_wrapper.ps1"]
        with self._lock:
            self.traffic.become_users += tuple(str(a["params"].get("BecomeUser"))
                                               for a in become)
        name, params = str(action.get("name")), action.get("params") or {}
        if name == "module_wrapper.ps1":
            return self._module(params)
        with self._lock:
            self.traffic.scripts += 1
        if name == "powershell_mkdtemp.ps1":
            path = _expand(str(params["Directory"])).rstrip("\\") + "\\" + str(params["Name"])
            self.host.map_path(path).mkdir(parents=True, exist_ok=True)
            return CommandResult(stdout=(path + "\r\n").encode())
        if name == "powershell_expand_user.ps1":
            path = str(params["Path"])
            home = ENVIRONMENT["USERPROFILE"]
            out = home if path == "~" else home + path[1:] if path.startswith("~\\") else path
            return CommandResult(stdout=(out + "\r\n").encode())
        if name == "winrm_put_file.ps1":
            return self._put_file(str(params["Path"]), parts[2] if len(parts) > 2 else b"")
        return _fail(f"gwctl simulator: executor script {name} is not modelled", code=1)

    # -- executor scripts -------------------------------------------------------------------

    def _put_file(self, path: str, data: bytes) -> CommandResult:
        chunks = [c for c in data.split(b"\r\n") if c.strip()]
        try:
            content = b"".join(base64.b64decode(c, validate=True) for c in chunks)
        except binascii.Error:
            return CommandResult(stderr=b"Exception calling FromBase64String\r\n", exit_code=1)
        target = self.host.map_path(path)
        if not target.parent.is_dir():
            return CommandResult(stderr=f"Could not find a part of the path '{path}'.\r\n"
                                 .encode(), exit_code=1)
        target.write_bytes(content)
        with self._lock:
            self.traffic.upload_chunks += len(chunks)
            self.traffic.upload_bytes += len(content)
        return CommandResult(stdout=json.dumps({"sha1": _sha1(content)}).encode() + b"\r\n")

    def _remove(self, script: str) -> CommandResult:
        match = _REMOVE.search(script)
        if match is None:
            return _fail("not an Ansible command", code=1)
        # the shell plugin removes "<tmp>\\." for a directory
        target = self.host.map_path(ntpath.normpath(match[1].replace("''", "'")))
        if target.is_dir() and match[2]:
            shutil.rmtree(target)
        elif target.is_file():
            target.unlink()
        return CommandResult()

    # -- modules ------------------------------------------------------------------------------

    def _module(self, params: Mapping[str, Any]) -> CommandResult:
        fqn = str(params.get("Script", "")).removesuffix(".ps1")
        variables = {v.get("Name"): v.get("Value") for v in params.get("Variables") or []}
        args = variables.get("complex_args") or {}
        with self._lock:
            self.traffic.modules += 1
        module = MODULES.get(fqn.rsplit(".", 1)[-1])
        if module is None:
            return _fail(f"gwctl simulator: module {fqn} is not modelled (it models "
                         f"{', '.join(sorted(MODULES))})")
        try:
            result = module(self, args, bool(args.get("_ansible_check_mode")))
        except ModuleFailed as exc:
            return _fail(str(exc))
        except OperationError as exc:
            return _fail(exc.message)
        return CommandResult(stdout=json.dumps(result).encode() + b"\r\n")

    def _stat(self, args: Mapping[str, Any], check: bool) -> dict[str, Any]:
        path = str(args["path"])
        target = self.host.map_path(path)
        if not target.exists():
            return {"changed": False, "stat": {"exists": False}}
        stat: dict[str, Any] = {"exists": True, "path": path, "isdir": target.is_dir(),
                                "isreg": target.is_file(), "filename": target.name,
                                "extension": target.suffix,
                                "lastwritetime": target.stat().st_mtime}
        if target.is_file():
            data = target.read_bytes()
            stat["size"] = len(data)
            if args.get("get_checksum", True):
                algorithm = str(args.get("checksum_algorithm") or "sha1")
                stat["checksum"] = hashlib.new(algorithm, data).hexdigest()
        return {"changed": False, "stat": stat}

    def _copy(self, args: Mapping[str, Any], check: bool) -> dict[str, Any]:
        mode = str(args.get("_copy_mode") or "single")
        dest = str(args["dest"])
        if mode == "query":
            changed = []
            for entry in args.get("files") or []:
                target = self.host.map_path(dest.rstrip("\\") + "\\" + str(entry["dest"]))
                if target.is_dir():
                    raise ModuleFailed(f"cannot copy file to dest '{target}': object at path "
                                       "is already a directory")
                if not target.is_file() or (args.get("force", True)
                                            and _sha1(target.read_bytes()) != entry["checksum"]):
                    changed.append(entry)
            return {"changed": False, "files": changed, "directories": [], "symlinks": []}
        if mode != "single":
            raise ModuleFailed(f"gwctl simulator: win_copy _copy_mode={mode} is not modelled")
        src = self.host.map_path(str(args["src"]))
        if not src.is_file():
            raise ModuleFailed(f"Cannot copy src file: '{args['src']}' as it does not exist")
        target = self.host.map_path(dest)
        if not target.parent.is_dir():
            raise ModuleFailed(f"Destination directory '{dest.rsplit(chr(92), 1)[0]}' does "
                               "not exist")
        data = src.read_bytes()
        if not check:
            target.write_bytes(data)
        return {"changed": True, "src": args["src"], "dest": dest, "size": len(data),
                "checksum": _sha1(data), "operation": "file_copy",
                "original_basename": args.get("_original_basename")}

    def _app_pool(self, args: Mapping[str, Any], check: bool) -> dict[str, Any]:
        name, state = str(args["name"]), str(args.get("state") or "present")
        current = self.host.app_pools.state(name)
        if state == "restarted":
            if not check:
                self.host.app_pools.recycle(name)
            return {"changed": True}
        if state in ("present", "started"):
            running = str(current.get("state")).casefold() == "started"
            if state == "started" and not running and not check:
                self.host.app_pools.recycle(name)
            return {"changed": state == "started" and not running}
        raise ModuleFailed(f"gwctl simulator: web_app_pool state={state} is not modelled")


Module = Callable[[AnsibleModuleHost, Mapping[str, Any], bool], dict[str, Any]]

#: short module name -> its answer (ansible.windows, microsoft.iis, community.windows)
MODULES: dict[str, Module] = {
    "win_stat": AnsibleModuleHost._stat,
    "win_copy": AnsibleModuleHost._copy,
    "web_app_pool": AnsibleModuleHost._app_pool,
    "win_iis_webapppool": AnsibleModuleHost._app_pool,
}


def _fail(msg: str, code: int = 1) -> CommandResult:
    return CommandResult(stdout=json.dumps({"failed": True, "changed": False, "msg": msg})
                         .encode() + b"\r\n", exit_code=code)

