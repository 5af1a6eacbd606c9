"""Each ecosystem's own version order, as OSV ranges need it.

Libraries where they are right: python-debian (dpkg), packaging and packaging-legacy (PEP 440 and the
pre-PEP 440 versions osv.dev also accepts), univers (rpm EVR, Maven, SemVer with the leniency Go and
npm versions need, RubyGems, NuGet, Composer). Our own code only for apk: univers' Alpine order rejects
``_git`` suffixes and ranks ``1.2.3a`` at or below ``1.2.3``; real Alpine versions use both
(musl ``1.2.4_git20230717-r4``), so the apk-tools rules are written out below.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from debian.debian_support import Version as DebianVersion
from packaging.version import InvalidVersion
from packaging.version import Version as Pep440Version
from packaging_legacy.version import LegacyVersion
from univers import versions as univers


class InvalidVersionError(ValueError):
    """A version string the ecosystem's order cannot place."""


# -- apk (apk-tools src/version.c rules) --------------------------------------------------------
_PRE = ("alpha", "beta", "pre", "rc")  # sort before the bare version
_POST = ("cvs", "svn", "git", "hg", "p")  # sort after it
# token kinds, in apk-tools order: at a point where the two versions differ in kind, the later kind is lower
DIGIT, LETTER, SUFFIX, SUFFIX_NUMBER, HASH, REVISION, END = range(7)
_APK = re.compile(
    r"(?P<numbers>\d+(?:\.\d+)*)(?P<letter>[a-z]?)(?P<suffixes>(?:_[a-z]+\d*)*)(?P<hash>~[0-9a-f]+)?(?:-r(?P<rev>\d+))?"
)
_SUFFIX = re.compile(r"_([a-z]+)(\d*)")


def _apk_tokens(text: str) -> list[tuple[int, Any]]:
    match = _APK.fullmatch(text)
    if not match:
        raise InvalidVersionError(f"not an apk version: {text!r}")
    tokens: list[tuple[int, Any]] = []
    for i, number in enumerate(match["numbers"].split(".")):
        # a later component with a leading zero compares as a string (below any plain number), as apk does
        tokens.append((DIGIT, (1, number) if i and number.startswith("0") else (2, int(number))))
    if match["letter"]:
        tokens.append((LETTER, match["letter"]))
    for name, number in _SUFFIX.findall(match["suffixes"]):
        if name in _PRE:
            tokens.append((SUFFIX, _PRE.index(name) - len(_PRE)))
        elif name in _POST:
            tokens.append((SUFFIX, _POST.index(name) + 1))
        else:
            raise InvalidVersionError(f"unknown apk version suffix _{name} in {text!r}")
        if number:
            tokens.append((SUFFIX_NUMBER, int(number)))
    if match["hash"]:
        tokens.append((HASH, match["hash"][1:]))
    if match["rev"] is not None:
        tokens.append((REVISION, int(match["rev"])))
    return tokens


def _apk_compare(a: list[tuple[int, Any]], b: list[tuple[int, Any]]) -> int:
    for (kind_a, value_a), (kind_b, value_b) in zip(a, b, strict=False):
        if kind_a != kind_b:
            break
        if value_a != value_b:
            return -1 if value_a < value_b else 1
    else:
        if len(a) == len(b):
            return 0
    i = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x[0] != y[0]), min(len(a), len(b)))
    kind_a, value_a = a[i] if i < len(a) else (END, None)
    kind_b, value_b = b[i] if i < len(b) else (END, None)
    if kind_a == SUFFIX and value_a < 0:  # 1.2_rc1 < 1.2 and anything else at that point
        return -1
    if kind_b == SUFFIX and value_b < 0:
        return 1
    return -1 if kind_a > kind_b else (1 if kind_a < kind_b else 0)


@functools.total_ordering
class ApkVersion:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _apk_tokens(text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ApkVersion) and _apk_compare(self.tokens, other.tokens) == 0

    def __lt__(self, other: ApkVersion) -> bool:
        return _apk_compare(self.tokens, other.tokens) < 0

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"ApkVersion({self.text!r})"


