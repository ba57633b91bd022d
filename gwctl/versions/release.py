"""XProtect releases: parsing, formatting and ordering of VMS / API Gateway versions.

XProtect names its releases ``YYYY Rn`` (``2024 R2``) and numbers the same release as the
product version ``YY.n`` (``24.2``), with build and revision on installed binaries
(``24.2.5804.1``). gwctl compares the versions of management servers and gateways, and
gates features and rules on them, so every version that enters gwctl goes through
`Version.parse`.

What is accepted (and why):

- ``2024 R2``, ``2024R2``, ``2024 r2`` — the vendor's spelling and its obvious variants.
  ``R2 2024`` is *not* accepted: nobody writes it, and accepting it would make typos such as
  ``R2 2042`` look intentional.
- ``24.2``, ``24.2.5804``, ``24.2.5804.1`` — the product version as ``.well-known/uris``
  (``ProductVersion``) and ``ServerConfig.xml`` report it.
- a YAML float such as ``24.2`` (unquoted in YAML it is a float, not a string). This is
  unambiguous only because a release number is a single digit 1..3: ``24.20`` in YAML is the
  float 24.2 and is read as ``2024 R2``. Quote product versions in YAML to be safe.

The 2021 R2 *pre-release of the API Gateway* is not a separate version: the VMS release
2021 R2 was a normal release that shipped a pre-release gateway, and both report ``21.2``.
So `Version` has no pre-release flag; the feature table records the fact (row
``gateway-prerelease``) and rules ask `gwctl.versions.features.gateway_stage`.

The boundary releases rules compare against (`GATEWAY_MIN`, `CORS_SINCE`, ...) are not
written here but read from the feature table: `gwctl.versions.boundaries`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import total_ordering
from types import MappingProxyType
from typing import Final

from gwctl.errors import InputError

__all__ = [
    "MAX_RELEASE",
    "MAX_YEAR",
    "MIN_YEAR",
    "Version",
    "releases_in_year",
]

#: Year-named XProtect releases gwctl can talk about. Older ones cannot host an API Gateway
#: (it needs 2022 R1) but are still *recognised*, so that "your VMS 2019 R3 is too old" can
#: be said instead of "not a version".
MIN_YEAR: Final = 2017
MAX_YEAR: Final = 2099

#: XProtect ships at most R1, R2, R3 in a year.
MAX_RELEASE: Final = 3

#: Past years that had fewer than three releases. 2024: the 2025 R2 manual's "What's new?"
#: goes 2024 R1 → 2024 R2 → 2025 R1. 2021: 2021 R2 (gateway pre-release) was followed by
#: 2022 R1 (gateway GA). Years after the last release gwctl knows of are assumed to have up
#: to three, because an unknown future must not be rejected.
_SHORT_YEARS: Final[Mapping[int, int]] = MappingProxyType({2021: 2, 2024: 2})

#: The ``YY.n`` product numbering starts with 2020 R1 (= 20.1). Earlier year-named releases
#: carried other product numbers (11.x–13.x), which gwctl does not map: no gateway exists
#: for them, and guessing would silently misread a version.
_PRODUCT_NUMBERING_SINCE: Final = 2020

#: Build and revision are .NET ``System.Version`` components (Int32, non-negative).
_MAX_COMPONENT: Final = 2**31 - 1

_ACCEPTED: Final = "expected 'YYYY Rn' (n=1..3), 'YY.n' or 'YY.n.build.revision'"

# [0-9] rather than \d: \d also matches other scripts' digits, which int() would accept.
# Digit counts are bounded so int() never sees a huge string (it raises ValueError on
# >4300 digits, which would escape as a non-InputError).
_NAMED_RE: Final = re.compile(r"(?P<year>[0-9]{4})[ \t]*[Rr](?P<release>[0-9]{1,3})")
_PRODUCT_RE: Final = re.compile(
    r"(?P<yy>[0-9]{2})\.(?P<release>[0-9]{1,3})"
    r"(?:\.(?P<build>[0-9]{1,10})(?:\.(?P<revision>[0-9]{1,10}))?)?"
)

# Longest piece of a rejected input echoed back in an error message.
_ECHO_MAX: Final = 60


def releases_in_year(year: int) -> int:
    """How many releases XProtect shipped (or may ship) in `year`."""
    return _SHORT_YEARS.get(year, MAX_RELEASE)


def _echo(value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    if len(text) > _ECHO_MAX:
        text = text[: _ECHO_MAX - 1] + "…"
    return repr(text)


def _reject(value: object, reason: str | None = None) -> InputError:
    detail = f" ({reason})" if reason else ""
    return InputError(f"{_echo(value)} is not an XProtect release{detail}: {_ACCEPTED}")


def _check_release(year: int, release: int) -> str | None:
    """Why (year, release) is not an XProtect release, or None when it is one."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        return f"year {year} is outside {MIN_YEAR}..{MAX_YEAR}"
    if not 1 <= release <= MAX_RELEASE:
        return f"release R{release} is outside R1..R{MAX_RELEASE}"
    count = releases_in_year(year)
    if release > count:
        names = " and ".join(f"R{n}" for n in range(1, count + 1))
        return f"XProtect {year} had only {names}"
    return None


