"""gwctl.versions.features: the feature table and the questions asked of it."""

from __future__ import annotations

import itertools
import re
import textwrap

import pytest
import yaml

from gwctl.errors import InputError
from gwctl.versions import features
from gwctl.versions.features import (
    Feature,
    UnknownFeatureError,
    all_features,
    feature,
    features_missing,
    gateway_stage,
    load_features,
    supports,
)
from gwctl.versions.release import Version

V = Version.parse
BOUNDARIES = [
    "2021 R2",
    "2022 R1",
    "2022 R3",
    "2023 R1",
    "2023 R3",
    "2024 R2",
    "2025 R1",
    "2025 R2",
]


# -- the packaged table --------------------------------------------------------------------


def test_table_loads_once_and_is_well_formed() -> None:
    rows = all_features()
    assert rows is all_features()  # cached
    ids = [f.id for f in rows]
    assert len(ids) == len(set(ids))
    for f in rows:
        assert isinstance(f, Feature)
        assert f.summary.strip(), f.id
        assert f.source.strip(), f.id
        assert f.kind in {"api", "config-shape", "request-field", "rule", "client-id"}
        assert f.since.build is None


def test_every_source_names_where_the_fact_comes_from() -> None:
    origins = ("Admin manual 2025 R2", "PRODUCT.md", "mipsdk-samples-protocol")
    for f in all_features():
        assert any(o in f.source for o in origins), (f.id, f.source)
        # a manual citation names the section it comes from
        if "Admin manual 2025 R2" in f.source:
            assert re.search(r"Admin manual 2025 R2, \S", f.source), f.id


def test_whats_new_citations_match_the_row_dates() -> None:
    # "What's new › 2023 R3" is a claim about a release; it must be one of the row's dates.
    for f in all_features():
        cited = {V(m) for m in re.findall(r"› (\d{4} R\d)", f.source)}
        if not cited:
            continue
        dates = {f.since, f.until, f.beta_until}
        assert cited <= dates, (f.id, cited, dates)
        assert f.since in cited or f.until in cited, f.id


def test_uses_libyaml_when_available() -> None:
    if hasattr(yaml, "CSafeLoader"):
        assert features._Loader is yaml.CSafeLoader
    else:  # pragma: no cover - depends on the PyYAML build
        assert features._Loader is yaml.SafeLoader


# The rows the rules and the renderer depend on, with the dates the sources give.
EXPECTED_ROWS = [
    # id, kind, since, until, beta_until
    ("cors", "config-shape", "2022 R3", None, None),
    ("webrtc-prerelease", "api", "2022 R3", "2023 R1", None),
    ("webrtc-default-on", "config-shape", "2023 R1", None, None),
    ("webrtc-rest-signalling", "api", "2023 R1", None, None),
    ("webrtc-ws-signalling", "api", "2025 R1", None, None),
    ("webrtc-ptz-datachannel", "api", "2025 R1", None, None),
    ("ice-servers-multiple", "request-field", "2023 R3", None, None),
    ("turn-servers", "config-shape", "2023 R3", None, None),
    ("webrtc-stream-selection", "request-field", "2023 R3", None, None),
    ("webrtc-playback", "request-field", "2023 R3", None, "2024 R1"),
    ("events-state-ws", "api", "2023 R3", None, None),
    ("ws-messages", "api", "2023 R3", None, "2024 R2"),
    ("rest-events-alarms", "api", "2023 R2", None, "2024 R2"),
    ("registered-services", "api", "2024 R2", None, None),
    ("bookmarks", "api", "2024 R2", None, None),
    ("evidence-locks", "api", "2024 R2", None, None),
    ("security-namespaces", "api", "2024 R2", None, None),
    ("effective-permissions", "api", "2024 R2", None, None),
    ("ptz-preset-task", "api", "2024 R2", None, None),
    ("output-tasks", "api", "2024 R2", None, None),
    ("absolute-position-task", "api", "2024 R2", None, None),
    ("gatewayconfig-json", "config-shape", "2022 R3", "2023 R1", None),
    ("webrtc-stun-single", "config-shape", "2023 R1", "2023 R3", None),
    ("webrtc-ice-servers", "config-shape", "2023 R3", None, None),
    ("webrtc-session-cameraId", "request-field", "2023 R1", "2025 R2", None),
    ("webrtc-session-deviceId", "request-field", "2025 R2", None, None),
    ("client-id-GrantValidatorClient", "client-id", "2022 R1", None, None),
    ("client-id-VmsClient", "client-id", "2025 R1", None, None),
    ("gateway-prerelease", "rule", "2021 R2", "2022 R1", None),
    ("gateway-requires-vms", "rule", "2022 R1", None, None),
    ("gateway-mandatory", "rule", "2023 R3", None, None),
    ("version-match", "rule", "2023 R3", None, None),
    ("colocated-gateway-mandatory", "rule", "2024 R2", None, None),
]