# -- Maven (maven-artifact's ComparableVersion, as Maven 3.8 orders versions) -----------------------
_QUALIFIERS = ("alpha", "beta", "milestone", "rc", "snapshot", "", "sp")
MAX_MAVEN_DEPTH = 100  # lists inside lists: real versions have a handful
_ALIASES = {"ga": "", "final": "", "release": "", "cr": "rc"}
_SHORT = {"a": "alpha", "b": "beta", "m": "milestone"}


def _qualifier_key(value: str) -> str:
    """Maven's comparable qualifier: the known ones by rank, then any other after them, as text."""
    return str(_QUALIFIERS.index(value)) if value in _QUALIFIERS else f"{len(_QUALIFIERS)}-{value}"


_RELEASE_KEY = _qualifier_key("")


class _List(list):  # type: ignore[type-arg]
    """A sub-list of a Maven version: what follows a ``-`` (or a digit/letter transition)."""


class _Number(int):
    """A number of a Maven version, with the size class maven-artifact gives it by its digits (leading
    ASCII zeros dropped): up to 9 digits, up to 18, more; a larger class ranks above a smaller whatever
    the values (they differ only for digits other than ASCII's, which Java reads as digits too)."""

    size: int

    def __new__(cls, text: str) -> _Number:
        number = super().__new__(cls, int(text))
        length = len(text.lstrip("0"))
        number.size = 0 if length <= 9 else 1 if length <= 18 else 2
        return number


def _maven_item(text: str, digits: bool, followed_by_digit: bool = False) -> Any:
    if digits:
        return _Number(text)
    if followed_by_digit and len(text) == 1:
        text = _SHORT.get(text, text)
    return _ALIASES.get(text, text)


def _is_null(item: Any) -> bool:
    if isinstance(item, _List):
        return not item
    return item == 0 if isinstance(item, int) else _qualifier_key(item) == _RELEASE_KEY


def _normalize(items: _List) -> None:
    """Trailing null items (0, "", an empty list) are dropped, up to the last item that is not a list."""
    for index in range(len(items) - 1, -1, -1):
        if _is_null(items[index]):
            del items[index]
        elif not isinstance(items[index], _List):
            break


def _maven_parse(text: str) -> _List:
    version = text.lower()
    items = current = _List()
    stack = [items]
    digits, start = False, 0
    for index, character in enumerate(version):
        if character in ".-":
            current.append(0 if index == start else _maven_item(version[start:index], digits))
            start = index + 1
            if character == "-":
                current.append(sublist := _List())
                current = sublist
                stack.append(current)
        elif character.isdecimal():  # (Java's Character.isDigit: any script's decimal digits)
            if not digits and index > start:  # a letter-to-digit transition is a "-"
                if current:  # (".X" is read as "-X" for a qualifier X)
                    current.append(sublist := _List())
                    current = sublist
                    stack.append(current)
                current.append(_maven_item(version[start:index], False, followed_by_digit=True))
                start = index
                current.append(sublist := _List())
                current = sublist
                stack.append(current)
            digits = True
        else:
            if digits and index > start:  # and so is a digit-to-letter one
                current.append(_maven_item(version[start:index], True))
                start = index
                current.append(sublist := _List())
                current = sublist
                stack.append(current)
            digits = False
    if len(version) > start:
        if not digits and current:
            current.append(sublist := _List())
            current = sublist
            stack.append(current)
        current.append(_maven_item(version[start:], digits))
    if len(stack) > MAX_MAVEN_DEPTH:  # (each "-" or letter/digit change nests a list; comparing recurses)
        raise InvalidVersionError(f"a Maven version nested {len(stack)} deep: {text[:50]!r}")
    while stack:
        _normalize(stack.pop())
    return items


