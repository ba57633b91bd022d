"""gwctl.versions.release: parsing, formatting, ordering and navigation of XProtect releases."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gwctl.errors import InputError
from gwctl.versions import boundaries, features
from gwctl.versions.release import MAX_YEAR, MIN_YEAR, Version, releases_in_year

# The releases where feature and rule boundaries sit.
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


# -- parsing: accepted forms -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021 R2", Version(2021, 2)),
        ("2022 R1", Version(2022, 1)),
        ("2022 R3", Version(2022, 3)),
        ("2023 R1", Version(2023, 1)),
        ("2023 R3", Version(2023, 3)),
        ("2024 R2", Version(2024, 2)),
        ("2025 R1", Version(2025, 1)),
        ("2025 R2", Version(2025, 2)),
        ("2024R2", Version(2024, 2)),
        ("2024 r2", Version(2024, 2)),
        ("2024r2", Version(2024, 2)),
        ("2024\tR2", Version(2024, 2)),
        ("  2024 R2\n", Version(2024, 2)),
        ("2019 R3", Version(2019, 3)),  # recognised (to say "too old"), pre-gateway
        ("2017 R1", Version(2017, 1)),
        ("2099 R3", Version(2099, 3)),
        ("24.2", Version(2024, 2)),
        ("21.2", Version(2021, 2)),
        ("20.1", Version(2020, 1)),
        ("24.2.5804", Version(2024, 2, 5804)),
        ("24.2.5804.1", Version(2024, 2, 5804, 1)),
        ("25.2.0.0", Version(2025, 2, 0, 0)),
        ("23.3.2147483647.2147483647", Version(2023, 3, 2**31 - 1, 2**31 - 1)),
        # YAML floats: `version: 24.2` unquoted.
        (24.2, Version(2024, 2)),
        (22.3, Version(2022, 3)),
        (21.2, Version(2021, 2)),
        (25.1, Version(2025, 1)),
    ],
)
def test_parse_accepts(text: str | float, expected: Version) -> None:
    assert Version.parse(text) == expected


def test_parse_returns_a_version_unchanged() -> None:
    v = Version(2024, 2, 5804, 1)
    assert Version.parse(v) is v


def test_float_with_trailing_zero_is_the_same_float() -> None:
    # Documented limitation: YAML `24.20` is the float 24.2; it cannot be told apart, and
    # since a release number is one digit it can only have meant 24.2 or a typo.
    assert Version.parse(24.20) == Version(2024, 2)


# -- parsing: rejected forms -------------------------------------------------------------

BAD_INPUTS: list[object] = [
    "2024 R5",
    "2024 R0",
    "2024 R4",
    "2024 R3",  # 2024 had R1 and R2 only
    "2021 R3",  # 2021 had R1 and R2 only
    "2016 R1",
    "2100 R1",
    "R2 2024",
    "2024",
    "2024 R",
    "2024 R 2",
    "2024 R2 pre-release",
    "XProtect 2024 R2",
    "24",
    "24.",
    "24.0",
    "24.4",
    "24.10",
    "19.3",  # pre-2020 product numbers were not YY.n
    "13.3",
    "24.2.",
    "24.2.5804.1.7",
    "24.2.-1",
    "24.2.2147483648",  # > Int32
    "24.2.1.2147483648",
    "24.2.99999999999",
    "v24.2",
    "+24.2",
    "２０２４ R2",  # fullwidth digits
    "٢٠٢٤ R2",  # Arabic-Indic digits
    "",
    "   ",
    "\x00",
    "9" * 5000,  # int() would raise ValueError on >4300 digits
    24.0,
    24.25,
    24.4,
    19.3,
    2024.2,
    -24.2,
    math.nan,
    math.inf,
    1e20,
    2024,
    24,
    0,
    True,
    False,
    None,
    [],
    {},
    b"2024 R2",
]


@pytest.mark.parametrize("bad", BAD_INPUTS, ids=repr)
def test_parse_rejects_with_input_error(bad: object) -> None:
    with pytest.raises(InputError) as info:
        Version.parse(bad)  # type: ignore[arg-type]  # what YAML may hold, on purpose
    message = str(info.value)
    # The message says what was wrong and what is accepted.
    assert "is not an XProtect release" in message
    assert "expected 'YYYY Rn' (n=1..3), 'YY.n' or 'YY.n.build.revision'" in message
    assert len(message) < 400  # a 5000-digit input is not echoed whole


def test_rejection_message_explains_the_reason() -> None:
    with pytest.raises(InputError, match=r"'2024 R5' is not an XProtect release"):
        Version.parse("2024 R5")
    with pytest.raises(InputError, match="XProtect 2024 had only R1 and R2"):
        Version.parse("2024 R3")
    with pytest.raises(InputError, match=r"year 2016 is outside 2017\.\.2099"):
        Version.parse("2016 R1")
    with pytest.raises(InputError, match=r"start at 20\.1"):
        Version.parse("19.3")
    with pytest.raises(InputError, match="write '2024 R1'"):
        Version.parse(2024)


@pytest.mark.parametrize(
    "fields",
    [
        (2024, 5, None, None),
        (2016, 1, None, None),
        (2024, 3, None, None),
        (2024, 2, None, 1),  # revision without build
        (2024, 2, -1, None),
        (2024, 2, 1, -1),
        (2024, 2, 2**31, None),
        (True, 2, None, None),
        (2024, True, None, None),
        ("2024", 2, None, None),
        (None, 2, None, None),
        (2024, 2.0, None, None),
    ],
)
def test_constructor_validates(fields: tuple[object, object, object, object]) -> None:
    with pytest.raises(InputError):
        Version(*fields)  # type: ignore[arg-type]  # wrong types too, on purpose


# -- formatting --------------------------------------------------------------------------


@pytest.mark.parametrize("name", BOUNDARIES)
def test_format_at_boundaries(name: str) -> None:
    v = Version.parse(name)
    yy, n = name[2:4], name[-1]
    assert str(v) == name
    assert v.name == name
    assert v.product == f"{yy}.{n}"
    assert v.full == f"{yy}.{n}"
    assert Version.parse(v.product) == v


@pytest.mark.parametrize(
    ("v", "product", "full"),
    [
        (Version(2024, 2), "24.2", "24.2"),
        (Version(2024, 2, 5804), "24.2", "24.2.5804"),
        (Version(2024, 2, 5804, 1), "24.2", "24.2.5804.1"),
        (Version(2020, 1, 0, 0), "20.1", "20.1.0.0"),
    ],
)
def test_product_and_full(v: Version, product: str, full: str) -> None:
    assert v.product == product
    assert v.full == full
    assert str(v) == f"{v.year} R{v.release}"


def test_product_before_2020_is_not_guessed() -> None:
    with pytest.raises(InputError, match=r"predates the YY\.n product numbering"):
        _ = Version(2019, 3).product
    with pytest.raises(InputError):
        _ = Version(2019, 3, 100).full
    assert str(Version(2019, 3)) == "2019 R3"


# -- ordering ----------------------------------------------------------------------------


def test_boundaries_are_in_order() -> None:
    parsed = [Version.parse(b) for b in BOUNDARIES]
    assert parsed == sorted(parsed)
    assert sorted(reversed(parsed)) == parsed
    for a, b in itertools.pairwise(parsed):
        assert a < b and b > a and a <= b and a != b


def test_builds_sort_after_the_bare_release() -> None:
    chain = [
        Version(2024, 1, 9999, 9999),
        Version(2024, 2),
        Version(2024, 2, 0),
        Version(2024, 2, 0, 0),
        Version(2024, 2, 5804),
        Version(2024, 2, 5804, 1),
        Version(2024, 2, 5805),
        Version(2025, 1),
    ]
    assert sorted(reversed(chain)) == chain
    assert max(chain) == Version(2025, 1)


def test_equality_is_exact_and_same_release_ignores_builds() -> None:
    a, b = Version.parse("24.2.5804.1"), Version.parse("2024 R2")
    assert a != b
    assert a.same_release(b) and b.same_release(a)
    assert a.release_key == b.release_key == (2024, 2)
    assert a.as_release() == b
    assert b.as_release() is b
    assert hash(Version(2024, 2)) == hash(Version.parse("24.2"))
    assert not Version(2024, 2).same_release(Version(2024, 1))


def test_comparison_with_other_types() -> None:
    other: object = "2024 R2"
    assert Version(2024, 2) != other
    with pytest.raises(TypeError):
        _ = Version(2024, 2) < other


# -- navigation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("2020 R3", "2021 R1"),
        ("2021 R1", "2021 R2"),
        ("2021 R2", "2022 R1"),  # no 2021 R3
        ("2022 R1", "2022 R2"),
        ("2022 R3", "2023 R1"),
        ("2023 R3", "2024 R1"),
        ("2024 R1", "2024 R2"),
        ("2024 R2", "2025 R1"),  # no 2024 R3
        ("2025 R1", "2025 R2"),
        ("2025 R2", "2025 R3"),  # the future is not assumed away
    ],
)
def test_next_and_previous(before: str, after: str) -> None:
    b, a = Version.parse(before), Version.parse(after)
    assert b.next_release() == a
    assert a.previous_release() == b


def test_navigation_drops_the_build_and_stops_at_the_ends() -> None:
    assert Version(2024, 2, 5804, 1).next_release() == Version(2025, 1)
    assert Version(2024, 2, 5804, 1).previous_release() == Version(2024, 1)
    with pytest.raises(InputError):
        Version(MAX_YEAR, 3).next_release()
    with pytest.raises(InputError):
        Version(MIN_YEAR, 1).previous_release()


def test_releases_in_year() -> None:
    assert [releases_in_year(y) for y in (2020, 2021, 2022, 2023, 2024, 2025, 2030)] == [
        3,
        2,
        3,
        3,
        2,
        3,
        3,
    ]


# -- boundary constants: read from the feature table ---------------------------------------


@pytest.mark.parametrize(
    ("name", "release", "feature_id"),
    [
        ("GATEWAY_MIN", "2022 R1", "gateway-requires-vms"),
        ("GATEWAY_PRERELEASE", "2021 R2", "gateway-prerelease"),
        ("CORS_SINCE", "2022 R3", "cors"),
        ("WEBRTC_DEFAULT", "2023 R1", "webrtc-default-on"),
        ("ICE_SERVERS_SINCE", "2023 R3", "webrtc-ice-servers"),
        ("MANDATORY_GATEWAY_SINCE", "2023 R3", "gateway-mandatory"),
        ("VERSION_MATCH_SINCE", "2023 R3", "version-match"),
        ("COLOCATED_MANDATORY_SINCE", "2024 R2", "colocated-gateway-mandatory"),
        ("DEVICE_ID_SINCE", "2025 R2", "webrtc-session-deviceId"),
    ],
)
def test_constants_come_from_the_feature_table(name: str, release: str, feature_id: str) -> None:
    value = getattr(boundaries, name)
    assert value == Version.parse(release)
    assert value is features.feature(feature_id).since
    assert name in boundaries.__all__


def test_constants_import_by_name() -> None:
    from gwctl.versions.boundaries import CORS_SINCE, GATEWAY_MIN

    assert (Version(2022, 1), Version(2022, 3)) == (GATEWAY_MIN, CORS_SINCE)


def test_unknown_module_attribute() -> None:
    with pytest.raises(AttributeError, match="NOT_A_CONSTANT"):
        _ = boundaries.NOT_A_CONSTANT  # type: ignore[attr-defined]  # absent, on purpose


# -- properties ------------------------------------------------------------------------


@st.composite
def releases(draw: st.DrawFn, min_year: int = MIN_YEAR) -> Version:
    year = draw(st.integers(min_year, MAX_YEAR))
    return Version(year, draw(st.integers(1, releases_in_year(year))))


@st.composite
def installed(draw: st.DrawFn, min_year: int = MIN_YEAR) -> Version:
    r = draw(releases(min_year))
    component = st.integers(0, 2**31 - 1)
    build = draw(st.none() | component)
    revision = None if build is None else draw(st.none() | component)
    return Version(r.year, r.release, build, revision)


def _tuple(v: Version) -> tuple[int, int, int, int]:
    return (
        v.year,
        v.release,
        -1 if v.build is None else v.build,
        -1 if v.revision is None else v.revision,
    )


@given(installed())
def test_prop_name_round_trip(v: Version) -> None:
    assert Version.parse(str(v)) == v.as_release()
    assert Version.parse(str(v).replace(" ", "")) == v.as_release()
    assert Version.parse(str(v).lower()) == v.as_release()


@given(installed(min_year=2020))
def test_prop_product_and_full_round_trip(v: Version) -> None:
    assert Version.parse(v.full) == v
    assert Version.parse(v.product) == v.as_release()
    assert Version.parse(float(v.product)) == v.as_release()
    assert v.full.startswith(v.product)


@given(installed(), installed())
def test_prop_ordering_matches_tuple_ordering(a: Version, b: Version) -> None:
    ta, tb = _tuple(a), _tuple(b)
    assert (a < b) == (ta < tb)
    assert (a <= b) == (ta <= tb)
    assert (a > b) == (ta > tb)
    assert (a >= b) == (ta >= tb)
    assert (a == b) == (ta == tb)
    assert (a == b) <= (hash(a) == hash(b))
    assert a.same_release(b) == (a.release_key == b.release_key)
    # exactly one of <, ==, > (a total order)
    assert [a < b, a == b, a > b].count(True) == 1


@given(releases())
def test_prop_next_previous_are_inverse(v: Version) -> None:
    assume(v < Version(MAX_YEAR, 3))
    n = v.next_release()
    assert n > v
    assert n.previous_release() == v
    # no release exists strictly between v and its successor
    assert n.release_key > v.release_key


# -- fuzzing: nothing but InputError escapes ---------------------------------------------


def _parse_or_input_error(value: object) -> None:
    try:
        result = Version.parse(value)  # type: ignore[arg-type]  # fuzzed values of any type
    except InputError as exc:
        assert "expected 'YYYY Rn'" in str(exc)
    else:
        assert isinstance(result, Version)
        assert result == Version.parse(str(result)) or result.build is not None


@settings(max_examples=500)
@given(st.text())
def test_fuzz_text(value: str) -> None:
    _parse_or_input_error(value)


# Near misses of the accepted shapes reach the range checks, not just the regex.
_NEAR = st.from_regex(
    r"\A\s?[0-9]{1,5}\s?[Rr]?\s?[0-9]{0,4}(\.[0-9]{0,12}){0,4}\s?\Z", fullmatch=True
)


@settings(max_examples=500)
@given(_NEAR)
def test_fuzz_near_misses(value: str) -> None:
    _parse_or_input_error(value)


@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers() | st.none() | st.booleans())
def test_fuzz_scalars(value: object) -> None:
    _parse_or_input_error(value)


@given(st.lists(st.integers()) | st.dictionaries(st.text(), st.integers()) | st.binary())
def test_fuzz_containers(value: object) -> None:
    with pytest.raises(InputError):
        Version.parse(value)  # type: ignore[arg-type]  # fuzzed containers, on purpose
