"""Packages against the real OSV records of tests/fixtures/osv: each expectation was written from reading
the advisory — versions at and around the fixed boundary, epochs, tildes, last_affected, version lists,
and the packages that must not match (another release, another ecosystem, a withdrawn record)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tcs_registry.models import Inventory, Package
from tcs_registry.vulns import severity
from tcs_registry.vulns.database import VulnDatabase
from tcs_registry.vulns.matching import Matcher, in_range
from tcs_registry.vulns.versions import parser

OSV = Path(__file__).parent / "fixtures" / "osv"


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    database = VulnDatabase(tmp_path_factory.mktemp("osv"))
    added, unchanged, problems = database.import_paths([OSV])
    assert (added, unchanged, problems) == (89, 0, [])
    yield database
    database.close()


def package(ecosystem: str, name: str, version: str, *, kind: str = "", source: str = "", epoch=None) -> Package:
    kind = kind or {"Debian": "deb", "Ubuntu": "deb", "Alpine": "apk"}.get(ecosystem.split(":")[0], "pypi")
    return Package(
        name=name,
        version=version,
        type=kind,
        ecosystem=ecosystem,
        purl=f"pkg:{kind}/{name}@{version}",
        location="somewhere",
        layer="sha256:" + "0" * 64,
        source_name=source,
        source_version=version if source else "",
        epoch=epoch,
    )


def found(database, *packages: Package, show_unimportant: bool = False) -> list[tuple[str, str, str, str]]:
    inventory = Inventory("r", "t", "sha256:1", None, "", "", "", "", (), packages)
    return [
        (f.id, f.package, f.fixed_version, f.severity) for f in Matcher(database, show_unimportant).inventory(inventory)
    ]


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1.1.0f-3", [("CVE-2022-1292", "libssl1.1", "1.1.0l-1~deb9u6", "UNKNOWN")]),
        ("1.1.0l-1~deb9u5", [("CVE-2022-1292", "libssl1.1", "1.1.0l-1~deb9u6", "UNKNOWN")]),
        ("1.1.0l-1~deb9u6~1", [("CVE-2022-1292", "libssl1.1", "1.1.0l-1~deb9u6", "UNKNOWN")]),  # a tilde sorts below
        ("1.1.0l-1~deb9u6", []),  # exactly the fix (DLA-3008-1)
        ("1.1.0l-1~deb9u6+b1", []),
        ("1:1.0", []),  # any epoch is above an epochless fix
    ],
)
def test_debian_by_source_package_around_the_fix(database, version, expected):
    assert found(database, package("Debian:9", "libssl1.1", version, source="openssl")) == expected


def test_debian_finding_merges_the_advisory_with_its_cve(database):
    inventory = Inventory(
        "r", "t", "d", None, "", "", "", "", (), (package("Debian:9", "libssl1.1", "1.1.0f-3", source="openssl"),)
    )
    (finding,) = Matcher(database).inventory(inventory)
    assert (finding.id, finding.aliases) == ("CVE-2022-1292", ("DEBIAN-CVE-2022-1292", "DLA-3008-1"))


def test_another_release_or_ecosystem_never_matches(database):
    assert found(database, package("Debian:10", "libssl1.1", "1.1.0f-3", source="openssl")) == []
    assert found(database, package("Debian", "libssl1.1", "1.1.0f-3", source="openssl")) == []
    assert found(database, package("Ubuntu:18.04:LTS", "openssl", "1.1.0f-3", source="openssl")) == []
    assert (
        found(database, package("Debian:9", "nginx", "1.2.1-2.2+wheezy2", source="nginx")) == []
    )  # DSA-3029-1: Debian 7
    assert found(database, package("PyPI", "json5", "2.2.1")) == []  # GHSA-9c47-m6qq-7p4h is npm
    assert found(database, package("npm", "json5", "2.2.1", kind="npm")) == [
        ("CVE-2022-46175", "json5", "2.2.2", "HIGH")
    ]


def test_an_advisory_without_a_cve_keeps_its_own_id(database):
    # DLA-3051-1 (tzdata, fixed 2021a-0+deb9u4) names no CVE
    assert found(database, package("Debian:9", "tzdata", "2021a-0+deb9u3", source="tzdata")) == [
        ("DLA-3051-1", "tzdata", "2021a-0+deb9u4", "UNKNOWN")
    ]


@pytest.mark.parametrize(
    ("ecosystem", "version", "fixed"),
    [
        ("Alpine:v3.18", "1.2.4-r2", "1.2.4-r3"),
        ("Alpine:v3.18", "1.2.4-r3", None),
        ("Alpine:v3.18", "1.2.4_git20230717-r4", None),  # a _git snapshot of 1.2.4 sorts above 1.2.4-r3
        ("Alpine:v3.17", "1.2.3-r5", "1.2.3-r6"),
        ("Alpine:v3.17", "0.9.12-r0", None),  # before the introduced 0.9.13
        ("Alpine:v3.15", "1.2.2-r0", None),  # ALPINE-CVE-2025-26519 lists v3.16 onwards
    ],
)
def test_alpine_by_origin(database, ecosystem, version, fixed):
    expected = [("CVE-2025-26519", "musl-utils", fixed, "HIGH")] if fixed else []
    assert found(database, package(ecosystem, "musl-utils", version, source="musl")) == expected


def test_ubuntu_advisories_merge_and_negligible_ones_are_hidden(database):
    wayland = package("Ubuntu:18.04:LTS", "libwayland-client0", "1.16.0-1ubuntu1.1~18.04.3", source="wayland")
    inventory = Inventory("r", "t", "d", None, "", "", "", "", (), (wayland,))
    (finding,) = Matcher(database).inventory(inventory)
    # UBUNTU-CVE-2021-3782 and USN-5614-1 (upstream: UBUNTU-CVE-2021-3782) are one finding; Ubuntu rates it medium
    assert (finding.id, finding.aliases) == ("CVE-2021-3782", ("UBUNTU-CVE-2021-3782", "USN-5614-1"))
    assert (finding.fixed_version, finding.severity, finding.severity_source) == (
        "1.16.0-1ubuntu1.1~18.04.4",
        "MEDIUM",
        "Ubuntu",
    )
    assert finding.score == 6.6
    fixed = package("Ubuntu:18.04:LTS", "libwayland-client0", "1.16.0-1ubuntu1.1~18.04.4", source="wayland")
    assert found(database, fixed) == []
    # UBUNTU-CVE-2014-9913: unzip in 16.04 until 6.0-20ubuntu1.1, priority negligible
    unzip = package("Ubuntu:16.04:LTS", "unzip", "6.0-20ubuntu1", source="unzip")
    assert found(database, unzip) == []
    assert found(database, unzip, show_unimportant=True) == [("CVE-2014-9913", "unzip", "6.0-20ubuntu1.1", "LOW")]


def test_ubuntu_pro_advisories_apply_where_esm_is_on(database):
    # UBUNTU-CVE-2022-24823: netty's fix in 22.04 is ESM's only (Ubuntu:Pro:22.04:LTS); an image with ESM on
    # (its ecosystem says Pro) has it, and the standard release's advisories too; a plain image neither
    pro = package("Ubuntu:Pro:22.04:LTS", "libnetty-java", "1:4.1.48-4", source="netty")
    assert [f[:3] for f in found(database, pro)] == [
        ("CVE-2022-24823", "libnetty-java", "1:4.1.48-4+deb11u2ubuntu0.1~esm1")
    ]
    assert found(database, package("Ubuntu:22.04:LTS", "libnetty-java", "1:4.1.48-4", source="netty")) == []
    wayland = package("Ubuntu:Pro:18.04:LTS", "libwayland-client0", "1.16.0-1ubuntu1.1~18.04.3", source="wayland")
    assert [f[0] for f in found(database, wayland)] == ["CVE-2021-3782"]  # (filed under Ubuntu:18.04:LTS)


def test_withdrawn_records_are_ignored(database):
    # UBUNTU-CVE-2020-36325 was withdrawn on 2025-06-23
    jansson = package("Ubuntu:Pro:14.04:LTS", "libjansson4", "2.5-2", source="jansson")
    assert database.get("UBUNTU-CVE-2020-36325")["withdrawn"] == "2025-06-23T15:53:49Z"
    assert found(database, jansson) == []


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("2.25.3", [("CVE-2026-34480", "org.apache.logging.log4j:log4j-core", "2.25.4", "MEDIUM")]),
        ("2.25.4", []),
        ("3.0.0-beta3", [("CVE-2026-34480", "org.apache.logging.log4j:log4j-core", "", "MEDIUM")]),  # last_affected
        ("3.0.0-rc1", []),  # past last_affected, and no fix named
        ("1.2.17", []),  # before 2.0-alpha1
    ],
)
def test_maven_fixed_and_last_affected(database, version, expected):
    log4j = package("Maven", "org.apache.logging.log4j:log4j-core", version, kind="maven")
    assert found(database, log4j) == expected


def test_python_names_are_normalised_and_version_lists_match_exactly(database):
    # MAL-2024-10238 lists exactly version 0.0.1 of 123bla
    assert found(database, package("PyPI", "123Bla", "0.0.1")) == [("MAL-2024-10238", "123Bla", "", "UNKNOWN")]
    assert found(database, package("PyPI", "123bla", "0.0.2")) == []
    # GHSA-h75v-3vvj-5mfj is filed under "Jinja2"
    ids = [f[0] for f in found(database, package("PyPI", "jinja2", "3.1.3"))]
    assert ids == [f[0] for f in found(database, package("PyPI", "Jinja2", "3.1.3"))] == ["CVE-2024-34064"]


def test_go_modules_and_the_toolchain(database):
    # GO-2022-0603: gopkg.in/yaml.v3 fixed in the pseudo-version 3.0.0-20220521103104-8f96da9f5d5e
    yaml = package("Go", "gopkg.in/yaml.v3", "v3.0.0-20220520000000-000000000000", kind="golang")
    assert found(database, yaml) == [
        ("CVE-2022-28948", "gopkg.in/yaml.v3", "3.0.0-20220521103104-8f96da9f5d5e", "UNKNOWN")
    ]
    assert found(database, package("Go", "gopkg.in/yaml.v3", "v3.0.1", kind="golang")) == []
    # the toolchain is `stdlib`, written go1.21.4 in build info: of the 15 stdlib records, those whose first
    # range (from 0) ends in a fix above 1.21.4; GO-2023-2102 (fixed 1.21.3) and older ones do not apply
    stdlib = found(database, package("Go", "stdlib", "go1.21.4", kind="golang"))
    assert [(f[0], f[2]) for f in stdlib] == [
        ("CVE-2023-39326", "1.21.5"),  # GO-2023-2382
        ("CVE-2023-45288", "1.21.9"),  # GO-2024-2687
        ("CVE-2023-45290", "1.21.8"),  # GO-2024-2599
        ("CVE-2024-24783", "1.21.8"),  # GO-2024-2598
        ("CVE-2024-24790", "1.21.11"),  # GO-2024-2887
        ("CVE-2024-24791", "1.21.12"),  # GO-2024-2963
        ("CVE-2024-45336", "1.22.11"),  # GO-2025-3420
        ("CVE-2024-45341", "1.22.11"),  # GO-2025-3373
        ("CVE-2025-0913", "1.23.10"),  # GO-2025-3750
    ]


@pytest.mark.parametrize(
    ("name", "version", "expected"),
    [
        ("regex", "1.5.4", [("CVE-2022-24713", "regex", "1.5.5", "HIGH")]),  # GHSA-m5pq-gvj9-9vr8: fixed 1.5.5
        ("regex", "1.5.5", []),
        ("regex", "1.13.1", []),  # (above 1.5.5 as numbers; below it as text)
        ("rsa", "0.9.6", [("CVE-2023-49092", "rsa", "", "MEDIUM")]),  # GHSA-c38w-74pg-36hr: last_affected 0.9.6
        ("rsa", "0.9.10", []),
        ("crossbeam-channel", "0.5.10", []),  # GHSA-pg9f-39pc-qf8g: from 0.5.11 to 0.5.15
        ("crossbeam-channel", "0.5.14", [("GHSA-pg9f-39pc-qf8g", "crossbeam-channel", "0.5.15", "MEDIUM")]),
        ("crossbeam-channel", "0.5.15", []),
    ],
)
def test_crates_in_semantic_version_order(database, name, version, expected):
    assert found(database, package("crates.io", name, version, kind="cargo")) == expected


@pytest.mark.parametrize(
    ("version", "fixed"),
    [
        ("2.4.4-p2", "2.4.4-p15"),  # GHSA-8mq8-c243-2335: before 2.4.4-p15 (p2 < p15: numbers, not text)
        ("2.4.4-p15", None),
        ("2.4.5", None),  # 2.4.5-p1 and after: a patch release comes after the release
        ("2.4.5-p13", "2.4.5-p14"),
        ("2.4.8", ""),  # listed in `versions`
    ],
)
def test_magento_patch_releases_in_composer_order(database, version, fixed):
    matches = found(database, package("Packagist", "magento/community-edition", version, kind="composer"))
    assert [f[2] for f in matches] == ([] if fixed is None else [fixed])


def test_range_events_limit_and_order():
    # the OSV schema's evaluation rules on a constructed range (no fixture record uses `limit`):
    # events in any order, `introduced: 0` first, `limit` bounding the range
    parse = parser("PyPI")
    events = [("fixed", "1.5"), ("introduced", "2.0"), ("introduced", "0"), ("limit", "3.0")]
    assert in_range(parse("1.4"), events, parse) == (True, "1.5")
    assert in_range(parse("1.5"), events, parse) == (False, "")
    assert in_range(parse("2.5"), events, parse) == (True, "")
    assert in_range(parse("3.0"), events, parse) == (False, "")
    # a fixed and an introduced at one version: fixed there, whichever the record lists first (osv.dev)
    for events in ([("introduced", "0"), ("fixed", "1.0"), ("introduced", "1.0"), ("fixed", "1.1")],
                   [("introduced", "0"), ("introduced", "1.0"), ("fixed", "1.0"), ("fixed", "1.1")]):  # fmt: skip
        assert in_range(parse("1.0"), events, parse) == (False, "")


def test_a_version_list_alone_is_read_in_the_ecosystem_s_order(database):
    # MAL-2024-10238 lists only "0.0.1" of 123bla: PEP 440 reads 0.0.1.0 and 0.0.1 as one version
    assert [f[0] for f in found(database, package("PyPI", "123bla", "0.0.1.0"))] == ["MAL-2024-10238"]
    assert found(database, package("PyPI", "123bla", "0.0.1.1")) == []


def test_import_keeps_the_newest_copy_and_reports_bad_files(tmp_path):
    record = json.loads((OSV / "GHSA-jjg7-2v4v-x38h.json").read_text())
    newer = dict(record, modified="2099-01-01T00:00:00Z", summary="newer")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "new.json").write_text(json.dumps(newer))
    (tmp_path / "a" / "old.json").write_text(json.dumps(record))
    (tmp_path / "a" / "broken.json").write_text("{not json")
    (tmp_path / "a" / "list.json").write_text("[]")
    database = VulnDatabase(tmp_path / "db")
    added, unchanged, problems = database.import_paths([tmp_path / "a"])
    assert (added, unchanged) == (1, 1)
    assert [p.split(": ", 1)[1] for p in problems] == [
        "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        "not a JSON object",
    ]
    assert database.get("GHSA-jjg7-2v4v-x38h")["summary"] == "newer"
    database.close()


def test_an_advisory_without_severity_takes_its_upstream_records(database):
    # USN-5614-1 rates nothing itself; its upstream UBUNTU-CVE-2021-3782 says Ubuntu priority medium
    usn = database.get("USN-5614-1")
    entry = next(a for a in usn["affected"] if a["package"]["ecosystem"] == "Ubuntu:18.04:LTS")
    assert severity.of_record(usn, entry) == severity.Severity()
    assert severity.of_record(usn, entry, database.get) == severity.Severity(
        "MEDIUM", "Ubuntu", 6.6, "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:L/I:L/A:H"
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=12,
)
events = st.lists(
    st.dictionaries(
        st.sampled_from(["introduced", "fixed", "last_affected", "limit"]),
        st.sampled_from(["0", "1.0", "2.0-r1", "*", "", "v1", "1:2", "~", "abc"]) | json_values,
        max_size=2,
    ),
    max_size=4,
)
affected_entries = st.fixed_dictionaries(
    {
        "package": st.fixed_dictionaries(
            {"ecosystem": st.sampled_from(["PyPI", "Alpine:v3.18", "Debian:12", "npm"]), "name": st.just("p")}
        )
    },
    optional={
        "ranges": st.lists(
            st.fixed_dictionaries({"type": st.sampled_from(["ECOSYSTEM", "SEMVER", "GIT", "X"]), "events": events})
            | json_values,
            max_size=2,
        ),
        "versions": json_values,
        "severity": json_values,
        "ecosystem_specific": json_values,
    },
)


@settings(
    max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    entries=st.lists(affected_entries, max_size=3),
    top=st.dictionaries(
        st.sampled_from(["aliases", "upstream", "severity", "database_specific", "summary"]), json_values
    ),
    version=st.sampled_from(["1.0", "1.5-r0", "0", "", "1:1.0-1", "v2.0.0", "weird version"]),
)
def test_malformed_records_never_crash_matching(tmp_path_factory, entries, top, version):
    database = VulnDatabase(tmp_path_factory.mktemp("fuzz"))
    record = {"id": "FUZZ-1", "modified": "2024-01-01T00:00:00Z", "affected": entries, **top}
    try:
        database.add(record)
    except ValueError:
        return  # refused whole, with a reason
    for ecosystem in ("PyPI", "Alpine:v3.18", "Debian:12", "npm"):
        found(database, package(ecosystem, "p", version, kind="pypi"))
    database.close()


def constructed(tmp_path, record: dict) -> VulnDatabase:
    """A database of one record written for a rule no fixture record exercises."""
    database = VulnDatabase(tmp_path)
    with database.db:
        database.add({"modified": "2024-01-01T00:00:00Z", **record})
    return database


def test_rpm_epochs_as_the_analysis_writes_them(tmp_path):
    # the analysis writes an rpm version with its epoch (E:V-R), as RHEL-family advisories do
    database = constructed(
        tmp_path,
        {
            "id": "RLSA-TEST-1",
            "affected": [
                {
                    "package": {"ecosystem": "Rocky Linux:9", "name": "hello"},
                    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1:0.0.2-1"}]}],
                }
            ],
        },
    )
    hello = package("Rocky Linux:9", "hello", "1:0.0.1-rls", kind="rpm", epoch=1)
    assert found(database, hello) == [("RLSA-TEST-1", "hello", "1:0.0.2-1", "UNKNOWN")]
    assert found(database, package("Rocky Linux:9", "hello", "2:0.0.1-rls", kind="rpm", epoch=2)) == []
    database.close()


def test_an_advisory_fixing_several_cves_is_not_merged_with_one_of_them(tmp_path):
    database = constructed(
        tmp_path,
        {
            "id": "DSA-TEST-1",
            "upstream": ["CVE-2023-0001", "CVE-2023-0002", "DEBIAN-CVE-2023-0001"],
            "affected": [
                {
                    "package": {"ecosystem": "Debian:12", "name": "lib"},
                    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0-1"}]}],
                }
            ],
        },
    )
    with database.db:
        database.add(
            {
                "id": "DEBIAN-CVE-2023-0001",
                "modified": "2024-01-01T00:00:00Z",
                "upstream": ["CVE-2023-0001"],
                "affected": [
                    {
                        "package": {"ecosystem": "Debian:12", "name": "lib"},
                        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0-1"}]}],
                        "ecosystem_specific": {"urgency": "high"},
                    }
                ],
            }
        )
    lib = package("Debian:12", "lib1", "1.0-1", source="lib")
    inventory = Inventory("r", "t", "d", None, "", "", "", "", (), (lib,))
    findings = sorted((f.id, f.aliases, f.severity) for f in Matcher(database).inventory(inventory))
    assert findings == [
        ("CVE-2023-0001", ("DEBIAN-CVE-2023-0001",), "HIGH"),
        ("DSA-TEST-1", ("CVE-2023-0001", "CVE-2023-0002", "DEBIAN-CVE-2023-0001"), "HIGH"),
    ]
    database.close()


def test_malformed_records_are_refused_with_a_reason(tmp_path):
    database = VulnDatabase(tmp_path)
    for record, reason in [
        ({"id": "X-1", "modified": "2024", "aliases": 5}, "X-1: 'aliases' is not a list"),
        ({"id": "X-2", "modified": "2024", "severity": [5]}, "X-2: a 'severity' entry is not an object"),
        (
            {"id": "X-3", "modified": "2024", "affected": [{"versions": "1.0"}]},
            "X-3: affected 'versions' is not a list",
        ),
        ({"id": 3, "modified": "2024"}, "not an OSV record: it needs string 'id' and 'modified' fields"),
    ]:
        with pytest.raises(ValueError, match=re.escape(reason)):
            database.add(record)
    database.close()


def test_a_range_event_its_order_cannot_read_costs_that_event_not_the_range(tmp_path, caplog, tcs, state_dir):
    # Alpine's secdb has typos (`10.2.22.r0` for 10.2.22-r0); osv.dev carries them into the ranges as written.
    # A record shaped as osv.dev writes Alpine's, with one such event: the range is evaluated without it
    record = {
        "id": "ALPINE-CVE-2019-0001", "modified": "2024-01-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "Alpine:v3.9", "name": "mariadb"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "10.2.22.r0"}]},
                                 {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "10.3.13-r0"}]}]}],
    }  # fmt: skip
    path = tmp_path / "ALPINE-CVE-2019-0001.json"
    path.write_text(json.dumps(record))
    database = VulnDatabase(tmp_path / "db")
    database.import_paths([path])
    with caplog.at_level("WARNING", logger="tcs_registry"):
        matcher = Matcher(database)
        for version in ("10.3.12-r0", "10.3.12-r1"):
            inventory = Inventory(
                "r", "t", "sha256:1", None, "", "", "", "", (), (package("Alpine:v3.9", "mariadb", version),)
            )
            assert [(f.id, f.fixed_version) for f in matcher.inventory(inventory)] == [
                ("ALPINE-CVE-2019-0001", "10.3.13-r0")
            ]
        inventory = Inventory(
            "r", "t", "sha256:1", None, "", "", "", "", (), (package("Alpine:v3.9", "mariadb", "10.3.13-r0"),)
        )
        assert matcher.inventory(inventory) == []
        # below the typo's release: affected, its fix named as the advisory writes it; at that release (the
        # typo hides which build it meant): affected all the same, never hidden
        for version in ("10.2.20-r0", "10.2.22-r0", "10.2.22-r3"):
            mariadb = package("Alpine:v3.9", "mariadb", version)
            inventory = Inventory("r", "t", "sha256:1", None, "", "", "", "", (), (mariadb,))
            assert [f.fixed_version for f in matcher.inventory(inventory)] == ["10.2.22.r0"]
    warnings = [r.getMessage() for r in caplog.records if "cannot read" in r.getMessage()]
    assert warnings == [
        "OSV record ALPINE-CVE-2019-0001 names versions the Alpine order cannot read, skipped: '10.2.22.r0'"
    ]
    assert database.counts() == (1, 0, 1)
    database.close()
    assert tcs("db", "import", str(path), f"--state-dir={state_dir}").code == 0
    status = tcs("db", "status", f"--state-dir={state_dir}")
    assert status.out.splitlines()[-1] == (
        "1 record names versions its ecosystem's order cannot read (a typo such as Alpine's 10.2.22.r0):"
        " those range events are skipped, the rest matched"
    )


def test_a_drupal_module_is_matched_by_drupal_s_own_repository_s_advisory(database):
    # DRUPAL-CONTRIB-2025-083 is filed under "Packagist:https://packages.drupal.org/8" (the OSV schema's
    # repository suffix): a Composer install of the module reads as Packagist
    drupal = package("Packagist", "drupal/simple_sitemap", "4.2.1", kind="composer")
    assert [f[:3] for f in found(database, drupal)] == [("CVE-2025-6676", "drupal/simple_sitemap", "4.2.2")]
    assert found(database, package("Packagist", "drupal/simple_sitemap", "4.2.2", kind="composer")) == []


def rpm_record(vuln_id: str, ecosystem: str, name: str, fixed: str, *more: tuple[str, str], purl: str = "") -> dict:
    """An advisory shaped as the distribution's OSV records are (the ids are real ones: osv.dev's own tests);
    ``more``: (ecosystem, fixed) entries for the same package under other names."""
    entries = [(ecosystem, fixed), *more]
    return {
        "id": vuln_id,
        "modified": "2025-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": name, **({"purl": purl} if purl else {})},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, *([{"fixed": fixed}] if fixed else [])]}
                ],
            }
            for ecosystem, fixed in entries
        ],
    }


SLE, RHEL9 = "SUSE:Linux Enterprise", "Red Hat:enterprise_linux:9"


@pytest.fixture(scope="module")
def rpm_database(tmp_path_factory):
    records = [
        # Red Hat files nodejs under the AppStream stream; a UBI image's CPE names BaseOS
        rpm_record("RHSA-2024:0001", "Red Hat:enterprise_linux:9::appstream", "nodejs", "1:18.19.0-1.el9_3"),
        rpm_record("RHSA-2024:0002", "Red Hat:enterprise_linux:8::appstream", "nodejs", "1:18.19.0-1.module+el8"),
        # SUSE files base packages under the product's modules; LTSS is a paid extension's
        rpm_record("SUSE-SU-2025:0001-1", f"{SLE} Module for Basesystem 15 SP5", "openssl-3", "3.0.8-150500.5.8.1"),
        rpm_record("SUSE-SU-2025:0002-1", f"{SLE} Server LTSS 15 SP5", "openssl-3", "3.0.8-150500.5.9.1"),
        rpm_record("SUSE-SU-2025:0003-1", f"{SLE} Module for Basesystem 15 SP6", "openssl-3", "3.1.4-150600.5.1"),
        rpm_record("SUSE-SU-2025:0004-1", f"{SLE} High Performance Computing 15 SP5", "openssl-3", "3.0.8-150500.9"),
        # Azure Linux names source rpms, without epochs
        rpm_record("AZL-10003", "Azure Linux:2", "kernel", "5.15.55.1-1"),
        rpm_record("OESA-2025-2072", "openEuler:24.03-LTS", "openssl", "3.0.12-10.oe2403"),
        # a source's fix says nothing of its subpackages of their own versions (npm 8.19.4 from nodejs 16)
        rpm_record("RLSA-2024:4559", "Rocky Linux:9", "nodejs", "1:16.20.2-8.el9_4"),
        # a module stream's build (Red Hat's purl: rpmmod=name:stream:version:context)
        rpm_record("RHSA-2024:5814", f"{RHEL9}::appstream", "nodejs-docs", "1:20.16.0-1.module+el9.4.0",
                   purl="pkg:rpm/redhat/nodejs-docs@20.16.0?arch=noarch&epoch=1&rpmmod=nodejs:20:9040020240807145403:rhel9"),
        # RHEL 10's streams name the minor release
        rpm_record("RHSA-2025:0001", "Red Hat:enterprise_linux:10.0", "glibc", "2.39-37.el10"),
        # an advisory saying the image's own release is unfixed and Pro's fixed: an ESM image at the fix is fixed
        rpm_record("UBUNTU-CVE-2024-0001", "Ubuntu:22.04:LTS", "zlib", "", ("Ubuntu:Pro:22.04:LTS", "1:1.2.11+esm1")),
    ]  # fmt: skip
    directory = tmp_path_factory.mktemp("rpm-osv")
    for record in records:
        (directory / f"{record['id'].replace(':', '_')}.json").write_text(json.dumps(record))
    database = VulnDatabase(tmp_path_factory.mktemp("rpm-db"))
    assert database.import_paths([directory])[0] == len(records)
    yield database
    database.close()


def rpm(
    ecosystem: str, name: str, version: str, source: str = "", epoch=None, of: str = "", module: str = ""
) -> Package:
    """An rpm; ``of``: its source rpm's version when it is not its own."""
    made = package(ecosystem, name, version, kind="rpm", source=source, epoch=epoch)
    return replace(made, source_version=of or made.source_version, module=module)