def _maven_compare(left: Any, right: Any) -> int:
    """ComparableVersion's Item.compareTo, ``right`` None for a missing item (padding)."""
    if isinstance(left, int):
        if right is None:
            return 0 if left == 0 else 1
        if isinstance(right, int):
            mine, theirs = (getattr(left, "size", 0), int(left)), (getattr(right, "size", 0), int(right))
            return (mine > theirs) - (mine < theirs)
        return 1
    if isinstance(left, _List):
        if right is None:
            return next((result for item in left if (result := _maven_compare(item, None))), 0)
        if isinstance(right, int):
            return -1
        if isinstance(right, str):
            return 1
        for index in range(max(len(left), len(right))):
            a = left[index] if index < len(left) else None
            b = right[index] if index < len(right) else None
            result = (0 if b is None else -_maven_compare(b, None)) if a is None else _maven_compare(a, b)
            if result:
                return result
        return 0
    mine = _qualifier_key(left)  # a qualifier
    if right is None:
        return (mine > _RELEASE_KEY) - (mine < _RELEASE_KEY)
    if isinstance(right, str):
        theirs = _qualifier_key(right)
        return (mine > theirs) - (mine < theirs)
    return -1  # below a number, below a list


@functools.total_ordering
class MavenVersion:
    """Maven's version order (maven-artifact's ComparableVersion): ``5.2.19.RELEASE`` is ``5.2.19``,
    ``1.0-alpha1 < 1.0-beta < 1.0-rc1 < 1.0-SNAPSHOT < 1.0 < 1.0-sp1 < 1.0-whatever < 1.0.1``."""

    def __init__(self, text: str) -> None:
        if not text or len(text) > 512:
            raise InvalidVersionError(f"not a Maven version: {text[:50]!r}")
        self.text = text
        self.items = _maven_parse(text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MavenVersion) and _maven_compare(self.items, other.items) == 0

    def __lt__(self, other: MavenVersion) -> bool:
        return _maven_compare(self.items, other.items) < 0

    def __hash__(self) -> int:
        return hash(repr(_canonical(self.items)))

    def __repr__(self) -> str:
        return f"MavenVersion({self.text!r})"


def _canonical(items: _List) -> tuple[Any, ...]:
    return tuple(_canonical(item) if isinstance(item, _List) else item for item in items)


# -- Packagist (Composer: VersionParser::normalize, then PHP's version_compare) -------------------------
# (possessive repetitions, as Composer's own: "1.0-beta" and 30 digits made the plain ones backtrack for hours)
_MODIFIER = r"[._-]?(?:(stable|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?\d+)*+))?([.-]?dev)?"
_CLASSIC = re.compile(r"v?(\d{1,5})(\.\d++)?(\.\d++)?(\.\d++)?" + _MODIFIER, re.IGNORECASE | re.ASCII)
_DATED = re.compile(r"v?(\d{4}(?:[.:-]?\d{2}){1,6}(?:[.:-]?\d{1,3})?)" + _MODIFIER, re.IGNORECASE | re.ASCII)
_BRANCH = re.compile(r"v?(\d++)(\.(?:\d++|[xX*]))?(\.(?:\d++|[xX*]))?(\.(?:\d++|[xX*]))?", re.I | re.ASCII)
_STABILITY = {"a": "alpha", "b": "beta", "p": "patch", "pl": "patch", "rc": "RC"}
# PHP's special forms, in order; a number is "#"; a word none of them starts is below them all
_FORMS = (
    ("dev", 0), ("alpha", 1), ("a", 1), ("beta", 2), ("b", 2), ("RC", 3), ("rc", 3), ("#", 4), ("pl", 5), ("p", 5)
)  # fmt: skip