@total_ordering
@dataclass(frozen=True)
class Version:
    """One XProtect release, optionally with the build and revision of an installation.

    Ordering is by (year, release), then build, then revision, where an unknown build or
    revision sorts before any known one (``2024 R2`` < ``24.2.0`` < ``24.2.5804.1``).
    ``@dataclass(order=True)`` cannot express that (it would compare None with int and
    raise), so the comparisons are written out on a key.

    Equality is exact: ``Version.parse("24.2.5804.1") != Version.parse("2024 R2")``. Use
    `same_release` or `release_key` to compare releases while ignoring builds.
    """

    year: int
    release: int
    build: int | None = None
    revision: int | None = None

    def __post_init__(self) -> None:
        # Validate here too, not only in parse(): a Version built by hand (or from JSON)
        # must not be able to hold 2024 R7.
        fields = (self.year, self.release, self.build, self.revision)
        # bool is an int subclass; Version(True, 2) is a bug, not a release.
        if any(isinstance(f, bool) or not isinstance(f, int | None) for f in fields) or (
            self.year is None or self.release is None
        ):
            raise InputError(f"invalid Version fields {fields!r}: year and release are ints")
        reason = _check_release(self.year, self.release)
        if reason:
            raise InputError(
                f"'{self.year} R{self.release}' is not an XProtect release ({reason}): {_ACCEPTED}"
            )
        if self.build is None and self.revision is not None:
            raise InputError(f"{self}: a revision needs a build")
        for name, value in (("build", self.build), ("revision", self.revision)):
            if value is not None and not 0 <= value <= _MAX_COMPONENT:
                raise InputError(f"{self}: {name} {value} is outside 0..{_MAX_COMPONENT}")

    # -- parsing -------------------------------------------------------------------------

    @classmethod
    def parse(cls, text: Version | str | int | float) -> Version:
        """Read a release or product version; raise `InputError` for anything else.

        See the module docstring for the accepted forms. Never raises another exception
        type, whatever it is given (YAML hands over arbitrary scalars).
        """
        if isinstance(text, Version):
            return text
        if isinstance(text, bool):
            raise _reject(text, "a boolean")
        if isinstance(text, int):
            # YAML `version: 2024` — a year alone names no release.
            hint = f"write '{text} R1'..'{text} R3'" if MIN_YEAR <= text <= MAX_YEAR else None
            raise _reject(text, hint or "an integer")
        if isinstance(text, float):
            return cls._parse_float(text)
        if text is None:
            raise _reject(text, "no value")
        if not isinstance(text, str):
            raise _reject(text, f"a {type(text).__name__}")
        s = text.strip()
        m = _NAMED_RE.fullmatch(s)
        if m:
            return cls._from_parts(text, int(m["year"]), int(m["release"]))
        m = _PRODUCT_RE.fullmatch(s)
        if m:
            yy = int(m["yy"])
            if yy < _PRODUCT_NUMBERING_SINCE - 2000:
                raise _reject(
                    text,
                    f"product versions YY.n start at {_PRODUCT_NUMBERING_SINCE - 2000}.1 "
                    f"({_PRODUCT_NUMBERING_SINCE} R1); write older releases as 'YYYY Rn'",
                )
            build = int(m["build"]) if m["build"] is not None else None
            revision = int(m["revision"]) if m["revision"] is not None else None
            return cls._from_parts(text, 2000 + yy, int(m["release"]), build, revision)
        raise _reject(text)

    @classmethod
    def _parse_float(cls, value: float) -> Version:
        if not math.isfinite(value):
            raise _reject(value)
        # repr() gives the shortest string that reads back as the same float, i.e. what
        # the YAML author typed, minus trailing zeros: 24.2 -> "24.2", 24.20 -> "24.2".
        text = repr(value)
        m = _PRODUCT_RE.fullmatch(text)
        if not m or m["build"] is not None:
            raise _reject(value, "quote product versions in YAML: '24.2'")
        return cls.parse(text)

    @classmethod
    def _from_parts(
        cls,
        original: object,
        year: int,
        release: int,
        build: int | None = None,
        revision: int | None = None,
    ) -> Version:
        # Re-check here so the error echoes what the user wrote rather than field values.
        reason = _check_release(year, release)
        if reason:
            raise _reject(original, reason)
        for name, value in (("build", build), ("revision", revision)):
            if value is not None and value > _MAX_COMPONENT:
                raise _reject(original, f"{name} {value} is larger than {_MAX_COMPONENT}")
        return cls(year, release, build, revision)

    # -- formatting ----------------------------------------------------------------------

    def __str__(self) -> str:
        return f"{self.year} R{self.release}"

    @property
    def name(self) -> str:
        """The release name, ``2024 R2`` (same as ``str(v)``)."""
        return str(self)

    @property
    def product(self) -> str:
        """The product version ``YY.n`` (``24.2``).

        Raises `InputError` for releases before 2020 R1, whose product numbers did not
        follow ``YY.n`` (gwctl does not guess them).
        """
        if self.year < _PRODUCT_NUMBERING_SINCE:
            raise InputError(
                f"{self} predates the YY.n product numbering "
                f"({_PRODUCT_NUMBERING_SINCE} R1 = {_PRODUCT_NUMBERING_SINCE - 2000}.1)"
            )
        return f"{self.year - 2000}.{self.release}"

    @property
    def full(self) -> str:
        """``24.2.5804.1`` when the build is known, else ``24.2`` (or ``24.2.5804``)."""
        parts = [self.product]
        if self.build is not None:
            parts.append(str(self.build))
            if self.revision is not None:
                parts.append(str(self.revision))
        return ".".join(parts)

    # -- comparison ----------------------------------------------------------------------

    @property
    def release_key(self) -> tuple[int, int]:
        """(year, release): compare releases while ignoring builds."""
        return (self.year, self.release)

    def _sort_key(self) -> tuple[int, int, int, int]:
        # -1 puts "unknown" before every real component (they are all >= 0).
        build = -1 if self.build is None else self.build
        revision = -1 if self.revision is None else self.revision
        return (self.year, self.release, build, revision)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._sort_key() < other._sort_key()

    def same_release(self, other: Version) -> bool:
        """True when both name the same ``YYYY Rn``, whatever their builds."""
        return self.release_key == other.release_key

    def as_release(self) -> Version:
        """This release without build and revision."""
        if self.build is None:
            return self
        return Version(self.year, self.release)

    # -- navigation ----------------------------------------------------------------------

    def next_release(self) -> Version:
        """The release after this one (``2023 R3`` → ``2024 R1``, ``2024 R2`` → ``2025 R1``)."""
        if self.release < releases_in_year(self.year):
            return Version(self.year, self.release + 1)
        if self.year >= MAX_YEAR:
            raise InputError(f"no release after {self}: gwctl knows years up to {MAX_YEAR}")
        return Version(self.year + 1, 1)

    def previous_release(self) -> Version:
        """The release before this one (``2022 R1`` → ``2021 R2``)."""
        if self.release > 1:
            return Version(self.year, self.release - 1)
        if self.year <= MIN_YEAR:
            raise InputError(f"no release before {self}: gwctl knows years from {MIN_YEAR}")
        return Version(self.year - 1, releases_in_year(self.year - 1))