@pytest.mark.parametrize(("fid", "kind", "since", "until", "beta_until"), EXPECTED_ROWS)
def test_expected_rows(
    fid: str, kind: str, since: str, until: str | None, beta_until: str | None
) -> None:
    f = feature(fid)
    assert f.kind == kind
    assert f.since == V(since)
    assert f.until == (V(until) if until else None)
    assert f.beta_until == (V(beta_until) if beta_until else None)


# -- supports() at the boundary releases -----------------------------------------------

# feature -> the boundary releases (of BOUNDARIES) that have it
SUPPORT_MATRIX = {
    "gateway-prerelease": {"2021 R2"},
    "gateway-requires-vms": set(BOUNDARIES[1:]),
    "cors": set(BOUNDARIES[2:]),
    "webrtc-prerelease": {"2022 R3"},
    "gatewayconfig-json": {"2022 R3"},
    "webrtc-default-on": set(BOUNDARIES[3:]),
    "webrtc-rest-signalling": set(BOUNDARIES[3:]),
    "webrtc-stun-single": {"2023 R1"},
    "webrtc-session-cameraId": {"2023 R1", "2023 R3", "2024 R2", "2025 R1"},
    "webrtc-ice-servers": set(BOUNDARIES[4:]),
    "gateway-mandatory": set(BOUNDARIES[4:]),
    "version-match": set(BOUNDARIES[4:]),
    "colocated-gateway-mandatory": set(BOUNDARIES[5:]),
    "registered-services": set(BOUNDARIES[5:]),
    "webrtc-ws-signalling": {"2025 R1", "2025 R2"},
    "client-id-VmsClient": {"2025 R1", "2025 R2"},
    "webrtc-session-deviceId": {"2025 R2"},
}


@pytest.mark.parametrize("release", BOUNDARIES)
@pytest.mark.parametrize("fid", sorted(SUPPORT_MATRIX))
def test_supports_at_boundaries(fid: str, release: str) -> None:
    assert supports(fid, V(release)) == (release in SUPPORT_MATRIX[fid])


def test_supports_compares_releases_not_builds() -> None:
    # A hotfix build of the release before `until` still has the feature, and every build
    # of the `until` release lacks it.
    assert supports("webrtc-session-cameraId", V("25.1.9999.9"))
    assert not supports("webrtc-session-cameraId", V("25.2.0.0"))
    assert supports("cors", V("22.3.1.0"))
    assert not supports("cors", V("22.2.9999.9999"))


def test_nothing_before_the_gateway() -> None:
    for f in all_features():
        assert not f.available_in(V("2021 R1")), f.id
        assert not f.available_in(V("2017 R1")), f.id


@pytest.mark.parametrize(
    "chain",
    [
        ["gatewayconfig-json", "webrtc-stun-single", "webrtc-ice-servers"],
        ["webrtc-session-cameraId", "webrtc-session-deviceId"],
        ["gateway-prerelease", "gateway-requires-vms"],
        ["webrtc-prerelease", "webrtc-rest-signalling"],
    ],
)
def test_successor_chains_have_no_gap_or_overlap(chain: list[str]) -> None:
    rows = [feature(i) for i in chain]
    for a, b in itertools.pairwise(rows):
        assert a.successor == b.id
    v = rows[0].since
    while v < V("2027 R1"):
        assert sum(r.available_in(v) for r in rows) == 1, str(v)
        v = v.next_release()


def test_beta() -> None:
    playback = feature("webrtc-playback")
    assert playback.is_beta_in(V("2023 R3"))
    assert not playback.is_beta_in(V("2024 R1"))
    assert not playback.is_beta_in(V("2023 R2"))  # not there at all
    alarms = feature("rest-events-alarms")
    assert alarms.is_beta_in(V("2024 R1")) and not alarms.is_beta_in(V("2024 R2"))
    assert not feature("cors").is_beta_in(V("2022 R3"))


def test_features_missing() -> None:
    wanted = ["webrtc-ws-signalling", "cors", "webrtc-ice-servers", "registered-services"]
    missing = features_missing(V("2023 R3"), wanted)
    assert [f.id for f in missing] == ["webrtc-ws-signalling", "registered-services"]
    assert features_missing(V("2025 R2"), wanted) == []
    assert [f.id for f in features_missing(V("2022 R1"), wanted)] == wanted
    assert features_missing(V("2025 R2"), []) == []


