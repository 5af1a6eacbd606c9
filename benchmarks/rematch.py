"""`tcs-registry rematch` at scale: a project whose latest scan stored IMAGES image platforms of PACKAGES
Debian 9 packages each (drawn from a pool of 600 package versions, as a registry's images share their
bases; openssl and dpkg at versions the kit's advisories affect), matched again against the kit's OSV
records. Prints the time to write the scan and the time to match it all again, on SQLite and on
PostgreSQL (a throwaway cluster on loopback).

    .venv/bin/python benchmarks/rematch.py [IMAGES] [PACKAGES]      # default 10000 150
"""

from __future__ import annotations

import io
import random
import sys
import tempfile
import time
from pathlib import Path

from tcs_registry.analysis import sbom
from tcs_registry.models import Inventory, Package, Platform
from tcs_registry.rematch import rematch
from tcs_registry.results import findings_document
from tcs_registry.store import Store, store_url
from tcs_registry.testing.postgres import PostgresServer
from tcs_registry.vulns.database import VulnDatabase

REGISTRY = "https://registry.example.com"
KIT = Path(__file__).parent.parent / "tests" / "fixtures" / "osv"
LAYER = "sha256:" + "1" * 64


def package(name: str, version: str) -> Package:
    return Package(
        name, version, "deb", "Debian:9", f"pkg:deb/debian/{name}@{version}?distro=debian-9",
        "var/lib/dpkg/status", LAYER, source_name=name, source_version=version, arch="amd64",
    )  # fmt: skip


POOL = [package(f"lib{n}", f"1.{n % 7}.{v}-1") for n in range(298) for v in range(2)]
POOL += [
    package("openssl", "1.1.0l-1~deb9u5"),
    package("dpkg", "1.18.25"),
    package("libxml2", "2.9.4+dfsg1-2.2+deb9u6"),
]


def inventory(n: int, count: int, chosen: random.Random) -> Inventory:
    packages = tuple(sorted(chosen.sample(POOL[:-3], count - 3) + POOL[-3:], key=lambda p: p.name))
    return Inventory(
        f"team{n % 50}/app{n}", "1", f"sha256:{n:064x}", Platform("linux", "amd64"), "Debian GNU/Linux 9",
        "debian", "9", "Debian:9", (LAYER,), packages,
    )  # fmt: skip


def measure(name: str, url: str, state: Path, images: int, count: int) -> None:
    store = Store(store_url(url, state))
    run = store.begin_run("default", REGISTRY, "DEFAULT_V2", "scan", "{}")
    chosen = random.Random(7)
    started = time.perf_counter()
    for first in range(0, images, 500):
        batch = [inventory(n, count, chosen) for n in range(first, min(images, first + 500))]
        scanned = [(i, sbom.to_json(i, "registry.example.com"), findings_document([], [])) for i in batch]
        store.record(run, "default", REGISTRY, scanned=scanned)
    store.finish_run(run, status="complete", found=images, new=images, skipped=0, failed=0, report=None)
    wrote = time.perf_counter() - started
    started = time.perf_counter()
    out = io.StringIO()
    rematch(store, "default", state, out)
    took = time.perf_counter() - started
    store.close()
    print(
        f"{name}: {images} image platforms of {count} packages written in {wrote:.1f} s; matched again in {took:.1f} s"
    )
    print("  " + "\n  ".join(out.getvalue().splitlines()[1:4]))


def main() -> None:
    images, count = (int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) > 2 else (10_000, 150)
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        database = VulnDatabase(state)
        database.import_paths([KIT])
        database.close()
        measure("SQLite", f"sqlite:///{tmp}/state.db", state, images, count)
        with PostgresServer() as postgres:
            measure("PostgreSQL", postgres.database(), state, images, count)


if __name__ == "__main__":
    main()
