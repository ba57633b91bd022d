"""The rule registry: every semantic rule gwctl has, listed explicitly.

One module per rule (see `gwctl.rules.base` for what a rule module is). The lists below
are the registry -- adding a rule means importing its module here and adding it to one
tuple; nothing is discovered by scanning. They are built on first use, inside a
function, because some rule modules import engine modules that themselves import
`gwctl.rules.target` (importing them at package import time would be circular).
"""

from __future__ import annotations

import difflib
import textwrap
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from gwctl.errors import UsageError

if TYPE_CHECKING:
    from gwctl.rules.base import FleetRule, GatewayRule, RuleInfo


@dataclass(frozen=True)
class Registry:
    #: run on each gateway (fleet mode) or each live file (file mode)
    gateway: tuple[GatewayRule, ...]
    #: run once on the whole fleet
    fleet: tuple[FleetRule, ...]
    #: reported by the readers and the runner themselves (syntax, suppressions, config)
    meta: tuple[RuleInfo, ...]

    @property
    def all(self) -> tuple[RuleInfo, ...]:
        return (*self.meta, *self.gateway, *self.fleet)


@lru_cache(maxsize=1)
def registry() -> Registry:
    from gwctl.rules import (
        appsettings_too_deep,
        array_shorter_than_base,
        cluster_destination_address,
        cluster_destination_http,
        cluster_destination_uri,
        cluster_no_destination,
        cors_browser_client,
        cors_duplicate_value,
        cors_origin_format,
        cors_version,
        cors_wildcard_origin,
        duplicate_key,
        gateway_host_duplicate,
        gateway_name_duplicate,
        gateway_url_http,
        host_app_offline,
        host_log_dir_not_writable,
        host_override_not_loaded,
        host_rapid_fail_disabled,
        host_stdout_log_enabled,
        ice_credential_clear_text,
        ice_server_duplicate,
        ice_server_url,
        ice_servers_version,
        ice_turn_credentials,
        ice_turn_unencrypted,
        json_syntax,
        log_level_production_verbose,
        log_level_value,
        nlog_archive_options,
        nlog_layout_missing_dollar,
        nlog_layout_syntax,
        nlog_level_value,
        nlog_log_directory,
        nlog_render,
        nlog_unknown_target,
        proxy_setting_value,
        raw_key_collision,
        route_ambiguous,
        route_cluster_unknown,
        route_constraint_unknown,
        route_header_match,
        route_match_required,
        route_methods,
        route_order,
        route_query_parameter,
        route_shadows_stock,
        route_template_syntax,
        route_transform,
        rule_config,
        suppression_without_reason,
        top_level_not_object,
        transforms_merge_conflict,
        unused_suppression,
        version_below_minimum,
        version_colocation,
        version_declared_vs_discovered,
        version_discovery_failed,
        version_gateway_ahead,
        version_gateway_behind,
        version_no_colocated_gateway,
        version_prerelease_gateway,
        version_site_without_gateway,
        xml_syntax,
    )

    return Registry(
        gateway=(
            # configuration semantics
            duplicate_key, array_shorter_than_base, transforms_merge_conflict,
            raw_key_collision, appsettings_too_deep,
            # CORS
            cors_wildcard_origin, cors_origin_format, cors_duplicate_value,
            cors_browser_client, cors_version,
            # WebRTC / ICE
            ice_server_url, ice_server_duplicate, ice_turn_credentials,
            ice_credential_clear_text, ice_servers_version, ice_turn_unencrypted,
            # logging and NLog
            log_level_value, log_level_production_verbose, nlog_unknown_target,
            nlog_level_value, nlog_layout_syntax, nlog_layout_missing_dollar,
            nlog_archive_options, nlog_log_directory,
            # reverse proxy (YARP)
            route_match_required, route_template_syntax, route_methods, route_order,
            route_query_parameter, route_header_match, route_transform,
            route_cluster_unknown, route_constraint_unknown, cluster_destination_address,
            cluster_destination_uri, cluster_no_destination, cluster_destination_http,
            proxy_setting_value,
            route_ambiguous, route_shadows_stock,
        ),
        fleet=(
            gateway_name_duplicate, gateway_host_duplicate, gateway_url_http,
            # versions (read through gwctl.versions.state; version_rule_ids() finds them
            # by their "version-" prefix)
            version_site_without_gateway, version_no_colocated_gateway,
            version_gateway_behind, version_gateway_ahead, version_prerelease_gateway,
            version_below_minimum, version_declared_vs_discovered, version_colocation,
            version_discovery_failed,
            # host facts (read through gwctl.iis; host_rule_ids() finds them by their
            # "host-" prefix; they find nothing outside a HostScope)
            host_override_not_loaded, host_app_offline, host_log_dir_not_writable,
            host_stdout_log_enabled, host_rapid_fail_disabled,
        ),
        meta=(
            json_syntax, top_level_not_object, xml_syntax, nlog_render, rule_config,
            suppression_without_reason, unused_suppression,
        ),
    )