def test_a_rhel_image_is_matched_against_every_stream_of_its_release(rpm_database):
    ubi9 = "Red Hat:enterprise_linux:9::baseos"  # (what a UBI 9 image's CPE_NAME says)
    assert found(rpm_database, rpm(ubi9, "nodejs", "1:18.18.2-1.el9", source="nodejs", epoch=1)) == [
        ("RHSA-2024:0001", "nodejs", "1:18.19.0-1.el9_3", "UNKNOWN")
    ]
    assert found(rpm_database, rpm("Red Hat:enterprise_linux:9", "nodejs", "1:18.18.2-1.el9", epoch=1))[0][0] == (
        "RHSA-2024:0001"
    )  # (no CPE: the release alone)
    assert found(rpm_database, rpm(ubi9, "nodejs", "1:18.19.0-1.el9_3", epoch=1)) == []
    assert found(rpm_database, rpm("Red Hat:enterprise_linux:10::baseos", "nodejs", "1:18.18.2-1.el10", epoch=1)) == []


def test_a_sles_image_is_matched_against_its_service_pack_s_modules_not_ltss(rpm_database):
    # libopenssl3 is built from the source rpm openssl-3, which SUSE's records name
    sles = rpm("SUSE:Linux Enterprise Server 15 SP5", "libopenssl3", "3.0.8-150500.5.6.1", source="openssl-3")
    assert found(rpm_database, sles) == [("SUSE-SU-2025:0001-1", "libopenssl3", "3.0.8-150500.5.8.1", "UNKNOWN")]
    assert found(rpm_database, rpm("SUSE:Linux Enterprise Server 15 SP5", "libopenssl3", "3.0.8-150500.5.6.1")) == []


