"""Installed packages against OSV records, by the OSV evaluation rules, in each ecosystem's version order.

A package is looked up by the name its advisories use: Debian and Ubuntu by source package and source
version, Alpine by origin, an rpm by its name and its source rpm's (with the epoch where the distribution's
advisories write one), Go's toolchain as ``stdlib``. The ecosystem always carries the distribution release
(``Debian:12``), so another release never matches; some advisories are filed under a wider name that covers
the image too (``wider``: RHEL's repository streams, SUSE's modules, Ubuntu Pro's standard release).
Records that say the same thing (aliases, or a distribution advisory pointing upstream to a CVE) are
merged into one finding.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from packageurl import PackageURL

from ..http import BoundedCache
from ..models import Inventory, Package, Vulnerability
from . import severity
from .database import VulnDatabase, package_key
from .versions import InvalidVersionError, ecosystem_base, parser

log = logging.getLogger("tcs_registry")


# rpm distributions whose advisories write the epoch (0:1.2-3.el9); the others' leave it out, and an epoch
# before the installed version would put it above every fix (as osv-scanner's imodels.go says)
_EPOCHS = ("Red Hat", "AlmaLinux", "Rocky Linux")
_EPOCH = re.compile(r"^\d+:")


def queries(package: Package) -> list[tuple[str, str]]:
    """(name, version) as the package's advisories may write them: Debian's and Alpine's by source package;
    an rpm by its name, and by its source rpm's where they share a version (Red Hat names either;
    AlmaLinux, Rocky, SUSE, openSUSE, Azure Linux, openEuler and Mageia the source, as the OSV schema says;
    a subpackage of its own version, npm from nodejs or perl-Errno from perl, is not its source's)."""
    if package.type in ("deb", "apk") and package.source_name:
        return [(package.source_name, package.source_version or package.version)]
    if package.type == "rpm":
        written = _EPOCH.match(package.version)  # (the analysis writes E:V-R)
        version = package.version[written.end() :] if written else package.version
        epoch = package.epoch if package.epoch is not None else (int(written.group()[:-1]) if written else None)
        names = [package.name]
        if package.source_name and _EPOCH.sub("", package.source_version) == version:
            names.append(package.source_name)
        if ecosystem_base(package.ecosystem) in _EPOCHS and epoch:
            version = f"{epoch}:{version}"
        return [(name, version) for name in dict.fromkeys(names)]
    if package.type == "golang" and package.name == "stdlib":
        return [("stdlib", package.version.removeprefix("go"))]
    return [(package.name, package.version)]


_RHEL_RELEASE = re.compile(r"Red Hat:enterprise_linux:(\d+)(?:\.\d+)?(?:$|::)")
_SUSE_RELEASE = re.compile(r"SUSE:Linux Enterprise .* (\d+(?: SP\d+|\.\d+)?)")


def wider(ecosystem: str) -> Callable[[str], bool] | None:
    """Whether an advisory's ecosystem, other than the package's own, covers the package too; None when only
    its own does. Red Hat files a release's packages under each repository's stream (baseos, appstream, crb:
    an image's rpm database does not say which repository a package came from; RHEL 10 names the minor
    release too); SUSE a product's under its service pack's modules (Module for Basesystem 15 SP5 on Server
    15 SP5); an Ubuntu Pro image (ESM on) has the standard release's advisories too; Packagist and Maven
    advisories of another repository (Packagist:https://packages.drupal.org/8) name its packages as the
    default repository does."""
    if ecosystem.startswith("Ubuntu:Pro:"):
        standard = ecosystem.replace(":Pro", "", 1)
        return lambda other: other == standard
    if release := _RHEL_RELEASE.match(ecosystem):
        return lambda other: (same := _RHEL_RELEASE.match(other)) is not None and same[1] == release[1]
    if release := _SUSE_RELEASE.fullmatch(ecosystem):
        suffix = " " + release.group(1)
        return lambda other: other.startswith("SUSE:Linux Enterprise Module for ") and other.endswith(suffix)
    if ecosystem in ("Packagist", "Maven"):
        return lambda other: other.startswith(ecosystem + ":")
    return None


