"""Ruby gems, PHP (Composer), .NET and conda packages from what their installers leave in an image - and
a gem Debian's package manager installed reported once, as the OS package. The gemspecs are Debian's own
(tests/fixtures/SOURCES.md); installed.json and *.deps.json are written as Composer and the .NET SDK write
them (the formats' own documentation, cited below); the Packagist advisory is a real OSV record."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tcs_registry.testing.helpers import inventory, package_rows, vulnerabilities
from tcs_registry.testing.images import Entry, Pusher, tar_layer

GEMS = Path(__file__).parent / "fixtures" / "pkgdb" / "gems"
KIT = Path(__file__).parent / "fixtures" / "osv"
DEBIAN = Entry("etc/os-release", b'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')
# Composer 2's vendor/composer/installed.json (InstalledFilesystemRepository: an object with "packages",
# "dev" and "dev-package-names"; versions as tagged, "v" and all, with "version_normalized" beside)
COMPOSER_2 = {
    "packages": [
        {"name": "league/flysystem", "version": "1.0.70", "version_normalized": "1.0.70.0", "type": "library",
         "license": ["MIT"]},
        {"name": "symfony/polyfill-mbstring", "version": "v1.28.0", "version_normalized": "1.28.0.0",
         "type": "library", "license": ["MIT"]},
    ],
    "dev": True,
    "dev-package-names": [],
}  # fmt: skip
# Composer 1's: a list of the same objects
COMPOSER_1 = [{"name": "monolog/monolog", "version": "1.27.1", "license": ["MIT"]}]
# a .NET application's <app>.deps.json (DependencyContext: "libraries" keyed "Name/Version", "project" the
# application itself, "package" what NuGet brought)
DEPS = {
    "runtimeTarget": {"name": ".NETCoreApp,Version=v8.0"},
    "targets": {".NETCoreApp,Version=v8.0": {}},
    "libraries": {
        "shop/1.0.0": {"type": "project", "serviceable": False, "sha512": ""},
        "Newtonsoft.Json/13.0.1": {"type": "package", "serviceable": True, "sha512": "sha512-x",
                                   "path": "newtonsoft.json/13.0.1", "hashPath": "newtonsoft.json.13.0.1.nupkg.sha512"},
    },
}  # fmt: skip
CONDA = {"name": "numpy", "version": "1.26.4", "build": "py311h64a7726_0", "license": "BSD-3-Clause"}


def test_gems_composer_dotnet_and_conda_packages(tcs, fresh_registry, out_dir, state_dir):
    rack, cgi = (GEMS / "rack-2.2.22.gemspec").read_bytes(), (GEMS / "cgi-0.3.5.gemspec").read_bytes()
    old_rack = (GEMS / "rack-2.1.4.gemspec").read_bytes()  # Debian 11's
    legacy = {**DEPS, "libraries": {"Newtonsoft.Json/12.0.3": DEPS["libraries"]["Newtonsoft.Json/13.0.1"]}}
    owned = "usr/share/rubygems-integration/all/specifications/rack-2.2.22.gemspec"
    os_layer = tar_layer(
        [
            DEBIAN,
            Entry("var/lib/dpkg/status", b"Package: ruby-rack\nStatus: install ok installed\n"
                  b"Architecture: all\nVersion: 2.2.22-0+deb12u2\n\nPackage: node-ms\nStatus: install ok installed\n"
                  b"Architecture: all\nVersion: 2.1.3+~cs0.7.31-3\n"),
            Entry("var/lib/dpkg/info/ruby-rack.list", f"/.\n/usr\n/{owned}\n".encode()),
            Entry(owned, rack),  # Debian's ruby-rack: the OS package, not a second (gem) package
            # Debian's node-* packages put npm packages in usr/share/nodejs: node-ms's, owned, not listed twice
            Entry("var/lib/dpkg/info/node-ms.list", b"/.\n/usr/share/nodejs/ms/package.json\n"),
            Entry("usr/share/nodejs/ms/package.json", b'{"name": "ms", "version": "2.1.3", "license": "MIT"}'),
            # one copied there by hand (no OS package owns it): an npm package
            Entry("usr/share/nodejs/@types/node/package.json", b'{"name": "@types/node", "version": "18.0.0"}'),
        ]
    )  # fmt: skip
    app_layer = tar_layer(
        [
            Entry("var/lib/gems/3.1.0/specifications/rack-2.2.22.gemspec", rack),  # as `gem install` puts it
            Entry("usr/local/lib/ruby/3.1.0/specifications/default/cgi-0.3.5.gemspec", cgi),  # a default gem
            Entry("srv/app/vendor/composer/installed.json", json.dumps(COMPOSER_2).encode()),
            Entry("srv/legacy/vendor/composer/installed.json", json.dumps(COMPOSER_1).encode()),
            Entry("app/shop.deps.json", json.dumps(DEPS).encode()),
            Entry("opt/conda/conda-meta/numpy-1.26.4-py311h64a7726_0.json", json.dumps(CONDA).encode()),
            Entry("opt/conda/conda-meta/history", b"==> 2024-01-01 <==\n"),
            Entry("usr/lib/ruby/gems/2.7.0/specifications/rack-2.1.4.gemspec", old_rack),
            Entry("srv/legacy/legacy.deps.json", json.dumps(legacy).encode()),
        ]
    )
    Pusher(fresh_registry.url).image("poly", "1", created="2024-01-01T00:00:00Z", layers=[os_layer, app_layer])
    for record in ("GHSA-9f46-5r25-5wfm", "GHSA-hxqx-xwvh-44m2", "GHSA-5crp-9r3c-p9vr"):
        assert tcs("db", "import", str(KIT / f"{record}.json"), f"--state-dir={state_dir}").code == 0
    assert tcs("registry", fresh_registry.url, "--format=json").code == 0
    document = inventory(out_dir, fresh_registry.host, "poly", "1")
    assert package_rows(document, "type", "name", "version", "ecosystem", "purl", "license") == sorted(
        [
            ("deb", "ruby-rack", "2.2.22-0+deb12u2", "Debian:12",
             "pkg:deb/debian/ruby-rack@2.2.22-0%2Bdeb12u2?arch=all&distro=debian-12", ""),
            ("gem", "rack", "2.2.22", "RubyGems", "pkg:gem/rack@2.2.22", "MIT"),
            ("deb", "node-ms", "2.1.3+~cs0.7.31-3", "Debian:12",
             "pkg:deb/debian/node-ms@2.1.3%2B~cs0.7.31-3?arch=all&distro=debian-12", ""),
            ("npm", "@types/node", "18.0.0", "npm", "pkg:npm/%40types/node@18.0.0", ""),
            ("gem", "cgi", "0.3.5", "RubyGems", "pkg:gem/cgi@0.3.5", "Ruby OR BSD-2-Clause"),
            ("composer", "league/flysystem", "1.0.70", "Packagist", "pkg:composer/league/flysystem@1.0.70", "MIT"),
            ("composer", "symfony/polyfill-mbstring", "1.28.0", "Packagist",
             "pkg:composer/symfony/polyfill-mbstring@1.28.0", "MIT"),
            ("composer", "monolog/monolog", "1.27.1", "Packagist", "pkg:composer/monolog/monolog@1.27.1", "MIT"),
            ("nuget", "Newtonsoft.Json", "13.0.1", "NuGet", "pkg:nuget/Newtonsoft.Json@13.0.1", ""),
            ("nuget", "shop", "1.0.0", "", "pkg:nuget/shop@1.0.0", ""),  # the application: listed, not matched
            ("conda", "numpy", "1.26.4", "", "pkg:conda/numpy@1.26.4", "BSD-3-Clause"),
            ("gem", "rack", "2.1.4", "RubyGems", "pkg:gem/rack@2.1.4", "MIT"),
            ("nuget", "Newtonsoft.Json", "12.0.3", "NuGet", "pkg:nuget/Newtonsoft.Json@12.0.3", ""),
        ]
    )  # fmt: skip
    # league/flysystem before 1.1.4: CVE-2021-32708 (GHSA-9f46-5r25-5wfm), in Packagist's version order; rack
    # 2.1 to 2.1.4.1 (not 2.2.22): CVE-2022-30122, in RubyGems'; Newtonsoft.Json before 13.0.1: CVE-2024-21907
    assert vulnerabilities(out_dir, fresh_registry.host, "poly", "1") == [
        ("Newtonsoft.Json", "12.0.3", "CVE-2024-21907", "13.0.1"),
        ("league/flysystem", "1.0.70", "CVE-2021-32708", "1.1.4"),
        ("rack", "2.1.4", "CVE-2022-30122", "2.1.4.1"),
    ]


UVX = Path(sys.executable).parent / "uvx"  # uv's, from PyPI (the test extra): built by Astral with cargo-auditable


@pytest.mark.skipif(not UVX.exists(), reason="the uv wheel is for x86_64 Linux")
def test_rust_binaries_built_with_cargo_auditable(tcs, fresh_registry, out_dir, state_dir):
    layer = tar_layer([DEBIAN, Entry("usr/local/bin/uvx", UVX.read_bytes(), mode=0o755)])
    Pusher(fresh_registry.url).image("rust", "1", created="2024-01-01T00:00:00Z", layers=[layer])
    # regex before 1.5.5, rsa up to 0.9.6 (last_affected), crossbeam-channel 0.5.11 to 0.5.15: uvx has
    # regex 1.13.1, rsa 0.9.10, crossbeam-channel 0.5.15 - after each (as numbers, not as text)
    for record in ("GHSA-m5pq-gvj9-9vr8", "GHSA-c38w-74pg-36hr", "GHSA-pg9f-39pc-qf8g"):
        assert tcs("db", "import", str(KIT / f"{record}.json"), f"--state-dir={state_dir}").code == 0
    assert tcs("registry", fresh_registry.url, "--format=json").code == 0
    document = inventory(out_dir, fresh_registry.host, "rust", "1")
    rows = package_rows(document, "type", "name", "version", "ecosystem", "purl", "location")
    # the 532 crates compiled in (the 35 build-only ones, serde_derive say, are not in the binary): 446 from
    # crates.io, matched; 86 of uv's own workspace (uv itself among them), listed and not matched
    assert len(rows) == 532 and {row[0] for row in rows} == {"cargo"}
    assert sum(row[3] == "crates.io" for row in rows) == 446
    assert ("cargo", "uv", "0.13.9", "", "pkg:cargo/uv@0.13.9", "usr/local/bin/uvx") in rows
    assert ("cargo", "regex", "1.13.1", "crates.io", "pkg:cargo/regex@1.13.1", "usr/local/bin/uvx") in rows
    assert not [row for row in rows if row[1] in ("serde_derive", "cc", "autocfg")]
    assert vulnerabilities(out_dir, fresh_registry.host, "rust", "1") == []


def test_parsers_take_hostile_and_odd_files_in_their_stride():
    import time

    from tcs_registry.analysis.parsers.dpkg import parse_copyright
    from tcs_registry.analysis.parsers.language import parse_composer, parse_deps_json, parse_gemspec

    # crafted files of a megabyte: read in linear time (a backtracking regex took hours); the parse's own CPU
    # is measured (wall time in the parallel pass of a slow, loaded machine took 1.17 s once)
    machine = b"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
    for hostile in (
        b's.name = "a' + b" " * 1_000_000 + b'x"',
        b"\n" * 1_000_000,
        machine + b"License: a" + b" " * 1_000_000,
    ):
        started = time.thread_time()
        parse_gemspec(hostile) if not hostile.startswith(b"Format") else parse_copyright(hostile)
        assert time.thread_time() - started < 1.0
    # older RubyGems wrote %q{...}
    assert parse_gemspec(b's.name = %q{rack}\ns.version = "1.0"\n') == [{"name": "rack", "version": "1.0"}]
    # Debian's copyright-format: "A or B, and C" is (A OR B) AND C; and/or is OR; prose is no license
    assert parse_copyright(
        machine + b"License: REGCOMP, and GPL-1+ or Artistic\nLicense: LGPL-2.1+ and/or MPL-1.1\n"
    ) == ("REGCOMP AND (GPL-1.0-or-later OR Artistic-1.0-Perl) AND (LGPL-2.1-or-later OR MPL-1.1)")
    assert parse_copyright(b"See /usr/share/common-licenses/GPL for the text.\n") == ""  # which GPL? not guessed
    assert parse_copyright(machine + b"License: GPL-2.1\n") == "GPL-2.1"  # no such GPL: not made an SPDX id
    # a license given as a string; a branch's version kept as it is (not matched: no release order holds it)
    assert parse_composer(b'{"packages": [{"name": "a/b", "version": "1.1.x-dev", "license": "MIT"}]}') == [
        {"name": "a/b", "version": "1.1.x-dev", "license": "MIT"}
    ]
    # .NET: a self-contained application's runtime is a package; a build-time-only one (no files to load) is not
    deps = {
        "targets": {"t": {"runtimepack.Microsoft.NETCore.App.Runtime.linux-x64/8.0.0": {"runtime": {"x.dll": {}}},
                          "Microsoft.SourceLink.GitHub/8.0.0": {"dependencies": {}},
                          "Newtonsoft.Json/13.0.1": {"runtime": {"lib/Newtonsoft.Json.dll": {}}}}},
        "libraries": {"runtimepack.Microsoft.NETCore.App.Runtime.linux-x64/8.0.0": {"type": "runtimepack"},
                      "Microsoft.SourceLink.GitHub/8.0.0": {"type": "package"},
                      "Newtonsoft.Json/13.0.1": {"type": "Package"}},
    }  # fmt: skip
    assert parse_deps_json(json.dumps(deps).encode()) == [
        {"name": "Microsoft.NETCore.App.Runtime.linux-x64", "version": "8.0.0"},
        {"name": "Newtonsoft.Json", "version": "13.0.1"},
    ]


def elf_with(section: bytes, flags: int = 0, names: bytes = b"\0.shstrtab\0.dep-v0\0", count: int = 3) -> bytes:
    """A minimal little-endian ELF64 file: a null section, the name table, and `.dep-v0` holding ``section``."""
    import struct

    body_at = 64
    names_at, data_at = body_at, body_at + len(names)
    table_at = data_at + len(section)
    header = b"\x7fELF\x02\x01\x01" + b"\0" * 9
    header += struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0, 0, table_at, 0, 64, 56, 0, 64, count, 1)
    entries = [b"\0" * 64, struct.pack("<IIQQQQIIQQ", 1, 3, 0, 0, names_at, len(names), 0, 0, 1, 0)]
    entries += [struct.pack("<IIQQQQIIQQ", 11, 1, flags, 0, data_at, len(section), 0, 0, 1, 0)] * (count - 2)
    return header + names + section + b"".join(entries)


def test_crafted_rust_binaries_cost_a_problem_line_not_minutes_or_gigabytes():
    import io
    import time
    import zlib

    from tcs_registry.analysis.parsers import rustbinary

    crates = {"packages": [{"name": "a", "version": "1.0.0", "source": "crates.io"}]}
    assert rustbinary.parse(io.BytesIO(elf_with(zlib.compress(json.dumps(crates).encode())))) == [
        {"name": "a", "version": "1.0.0"}
    ]
    started = time.perf_counter()
    for crafted, message in (
        (elf_with(b"x", names=b"\0" + b"A" * 7_000_000 + b".dep-v0\0"), "name table"),  # names with no NUL
        (elf_with(zlib.compress(b"x" * 100), flags=0x800), "compressed"),  # ELF section compression: a bomb
        (elf_with(zlib.compress(b'{"packages":[' + b"[]," * 4_000_000 + b"[]]}")), "inflates to over"),
        (elf_with(b"x", count=50_000), "ELF sections"),
    ):
        with pytest.raises(ValueError, match=message):
            rustbinary.parse(io.BytesIO(crafted))
    assert time.perf_counter() - started < 5