def composer_normalize(text: str) -> str:
    """Composer's normalized form of a version (``v2.4.3-p1`` -> ``2.4.3.0-patch1``), as
    composer/semver's VersionParser::normalize makes it; ``dev-<branch>`` for a branch."""
    version = text.strip(" \t\n\r\0\x0b")  # (PHP's trim)
    version = re.sub(r"^([^,\s]+) +as +[^,\s]+$", r"\1", version, flags=re.ASCII)
    version = re.sub(r"@(?:stable|RC|beta|alpha|dev)$", "", version, flags=re.I)
    if version in ("master", "trunk", "default"):
        version = "dev-" + version
    if version[:4].lower() == "dev-":
        return "dev-" + version[4:]
    version = re.sub(r"^([^,\s+]+)\+\S+$", r"\1", version, flags=re.ASCII)  # build metadata
    if match := _CLASSIC.fullmatch(version):
        normalized, index = match[1] + "".join(part or ".0" for part in match.groups()[1:4]), 5
    elif match := _DATED.fullmatch(version):
        normalized, index = re.sub(r"\D", ".", match[1], flags=re.ASCII), 2
    else:
        branch = re.fullmatch(r"(.*?)[.-]?dev", version, re.IGNORECASE | re.DOTALL)
        numbered = _BRANCH.fullmatch(branch[1].strip()) if branch else None
        if numbered:
            parts = [(numbered[i] or ".x").replace("*", "x").replace("X", "x") for i in range(1, 5)]
            return "".join(parts).replace("x", "9999999") + "-dev"
        raise InvalidVersionError(f"not a Composer version: {text[:50]!r}")
    stability, number, dev = match[index], match[index + 1], match[index + 2]
    if stability:
        if stability == "stable":
            return normalized
        normalized += "-" + _STABILITY.get(stability.lower(), stability.lower()) + (number or "").lstrip(".-")
    return normalized + ("-dev" if dev else "")


def _php_parts(version: str) -> list[str]:
    """PHP's canonical version, split: [-_+] are dots, and so is each change between digit and not."""
    out: list[str] = []
    previous = ""
    for character in version:
        if character in "-_+" or not character.isalnum() or not character.isascii():
            out.append(".")
        else:
            if previous and previous != "." and _php_number(previous) != _php_number(character):
                out.append(".")
            out.append(character)
        previous = out[-1]
    return [part for part in "".join(out).split(".") if part]


def _php_form(part: str) -> int:
    return next((order for name, order in _FORMS if part.startswith(name)), -1)


PHP_INT_MAX = 2**63 - 1  # strtol's ceiling: longer numbers compare as this


def _php_number(part: str) -> bool:
    return part.isascii() and part.isdigit()


def _php_compare_parts(a: str, b: str) -> int:
    if _php_number(a) and _php_number(b):
        x, y = min(int(a), PHP_INT_MAX), min(int(b), PHP_INT_MAX)
    else:
        x, y = _php_form("#" if _php_number(a) else a), _php_form("#" if _php_number(b) else b)
    return (x > y) - (x < y)


def php_version_compare(a: str, b: str) -> int:
    """PHP's version_compare (ext/standard/versioning.c), which Composer's constraints use."""
    left, right = _php_parts(a), _php_parts(b)
    for x, y in zip(left, right, strict=False):
        if result := _php_compare_parts(x, y):
            return result
    if len(left) > len(right):  # the longer one's next part against "#": a number wins, "patch" too
        rest = left[len(right)]
        return 1 if _php_number(rest) else _php_compare_parts(rest, "#")
    if len(right) > len(left):
        rest = right[len(left)]
        return -1 if _php_number(rest) else _php_compare_parts("#", rest)
    return 0