def module_of(entry_package: dict[str, Any]) -> str | None:
    """The module stream (nodejs:20) an advisory's rpm is of, as its purl's ``rpmmod`` says (Red Hat's,
    Rocky's), or None for a package of no module."""
    purl = entry_package.get("purl")
    if not isinstance(purl, str) or "rpmmod=" not in purl:  # (most have none: not parsed)
        return None
    try:
        label = PackageURL.from_string(purl).qualifiers.get("rpmmod", "")
    except ValueError:
        return None
    return ":".join(str(label).split(":")[:2])


# at one version, events take effect in this order (osv.dev's): an introduced and a fixed of the same
# version leave it fixed, whichever the record lists first
_AT_ONE_VERSION = {"introduced": 0, "last_affected": 1, "fixed": 2, "limit": 3}


def _event_key(parse: Callable[[str], Any]) -> Callable[[tuple[str, str]], tuple[int, Any, int]]:
    def key(event: tuple[str, str]) -> tuple[int, Any, int]:
        kind, value = event
        if kind == "introduced" and value == "0":
            return (0, None, 0)
        return (1, parse(value), _AT_ONE_VERSION[kind])

    return key


_RELEASE = re.compile(r"\d+(?:\.\d+)*", re.ASCII)


def readable(
    events: list[tuple[str, str]], parse: Callable[[str], Any]
) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """(the events the order can read, {version read in place of one it cannot: that one}). An advisory's typo (Alpine's
    ``10.2.22.r0``, ``6.6.2p1-r0``) costs the range no version it may cover: an unreadable `introduced`
    is taken at its release numbers (``10.2.22``, at or below what it meant) or at 0, an unreadable `fixed`
    or `last_affected` as fixed at the next release (``10.2.23``, above what it meant) or not at all."""
    kept: list[tuple[str, str]] = []
    unreadable: dict[str, str] = {}
    for kind, value in events:
        if (kind == "introduced" and value == "0") or (kind == "limit" and value == "*") or _reads(parse, value):
            kept.append((kind, value))
            continue
        release = _RELEASE.match(value)
        instead = ""
        if kind == "introduced":
            instead = release.group() if release and _reads(parse, release.group()) else "0"
            kept.append((kind, instead))
        elif kind in ("fixed", "last_affected") and release:
            numbers = release.group().split(".")
            above = ".".join([*numbers[:-1], str(int(numbers[-1]) + 1)])
            if _reads(parse, above):
                instead = above
                kept.append(("fixed", instead))
        unreadable[instead or f"(left out) {value}"] = value
    return kept, unreadable


def _reads(parse: Callable[[str], Any], value: str) -> bool:
    try:
        parse(value)
    except InvalidVersionError:
        return False
    return True


def in_range(installed: Any, events: list[tuple[str, str]], parse: Callable[[str], Any]) -> tuple[bool, str]:
    """(affected?, the first `fixed` above the installed version) for one OSV range."""
    limits = [parse(v) for k, v in events if k == "limit" and v != "*"]
    if limits and not any(installed < limit for limit in limits):
        return False, ""
    ordered = sorted((e for e in events if e[0] != "limit"), key=_event_key(parse))
    affected = False  # each event the version has reached sets the state (OSV schema, "Evaluation")
    for kind, value in ordered:
        if kind == "introduced" and (value == "0" or installed >= parse(value)):
            affected = True
        elif (kind == "fixed" and installed >= parse(value)) or (kind == "last_affected" and installed > parse(value)):
            affected = False
    if not affected:
        return False, ""
    fixes = sorted((parse(v), v) for k, v in ordered if k == "fixed" and installed < parse(v))
    return True, fixes[0][1] if fixes else ""


def _events(range_: dict[str, Any]) -> list[tuple[str, str]]:
    events = []
    for event in range_.get("events") or ():
        if isinstance(event, dict):
            for kind in ("introduced", "fixed", "last_affected", "limit"):
                if isinstance(event.get(kind), str):
                    events.append((kind, event[kind]))
    return events


