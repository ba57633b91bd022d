"""Installed versions on a directory host: the gateway's and the management server's.

The gateway's version is the DisplayVersion of its Uninstall registry key; a directory
host keeps those keys in ``<root>/.host/installed-products.json`` (``{DisplayName:
DisplayVersion}``). The management server's version is ``/server/version`` of its
ServerConfig.xml.
"""

from __future__ import annotations

import contextlib
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

__all__ = ["GATEWAY_PRODUCT", "gateway_version", "management_version"]

GATEWAY_PRODUCT = "Milestone XProtect API Gateway"


def _registry_display_versions() -> dict[str, str]:
    """DisplayName -> DisplayVersion of the Uninstall keys (the real registry)."""
    if sys.platform != "win32":
        return {}
    import winreg

    found: dict[str, str] = {}
    for view in ("SOFTWARE", r"SOFTWARE\WOW6432Node"):
        key_path = view + r"\Microsoft\Windows\CurrentVersion\Uninstall"
        try:
            root = winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, key_path)
        except OSError:
            continue
        with root:
            for index in range(winreg.QueryInfoKey(root)[0]):
                with (
                    contextlib.suppress(OSError),
                    winreg.OpenKey(root, winreg.EnumKey(root, index)) as sub,
                ):
                    name = winreg.QueryValueEx(sub, "DisplayName")[0]
                    version = winreg.QueryValueEx(sub, "DisplayVersion")[0]
                    found.setdefault(str(name), str(version))
    return found


def _installed_products(root: Path | None) -> dict[str, str]:
    if root is None:
        return _registry_display_versions()
    try:
        products = json.loads((root / ".host" / "installed-products.json").read_text("utf-8"))
    except FileNotFoundError:
        return {}
    if not isinstance(products, dict):
        raise ValueError("installed-products.json is not a JSON object")
    return {str(name): str(version) for name, version in products.items()}


def gateway_version(root: Path | None, warnings: list[str]) -> dict[str, Any] | None:
    """The gateway's installed version (`root` None: the real registry), if installed."""
    try:
        products = _installed_products(root)
    except ValueError as exc:
        warnings.append(f"installed products unreadable: {exc}")
        return None
    for name, version in products.items():
        if name.casefold() == GATEWAY_PRODUCT.casefold():
            return {"version": version, "source": "registry"}
    return None


def management_version(local: Path, path: str, warnings: list[str]) -> dict[str, Any] | None:
    """The version in ServerConfig.xml at `local` (Windows path `path`), if readable."""
    if not local.is_file():
        return None
    try:
        version = _server_config_version(local)
    except ET.ParseError as exc:
        warnings.append(f"{path}: not well-formed XML: {exc}")
        return None
    if version is None:
        warnings.append(f"{path}: no /server/version element")
        return None
    return {"version": version, "source": path}


def _server_config_version(path: Path) -> str | None:
    """``/server/version`` of ServerConfig.xml; None without such an element."""
    root = ET.parse(path).getroot()
    if root.tag != "server":
        return None
    version = root.find("version")
    text = (version.text or "").strip() if version is not None else ""
    return text or None