@functools.total_ordering
class ComposerVersion:
    """A Packagist version in Composer's order: patch releases after the release (``2.4.3-p1`` >
    ``2.4.3``), ``dev < alpha < beta < RC < stable``, pre-release numbers as numbers. A branch
    (``dev-main``) has no place in it: Composer never matches one against a range."""

    def __init__(self, text: str) -> None:
        if len(text) > 256:
            raise InvalidVersionError(f"not a Composer version: {text[:50]!r}")
        self.text = composer_normalize(text)
        if self.text.startswith("dev-"):
            raise InvalidVersionError(f"a branch, not in Composer's version order: {text[:50]!r}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ComposerVersion) and php_version_compare(self.text, other.text) == 0

    def __lt__(self, other: ComposerVersion) -> bool:
        return php_version_compare(self.text, other.text) < 0

    def __hash__(self) -> int:  # (equal versions hash alike: parts by their number or special form)
        parts = _php_parts(self.text)
        return hash(tuple(min(int(p), PHP_INT_MAX) if _php_number(p) else _php_form(p) for p in parts))


# -- the others: thin wrappers that reject what their library cannot order ------------------------
def _debian(text: str) -> Any:
    try:
        return DebianVersion(text)
    except ValueError as exc:
        raise InvalidVersionError(str(exc)) from None


@functools.total_ordering
class PythonVersion:
    """PEP 440, and below every PEP 440 version the legacy forms old PyPI releases carry."""

    def __init__(self, text: str) -> None:
        try:
            self.key: tuple[int, Any] = (1, Pep440Version(text))
        except InvalidVersion:
            self.key = (0, LegacyVersion(text))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PythonVersion) and self.key == other.key

    def __lt__(self, other: PythonVersion) -> bool:
        return self.key < other.key

    def __hash__(self) -> int:
        return hash(self.key)


def _univers(kind: type) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return kind(text)
        except Exception as exc:  # univers raises several types for strings it cannot read
            raise InvalidVersionError(f"not a {kind.__name__}: {text!r} ({exc})") from None

    return parse


def _semver(text: str) -> Any:
    # SemVer ignores build metadata (+incompatible, +build.5) in precedence; univers would keep it and
    # leave 1.0.0+a and 1.0.0+b unordered, so it is dropped before parsing.
    return _univers(univers.SemverVersion)(text.removeprefix("go").split("+", 1)[0])


def _rpm(text: str) -> Any:
    if not re.fullmatch(r"(\d+:)?[\w.+~^-]+", text):
        raise InvalidVersionError(f"not an rpm version: {text!r}")
    return univers.RpmVersion(text)


_RPM_FAMILY = ("Red Hat", "AlmaLinux", "Rocky Linux", "SUSE", "openSUSE", "openEuler", "Mageia", "Azure Linux")
_APK_FAMILY = ("Alpine", "Wolfi", "Chainguard", "Alpaquita", "BellSoft Hardened Containers", "MinimOS")
_PARSERS: dict[str, Callable[[str], Any]] = {
    "Debian": _debian,
    "Ubuntu": _debian,
    **{name: _rpm for name in _RPM_FAMILY},
    "CBL-Mariner": _rpm,
    "Mariner": _rpm,
    **{name: ApkVersion for name in _APK_FAMILY},
    "PyPI": PythonVersion,
    "npm": _semver,
    "Go": _semver,
    "crates.io": _semver,
    "Hex": _semver,
    "Bitnami": _semver,
    "Maven": MavenVersion,
    "RubyGems": _univers(univers.RubygemsVersion),
    "NuGet": _univers(univers.NugetVersion),
    "Packagist": ComposerVersion,
}


def ecosystem_base(ecosystem: str) -> str:
    """``Debian:12`` -> ``Debian``; ``Ubuntu:22.04:LTS`` -> ``Ubuntu``."""
    return ecosystem.split(":", 1)[0]


def parser(ecosystem: str, range_type: str = "ECOSYSTEM") -> Callable[[str], Any] | None:
    """The function turning a version string of this ecosystem into an orderable value, or None when the
    ecosystem's order is unknown (then only exact ``versions`` lists can match)."""
    if range_type == "SEMVER":
        return _semver
    return _PARSERS.get(ecosystem_base(ecosystem))


def parse(ecosystem: str, text: str, range_type: str = "ECOSYSTEM") -> Any:
    """Raises InvalidVersionError for a version this ecosystem cannot order (or an unknown ecosystem)."""
    function = parser(ecosystem, range_type)
    if function is None:
        raise InvalidVersionError(f"no version order known for ecosystem {ecosystem!r}")
    return function(text)


def compare(ecosystem: str, a: str, b: str) -> int:
    """-1, 0 or 1, in the ecosystem's order."""
    x, y = parse(ecosystem, a), parse(ecosystem, b)
    return -1 if x < y else (1 if y < x else 0)