def test_azure_linux_and_openeuler_by_source_rpm_and_without_the_epoch(rpm_database):
    kernel = rpm("Azure Linux:2", "kernel-headers", "5.15.50.1-1.cm2", source="kernel")
    assert [f[:3] for f in found(rpm_database, kernel)] == [("AZL-10003", "kernel-headers", "5.15.55.1-1")]
    # an epoch on the installed package, none in the advisory's versions: compared without it
    openssl = rpm("openEuler:24.03-LTS", "openssl-libs", "1:3.0.12-9.oe2403", source="openssl", epoch=1)
    assert [f[:3] for f in found(rpm_database, openssl)] == [("OESA-2025-2072", "openssl-libs", "3.0.12-10.oe2403")]


def test_packages_no_advisory_can_be_found_for_are_said_once(database, caplog):
    """A zero for them would read as "no vulnerabilities": a distribution OSV has no advisories for, an
    ecosystem the database holds none of (one warning a run each)."""
    amazon = rpm("", "openssl-libs", "1:3.0.8-1.amzn2023.0.11", source="openssl")
    wolfi = package("Wolfi", "glibc", "2.39-r1", kind="apk")
    inventory = Inventory("r", "t", "d", None, "Amazon Linux 2023", "amzn", "2023", "", (), (amazon, amazon, wolfi))
    matcher = Matcher(database)
    with caplog.at_level("WARNING", logger="tcs_registry"):
        assert matcher.inventory(inventory) == matcher.inventory(inventory) == []
    assert [r.getMessage() for r in caplog.records] == [
        "The rpm packages of amzn 2023 are listed, not matched: no OSV ecosystem is known for it",
        "The vulnerability database has no Wolfi advisories: Wolfi packages are listed, not matched "
        "(`tcs-registry db update --ecosystem=Wolfi`)",
    ]