def affects(
    entry: dict[str, Any], ecosystem: str, version: str, unreadable: list[str] | None = None
) -> tuple[bool, str]:
    """(does this affected[] entry cover the version?, the fixed version to report). The versions of
    events the ecosystem's order cannot read are skipped, and added to ``unreadable``."""
    hit, fixed, ranged = False, "", False
    for range_ in entry.get("ranges") or ():
        kind = range_.get("type") if isinstance(range_, dict) else None
        parse = parser(ecosystem, kind) if kind in ("ECOSYSTEM", "SEMVER") else None
        if parse is None:
            continue  # GIT ranges name commits, not versions
        ranged = True
        events, instead = readable(_events(range_), parse)
        if unreadable is not None:
            unreadable += instead.values()
        try:
            matched, fix = in_range(parse(version), events, parse)
            fix = instead.get(fix, fix)  # (the advisory's own words for the fix)
        except (InvalidVersionError, TypeError) as exc:
            log.debug("Cannot place version %s in a %s range: %s", version, ecosystem, exc)
            continue
        if matched:
            hit, fixed = True, fixed or fix
    listed = entry.get("versions")
    if not hit and isinstance(listed, list):  # (an entry of versions only, a malicious package's: in order)
        hit = version in listed or (not ranged and _listed(version, listed, parser(ecosystem)))
    return hit, fixed


def _listed(version: str, listed: list[Any], parse: Callable[[str], Any] | None) -> bool:
    """Whether the version is one of ``listed`` in its ecosystem's order (PyPI's 1.0.0rc1 is 1.0.0-rc1)."""
    if parse is None:
        return False
    try:
        installed = parse(version)
    except InvalidVersionError:
        return False
    for value in listed:
        try:
            if isinstance(value, str) and parse(value) == installed:
                return True
        except InvalidVersionError:
            continue
    return False


@dataclass
class _Match:
    record: dict[str, Any]
    fixed: str
    severity: severity.Severity