def all_rules() -> tuple[RuleInfo, ...]:
    """Every rule module, readers and runner rules first, then by topic."""
    return registry().all


@lru_cache(maxsize=1)
def _by_id() -> dict[str, RuleInfo]:
    return {r.ID: r for r in all_rules()}


def rule_ids() -> list[str]:
    return list(_by_id())


def version_rule_ids() -> list[str]:
    """The version rules (``version-*``): what ``gwctl check-versions`` runs."""
    return [r.ID for r in registry().fleet if r.ID.startswith("version-")]


def host_rule_ids() -> list[str]:
    """The host rules (``host-*``): what the commands that read hosts run on their facts."""
    return [r.ID for r in registry().fleet if r.ID.startswith("host-")]


def get_rule(rule_id: str) -> RuleInfo:
    """The rule module with this id; `UsageError` naming close matches otherwise."""
    found = _by_id().get(rule_id)
    if found is None:
        close = difflib.get_close_matches(rule_id, list(_by_id()), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else " (gwctl rules lists them)"
        raise UsageError(f"unknown rule {rule_id!r}{hint}")
    return found


#: what a rule's finding does to the gateway (a rule module's optional ``EFFECT``):
#: ``start`` -- the gateway does not start (every request 503); ``request:NNN`` -- it
#: starts and the requests the finding concerns answer NNN; ``silent`` -- it starts and
#: serves, but does something else than the file says (logging, CORS headers).
START = "start"


def effect(rule_id: str) -> str | None:
    """The rule's ``EFFECT`` (None: advice -- security, style, risk)."""
    value = getattr(_by_id().get(rule_id), "EFFECT", None)
    return value if isinstance(value, str) else None


@lru_cache(maxsize=1)
def startup_rule_ids() -> frozenset[str]:
    """Rules whose error means "the gateway refuses to start" (the simulator asks these)."""
    return frozenset(r.ID for r in all_rules() if effect(r.ID) == START)


def request_status(rule_id: str) -> int | None:
    """The HTTP status the gateway answers the affected requests with, if the rule says."""
    value = effect(rule_id) or ""
    return int(value[8:]) if value.startswith("request:") and value[8:].isdigit() else None


def rule_doc(rule_id: str) -> str:
    """A rule's documentation as ``gwctl rules ID`` prints it."""
    rule = get_rule(rule_id)
    doc = textwrap.dedent(rule.__doc__ or "").strip()
    summary, _, body = doc.partition("\n")
    options = getattr(rule, "OPTIONS", {}) or {}
    head = [f"{rule.ID} ({rule.LEVEL})", "", summary.strip()]
    what = effect(rule.ID)
    if what is not None:
        head += ["", "Effect on the gateway: " + _EFFECT_TEXT.get(
            what, f"it starts; the affected requests answer {request_status(rule.ID)}")]
    if options:
        head += ["", "Options (defaults): " + ", ".join(f"{k}: {v!r}" for k, v in
                                                        options.items())]
    return "\n".join(head) + "\n" + textwrap.dedent(body).rstrip() + "\n"


_EFFECT_TEXT = {START: "it does not start (every request answers 503)",
                "silent": "it starts and serves, silently not as the file says"}


__all__ = [
    "START",
    "Registry",
    "all_rules",
    "effect",
    "get_rule",
    "host_rule_ids",
    "registry",
    "request_status",
    "rule_doc",
    "rule_ids",
    "startup_rule_ids",
    "version_rule_ids",
]