def test_a_subpackage_of_its_own_version_is_not_its_source_s(rpm_database):
    # npm 1:8.19.4 is built from nodejs 1:16.20.2: compared with the nodejs fix, it was always "vulnerable"
    npm = rpm("Rocky Linux:9", "npm", "1:8.19.4-1.16.20.2.8.el9_4", source="nodejs", epoch=1, of="1:16.20.2-8.el9_4")
    assert found(rpm_database, npm) == []
    node = rpm("Rocky Linux:9", "nodejs-libs", "1:16.20.2-7.el9_4", source="nodejs", epoch=1)
    assert [f[:3] for f in found(rpm_database, node)] == [("RLSA-2024:4559", "nodejs-libs", "1:16.20.2-8.el9_4")]


def test_a_module_stream_s_advisory_is_for_that_stream_s_builds(rpm_database):
    ubi9 = "Red Hat:enterprise_linux:9::baseos"
    docs18 = rpm(ubi9, "nodejs-docs", "1:18.20.4-1.module+el9.4.0", epoch=1, module="nodejs:18")
    assert found(rpm_database, docs18) == []  # (nodejs:20's fix is not nodejs:18's)
    docs20 = rpm(ubi9, "nodejs-docs", "1:20.12.0-1.module+el9.4.0", epoch=1, module="nodejs:20")
    assert [f[0] for f in found(rpm_database, docs20)] == ["RHSA-2024:5814"]


def test_rhel_10_s_minor_releases_and_ubuntu_pro_s_own_word(rpm_database):
    glibc = rpm("Red Hat:enterprise_linux:10.1", "glibc", "2.39-30.el10")
    assert [f[:3] for f in found(rpm_database, glibc)] == [("RHSA-2025:0001", "glibc", "2.39-37.el10")]
    pro = package("Ubuntu:Pro:22.04:LTS", "zlib1g", "1:1.2.11+esm1", source="zlib")
    assert found(rpm_database, pro) == []  # (its own entry, Pro's, says fixed; the standard one is not its word)
    assert [f[0] for f in found(rpm_database, package("Ubuntu:22.04:LTS", "zlib1g", "1:1.2.11", source="zlib"))] == [
        "UBUNTU-CVE-2024-0001"
    ]