class _Groups:
    """Union-find over advisory ids: records sharing an id, alias or upstream id are one finding."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, item: str) -> str:
        self.parent.setdefault(item, item)
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        for other in ids[1:]:
            self.parent[self.find(other)] = self.find(ids[0])


_CVE = re.compile(r"CVE-\d{4}-\d+")


def _strings(value: Any) -> list[str]:
    return [i for i in value if isinstance(i, str)] if isinstance(value, list) else []


def _ids(record: dict[str, Any]) -> list[str]:
    """Every id the record names: itself, its aliases, its upstream records."""
    return [record["id"], *_strings(record.get("aliases")), *_strings(record.get("upstream"))]


def _same(record: dict[str, Any]) -> list[str]:
    """The ids that are the same vulnerability as the record: its aliases, and its upstream records
    when they are about one CVE (a DLA pointing to CVE-X and DEBIAN-CVE-X); an advisory fixing
    several CVEs is not merged with each of them."""
    upstream = _strings(record.get("upstream"))
    cves = {m.group(0) for i in upstream if (m := _CVE.search(i))}
    return [record["id"], *_strings(record.get("aliases")), *(upstream if len(cves) <= 1 else ())]


def _primary(ids: set[str], matched: list[str]) -> str:
    cves = sorted(i for i in ids if i.startswith("CVE-"))
    return cves[0] if len(cves) == 1 else sorted(matched)[0]


def _highest_fix(fixes: list[str], parse: Callable[[str], Any] | None) -> str:
    fixes = [f for f in fixes if f]
    if not fixes or parse is None:
        return fixes[0] if fixes else ""
    try:
        return max(fixes, key=parse)
    except (InvalidVersionError, TypeError):
        return fixes[0]


class Matcher:
    """Matches inventories against an open VulnDatabase; safe to share between threads."""

    def __init__(self, database: VulnDatabase, show_unimportant: bool = False) -> None:
        self.database = database
        self.show_unimportant = show_unimportant
        # images of a registry share most packages: each (ecosystem, name, version) is matched once per run
        self._matched: BoundedCache[tuple[str, str, str], list[_Match]] = BoundedCache(20_000)
        self._warned: set[Any] = set()  # records whose unreadable versions were logged (once a record)

    def package(self, package: Package) -> list[_Match]:
        if not package.ecosystem or not package.version:  # (a Go main module built as "(devel)": unknown)
            return []
        if package.type == "composer" and "dev" in package.version.lower():  # a branch (1.1.x-dev, dev-main):
            return []  # no release's version order says what it holds
        found: dict[str, _Match] = {}  # (a record naming a binary rpm and its source: once)
        for name, version in queries(package):
            key = package_key(package.ecosystem, name)
            cached = self._matched.get((package.ecosystem, key, version, package.module))
            if cached is None:
                cached = self._match(package.ecosystem, name, key, version, package.module)
                self._matched.put((package.ecosystem, key, version, package.module), cached)
            for match in cached:
                found.setdefault(match.record["id"], match)
        return list(found.values())

    def _match(self, ecosystem: str, name: str, key: str, version: str, module: str = "") -> list[_Match]:
        matches = []
        also = wider(ecosystem)
        for record in self.database.candidates(ecosystem, name, also):
            entries = [
                entry
                for entry in record.get("affected") or ()
                if isinstance(entry, dict)
                and isinstance(found := entry.get("package"), dict)
                and isinstance(found.get("ecosystem"), str)
                and package_key(ecosystem, str(found.get("name", ""))) == key
                and (found["ecosystem"] == ecosystem or (also is not None and also(found["ecosystem"])))
                and module_of(found) in (None, module)  # (another module stream's build: not this one)
            ]
            own = [entry for entry in entries if entry["package"]["ecosystem"] == ecosystem]
            for entry in own or entries:  # (the record's word for the image's own ecosystem, if it has one)
                try:
                    unreadable: list[str] = []
                    hit, fixed = affects(entry, ecosystem, version, unreadable)
                    if unreadable and record.get("id") not in self._warned:
                        self._warned.add(record.get("id"))
                        log.warning(
                            "OSV record %s names versions the %s order cannot read, skipped: %s",
                            record.get("id"), ecosystem_base(ecosystem), ", ".join(map(repr, unreadable[:5])),
                        )  # fmt: skip
                    if not hit:
                        continue
                    if severity.unimportant(record, entry) and not self.show_unimportant:
                        log.debug("Hidden as unimportant by the distribution: %s in %s", record["id"], name)
                        break
                    rating = severity.of_record(record, entry, self.database.get)
                except (TypeError, ValueError, AttributeError) as exc:  # a malformed record: skip it, not the image
                    log.warning("Skipped a malformed OSV record %s: %s", record.get("id"), exc)
                    break
                matches.append(_Match(record, fixed, rating))
                break  # one affected entry per record is enough
        return matches

    def _unmatchable(self, inventory: Inventory) -> None:
        """Says once a run which packages no advisory can be found for, as a run's zero would hide it: a
        distribution OSV has no advisories for (Amazon Linux, Fedora, CentOS), an ecosystem the database holds
        none of (`db update` was given others)."""
        for package in inventory.packages:
            if not package.ecosystem and package.type in ("deb", "apk", "rpm"):
                what = f"{inventory.os_id} {inventory.os_version}".strip() or "an unknown distribution"
                if ("os", what) not in self._warned:
                    self._warned.add(("os", what))
                    log.warning(
                        "The %s packages of %s are listed, not matched: no OSV ecosystem is known for it",
                        package.type,
                        what,
                    )
            elif package.ecosystem and ("base", base := ecosystem_base(package.ecosystem)) not in self._warned:
                self._warned.add(("base", base))
                if not self.database.holds(base):
                    log.warning(
                        "The vulnerability database has no %s advisories: %s packages are listed, not matched "
                        "(`tcs-registry db update --ecosystem=%s`)", base, base, base,
                    )  # fmt: skip

    def inventory(self, inventory: Inventory) -> list[Vulnerability]:
        platform = str(inventory.platform or "")
        findings = []
        self._unmatchable(inventory)
        for package in inventory.packages:
            matches = self.package(package)
            if not matches:
                continue
            groups = _Groups()
            for match in matches:
                groups.union(_same(match.record))
            by_group: dict[str, list[_Match]] = {}
            for match in matches:
                by_group.setdefault(groups.find(match.record["id"]), []).append(match)
            for members in by_group.values():
                ids = {i for m in members for i in _ids(m.record)}
                primary = _primary(ids, [m.record["id"] for m in members])
                rating = severity.highest(m.severity for m in members)
                title = next((m.record.get("summary") for m in members if m.record.get("summary")), "")
                findings.append(
                    Vulnerability(
                        id=primary,
                        aliases=tuple(sorted(ids - {primary})),
                        package=package.name,
                        package_type=package.type,
                        purl=package.purl,
                        installed_version=package.version,
                        fixed_version=_highest_fix([m.fixed for m in members], parser(package.ecosystem)),
                        severity=rating.level,
                        severity_source=rating.source,
                        score=rating.score,
                        vector=rating.vector,
                        layer=package.layer,
                        location=package.location,
                        title=str(title or ""),
                        platform=platform,
                    )
                )
        findings.sort(key=lambda f: (-severity.rank(f.severity), f.package, f.id))
        return findings
