"""Pairing the fleet's gateways with inventory hosts, and opening transports to them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gwctl.errors import InputError, TransportError
from gwctl.fleet.model import Fleet, Gateway
from gwctl.hosts.inventory import InventoryHost
from gwctl.transport.base import Transport


@dataclass
class Target:
    """One gateway to work on: where it is declared and how to reach it."""

    gateway: Gateway
    host: InventoryHost

    @property
    def name(self) -> str:
        return self.host.name

    @property
    def url(self) -> str:
        """Base URL of the gateway's API (``.../api``) for health checks."""
        return str(self.host.vars.get("gwctl_gateway_url") or self.gateway.url).rstrip("/")


def select_gateways(fleet: Fleet, *, gateway: str | None = None,
                    site: str | None = None) -> list[Gateway]:
    if gateway:
        return [fleet.gateway(gateway)]
    if site:
        return list(fleet.site(site).gateways)
    return list(fleet.gateways())


def pair(fleet: Fleet, gateways: list[Gateway],
         hosts: list[InventoryHost]) -> tuple[list[Target], list[tuple[Gateway, str]]]:
    """Targets for `gateways`, and the gateways no inventory host names (with why)."""
    by_ref: dict[str, InventoryHost] = {}
    for h in hosts:
        ref = h.gateway_ref
        if ref in by_ref:
            raise InputError(f"inventory hosts {by_ref[ref].name!r} and {h.name!r} both "
                             f"claim gateway {ref!r}", rule="inventory")
        by_ref[ref] = h
    targets, missing = [], []
    for gw in gateways:
        host = by_ref.get(gw.id) or by_ref.get(gw.name)
        if host is None:
            missing.append((gw, "no inventory host for this gateway (name the host after the "
                                "gateway or set gwctl_gateway)"))
        else:
            targets.append(Target(gw, host))
    return targets, missing


TransportFactory = Callable[[InventoryHost], Transport]


def open_transport(host: InventoryHost) -> Transport:
    """A transport from the host's Ansible connection variables.

    A session configuration name (``ansible_psrp_configuration_name`` or
    ``--configuration-name``) means a JEA endpoint, reached over PSRP; otherwise winrm
    runs gwctl's bootstrap in a WinRS shell."""
    connection = str(host.vars.get("ansible_connection") or "winrm")
    if connection in ("winrm", "psrp"):
        from gwctl.transport.winrm_settings import WinRMSettings

        settings = WinRMSettings.from_ansible_vars(host.name, host.vars)
        if settings.configuration_name is not None:
            from gwctl.transport.psrp import PsrpTransport

            return PsrpTransport(host.name, settings)
        if connection == "psrp":
            raise TransportError(
                f"{host.name}: ansible_connection=psrp without "
                "ansible_psrp_configuration_name would be the unrestricted default "
                "endpoint, where gwctl uses winrm; set the JEA endpoint's name "
                "(docs/jea.md) or use ansible_connection=winrm")
        from gwctl.transport.winrm import WinRMTransport

        return WinRMTransport(host.name, settings)
    if connection == "local":
        from gwctl.transport.local import LocalTransport

        return LocalTransport(host.name, host.vars.get("gwctl_local_root"))
    raise TransportError(f"{host.name}: ansible_connection={connection} cannot reach a "
                         "Windows gateway host; use winrm or psrp (or local on the host "
                         "itself)")
