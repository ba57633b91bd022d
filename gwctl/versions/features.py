"""The API Gateway feature history: which release has which API, config shape, rule.

The facts live in one data file, ``gwctl/data/features.yaml``; this module loads it once,
validates every row (so a bad edit fails loudly at the first use, naming the row) and
answers "does release X have feature Y?". Rules, the renderer and the simulator ask here
instead of comparing against literal versions.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Final, Literal, cast, get_args

import yaml

from gwctl.errors import InputError
from gwctl.versions.release import Version

__all__ = [
    "DATA_FILE",
    "Feature",
    "FeatureKind",
    "GatewayStage",
    "UnknownFeatureError",
    "all_features",
    "feature",
    "features_missing",
    "gateway_stage",
    "load_features",
    "supports",
]

FeatureKind = Literal["api", "config-shape", "request-field", "rule", "client-id"]
GatewayStage = Literal["none", "prerelease", "ga"]

#: package-relative location, also used as ``file`` in load errors
DATA_FILE: Final = "gwctl/data/features.yaml"

_KINDS: Final[frozenset[str]] = frozenset(get_args(FeatureKind))
_REQUIRED: Final = ("id", "since", "kind", "summary", "source")
_OPTIONAL: Final = ("until", "successor", "beta_until")
# kebab-case; a segment may keep a vendor identifier's spelling (webrtc-session-deviceId).
_ID_RE: Final = re.compile(r"[a-z][a-z0-9]*(?:-[A-Za-z0-9]+)*")

# libyaml's loader when present: the table is read on every CLI start.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class UnknownFeatureError(InputError):
    """`feature()` was asked for an id the table does not have."""


@dataclass(frozen=True)
class Feature:
    """One row of the feature table. ``since <= v < until`` means release v has it."""

    id: str
    since: Version
    kind: FeatureKind
    summary: str
    source: str
    until: Version | None = None
    successor: str | None = None
    beta_until: Version | None = None

    def available_in(self, version: Version) -> bool:
        # Releases, not builds: a 2023 R3 hotfix build has what 2023 R3 has.
        key = version.release_key
        if key < self.since.release_key:
            return False
        return self.until is None or key < self.until.release_key

    def is_beta_in(self, version: Version) -> bool:
        """True when `version` has the feature only as beta / pre-release."""
        return (
            self.available_in(version)
            and self.beta_until is not None
            and version.release_key < self.beta_until.release_key
        )


# -- loading ---------------------------------------------------------------------------


def _row_error(index: int, row_id: object, message: str) -> InputError:
    who = f"row {index + 1}" + (f" ({row_id!r})" if isinstance(row_id, str) else "")
    return InputError(f"feature table {who}: {message}", file=DATA_FILE)


def _release(index: int, row_id: object, key: str, value: object) -> Version:
    # The table insists on the quoted canonical spelling: a float 23.3 or "2023r3" here
    # would parse, but the file is reference data and should read one way everywhere.
    if not isinstance(value, str):
        raise _row_error(index, row_id, f"{key} must be a quoted 'YYYY Rn' string, got {value!r}")
    try:
        version = Version.parse(value)
    except InputError as exc:
        raise _row_error(index, row_id, f"{key}: {exc.message}") from None
    if version.build is not None or str(version) != value:
        raise _row_error(index, row_id, f"{key} must be written '{version}', not {value!r}")
    return version


def _parse_row(index: int, row: object) -> Feature:
    if not isinstance(row, dict):
        raise _row_error(index, None, f"expected a mapping, got {type(row).__name__}")
    row_id = row.get("id")
    unknown = sorted(str(k) for k in row if k not in _REQUIRED and k not in _OPTIONAL)
    if unknown:
        raise _row_error(
            index,
            row_id,
            f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(_REQUIRED + _OPTIONAL)}",
        )
    missing = [k for k in _REQUIRED if k not in row]
    if missing:
        raise _row_error(index, row_id, f"missing key(s) {', '.join(missing)}")
    if not isinstance(row_id, str) or not _ID_RE.fullmatch(row_id):
        raise _row_error(index, row_id, f"id must be kebab-case, got {row_id!r}")
    for key in ("summary", "source"):
        value = row[key]
        if not isinstance(value, str) or not value.strip():
            raise _row_error(index, row_id, f"{key} must be a non-empty string")
    kind = row["kind"]
    if kind not in _KINDS:
        raise _row_error(index, row_id, f"kind {kind!r} is not one of {sorted(_KINDS)}")

    since = _release(index, row_id, "since", row["since"])
    until = _release(index, row_id, "until", row["until"]) if "until" in row else None
    beta_until = (
        _release(index, row_id, "beta_until", row["beta_until"]) if "beta_until" in row else None
    )
    successor = row.get("successor")
    if successor is not None and not isinstance(successor, str):
        raise _row_error(index, row_id, f"successor must be a feature id, got {successor!r}")
    if successor is not None and until is None:
        raise _row_error(index, row_id, "successor needs until (the release it took over)")
    if until is not None and until <= since:
        raise _row_error(index, row_id, f"until {until} is not after since {since}")
    if beta_until is not None and not (
        since < beta_until and (until is None or beta_until <= until)
    ):
        raise _row_error(
            index,
            row_id,
            f"beta_until {beta_until} must be after since {since}"
            + (f" and not after until {until}" if until else ""),
        )
    return Feature(
        id=row_id,
        since=since,
        kind=cast(FeatureKind, kind),
        summary=" ".join(row["summary"].split()),
        source=" ".join(row["source"].split()),
        until=until,
        successor=successor,
        beta_until=beta_until,
    )


def load_features(text: str) -> tuple[Feature, ...]:
    """Parse and validate a feature table (the packaged one, or a test's).

    Raises `InputError` (file = `DATA_FILE`) naming the offending row.
    """
    try:
        doc = yaml.load(text, Loader=_Loader)  # _Loader is a safe loader
    except yaml.YAMLError as exc:
        raise InputError(f"feature table is not valid YAML: {exc}", file=DATA_FILE) from None
    if (
        not isinstance(doc, dict)
        or set(doc) != {"features"}
        or not isinstance(doc["features"], list)
    ):
        raise InputError(
            "feature table must be a mapping with one key, 'features' (a list)", file=DATA_FILE
        )
    rows = tuple(_parse_row(i, row) for i, row in enumerate(doc["features"]))

    by_id: dict[str, Feature] = {}
    for i, f in enumerate(rows):
        if f.id in by_id:
            raise _row_error(i, f.id, "duplicate id")
        by_id[f.id] = f
    for i, f in enumerate(rows):
        if f.successor is None:
            continue
        nxt = by_id.get(f.successor)
        if nxt is None:
            raise _row_error(i, f.id, f"successor {f.successor!r} is not a feature id")
        # The hand-over date is written twice (until here, since there); insist they agree
        # so that the table cannot describe a gap or an overlap.
        if nxt.since != f.until:
            raise _row_error(
                i, f.id, f"until {f.until} differs from successor {nxt.id!r}'s since {nxt.since}"
            )
    return rows


@lru_cache(maxsize=1)
def _table() -> tuple[tuple[Feature, ...], Mapping[str, Feature]]:
    text = (resources.files("gwctl") / "data" / "features.yaml").read_text("utf-8")
    rows = load_features(text)
    return rows, {f.id: f for f in rows}


# -- queries ---------------------------------------------------------------------------


def all_features() -> tuple[Feature, ...]:
    """Every row, in file order."""
    return _table()[0]


def feature(feature_id: str) -> Feature:
    """The row with this id; `UnknownFeatureError` (with suggestions) otherwise."""
    by_id = _table()[1]
    try:
        return by_id[feature_id]
    except (KeyError, TypeError):
        close = difflib.get_close_matches(str(feature_id), list(by_id), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownFeatureError(f"unknown feature {feature_id!r}{hint}") from None


def supports(feature_id: str, version: Version) -> bool:
    """Does release `version` have the feature (``since <= version < until``)?"""
    return feature(feature_id).available_in(version)


def features_missing(version: Version, ids: Iterable[str]) -> list[Feature]:
    """The features among `ids` that `version` lacks, in the order given."""
    return [f for f in (feature(i) for i in ids) if not f.available_in(version)]


def gateway_stage(version: Version) -> GatewayStage:
    """What kind of API Gateway release `version` has.

    ``none`` before 2021 R2; ``prerelease`` for 2021 R2 (uninstall before upgrading);
    ``ga`` from 2022 R1 on.
    """
    if supports("gateway-prerelease", version):
        return "prerelease"
    if supports("gateway-requires-vms", version):
        return "ga"
    return "none"