@pytest.mark.parametrize(
    ("release", "stage"),
    [
        ("2017 R1", "none"),
        ("2021 R1", "none"),
        ("2021 R2", "prerelease"),
        ("21.2.100.0", "prerelease"),
        ("2022 R1", "ga"),
        ("2025 R2", "ga"),
    ],
)
def test_gateway_stage(release: str, stage: str) -> None:
    assert gateway_stage(V(release)) == stage


def test_unknown_feature() -> None:
    with pytest.raises(UnknownFeatureError, match="did you mean webrtc-playback"):
        feature("webrtc-playbak")
    with pytest.raises(InputError, match="unknown feature 'nope'"):
        supports("nope", V("2024 R2"))
    with pytest.raises(UnknownFeatureError):
        features_missing(V("2024 R2"), ["cors", "nope"])


# -- validation of the table file ------------------------------------------------------

GOOD_ROW = """\
  - id: a-feature
    since: "2023 R3"
    kind: api
    summary: something
    source: Admin manual 2025 R2, What's new › 2023 R3
"""


def _table(*rows: str) -> str:
    return "features:\n" + "".join(rows)


def test_load_minimal_table() -> None:
    (row,) = load_features(_table(GOOD_ROW))
    assert row == Feature(
        id="a-feature",
        since=V("2023 R3"),
        kind="api",
        summary="something",
        source="Admin manual 2025 R2, What's new › 2023 R3",
    )


def _row(**changes: str | None) -> str:
    fields: dict[str, str | None] = {
        "id": "a-feature",
        "since": '"2023 R3"',
        "kind": "api",
        "summary": "something",
        "source": "somewhere",
    }
    fields.update(changes)
    lines = [f"{k}: {v}" for k, v in fields.items() if v is not None]
    return "  - " + "\n    ".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_table(_row(colour="red")), r"row 1 \('a-feature'\): unknown key\(s\) colour"),
        (_table(_row(source=None)), r"row 1 \('a-feature'\): missing key\(s\) source"),
        (_table(_row(since='"2023 R5"')), r"'a-feature'.*since: '2023 R5' is not an XProtect"),
        (_table(_row(since="23.3")), r"'a-feature'.*since must be a quoted 'YYYY Rn' string"),
        (_table(_row(since='"2023r3"')), r"'a-feature'.*since must be written '2023 R3'"),
        (_table(_row(since='"23.3.1.0"')), r"'a-feature'.*since must be written '2023 R3'"),
        (_table(_row(until='"2023 R3"')), r"'a-feature'.*until 2023 R3 is not after since"),
        (_table(_row(until='"2023 R1"')), r"until 2023 R1 is not after since 2023 R3"),
        (_table(_row(beta_until='"2023 R3"')), r"beta_until 2023 R3 must be after since"),
        (
            _table(_row(until='"2024 R1"', beta_until='"2024 R2"')),
            r"beta_until 2024 R2 must be after since 2023 R3 and not after until 2024 R1",
        ),
        (_table(_row(kind="widget")), r"kind 'widget' is not one of"),
        (_table(_row(id="Not_Kebab")), r"row 1 \('Not_Kebab'\): id must be kebab-case"),
        (_table(_row(id="7up")), r"id must be kebab-case"),
        (_table(_row(summary='""')), r"summary must be a non-empty string"),
        (_table(_row(source='"  "')), r"source must be a non-empty string"),
        (_table(_row(successor="other")), r"successor needs until"),
        (_table(_row(until='"2024 R1"', successor="other")), r"successor 'other' is not a feature"),
        (
            _table(
                _row(until='"2024 R1"', successor="b-feature"),
                _row(id="b-feature", since='"2024 R2"'),
            ),
            r"row 1 \('a-feature'\): until 2024 R1 differs from successor 'b-feature'",
        ),
        (_table(_row(), _row()), r"row 2 \('a-feature'\): duplicate id"),
        (_table(GOOD_ROW, "  - just a string\n"), r"row 2: expected a mapping"),
        ("features: {}\n", r"one key, 'features'"),
        ("- a\n- b\n", r"one key, 'features'"),
        ("features: []\nextra: 1\n", r"one key, 'features'"),
        ("features: [\n", r"not valid YAML"),
    ],
)
def test_load_rejects(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        load_features(text)
    assert info.value.file == features.DATA_FILE
    assert str(info.value).startswith("gwctl/data/features.yaml: ")


def test_summary_and_source_are_unfolded() -> None:
    text = _table(
        textwrap.dedent(
            """\
              - id: a-feature
                since: "2023 R3"
                kind: api
                summary: |
                  two
                  lines
                source: here
            """
        )
    )
    (row,) = load_features(text)
    assert row.summary == "two lines"
