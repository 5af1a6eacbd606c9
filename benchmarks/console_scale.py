"""The console at scale: a project of IMAGES image platforms with FINDINGS vulnerabilities each (10,000 and
30: 300,000 findings), written through the store's own `record` as a scan writes them, on SQLite and on
PostgreSQL (a throwaway cluster on loopback). Prints the time to write them, and the server time of the
first page of findings, unfiltered and filtered, as the console's API and pages ask for it; then the
project page's trend over 100 scans.

    .venv/bin/python benchmarks/console_scale.py [IMAGES] [FINDINGS]      # default 10000 30
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from tcs_registry.analysis import sbom
from tcs_registry.console import findings
from tcs_registry.models import Inventory, Platform
from tcs_registry.store import Store, store_url
from tcs_registry.testing.postgres import PostgresServer

REGISTRY = "https://registry.example.com"
LEVELS = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")


def scanned(n: int, count: int) -> tuple:
    inventory = Inventory(
        f"team{n % 50}/app{n}", "1", f"sha256:{n:064x}", Platform("linux", "amd64"), "Debian 12", "debian", "12",
        "Debian:12", (f"sha256:{n % 50:064x}",), (),
    )  # fmt: skip
    vulnerabilities = [
        {
            "id": f"CVE-2024-{(n * 7 + k) % 5000:05}",
            "aliases": [f"DEBIAN-CVE-2024-{(n * 7 + k) % 5000:05}"],
            "package": f"lib{k % 40}",
            "package_type": "deb",
            "purl": f"pkg:deb/debian/lib{k % 40}@1.0",
            "installed_version": "1.0",
            "fixed_version": "1.1" if k % 3 else "",
            "severity": LEVELS[(n + k) % 5],
            "severity_source": "Debian",
            "score": None,
            "vector": "",
            "layer": f"sha256:{n % 50:064x}",  # a base layer per team
            "location": "var/lib/dpkg/status",
            "title": "A flaw in a library",
        }
        for k in range(count)
    ]
    return (
        inventory,
        sbom.to_json(inventory, "registry.example.com"),
        {"vulnerabilities": vulnerabilities, "violations": []},
    )


def measure(name: str, url: str, images: int, count: int) -> None:
    store = Store(store_url(url, Path(tempfile.mkdtemp())))
    run = store.begin_run("default", REGISTRY, "DEFAULT_V2", "scan", "{}")
    started = time.perf_counter()
    for first in range(0, images, 500):
        store.record(
            run, "default", REGISTRY, scanned=[scanned(n, count) for n in range(first, min(images, first + 500))]
        )
    wrote = time.perf_counter() - started
    store.finish_run(run, status="complete", found=images, new=images, skipped=0, failed=0, report=None)
    if store.url.get_backend_name() == "postgresql":
        with store.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")  # (autovacuum's, in a database that lives)
    store.close()  # (SQLite's statistics, on closing)
    store = Store(store_url(url, Path(tempfile.mkdtemp())))
    print(f"{name}: {images} image platforms, {images * count} findings written in {wrote:.1f} s")
    for what, filters in (
        ("first page, unfiltered", findings.Filters()),
        ("first page, critical and high", findings.Filters(severity=("CRITICAL", "HIGH"))),
        ("first page, one repository's start", findings.Filters(repository="team7/")),
        ("first page, a package with a fix", findings.Filters(package="lib4", fixable=True)),
        ("first page, an alias", findings.Filters(id="DEBIAN-CVE-2024-00042")),
        ("first page, one base layer's", findings.Filters(layer=f"sha256:{7:064x}")),
    ):
        findings.page(store, "default", "vulnerabilities", filters)  # warm, as a console that serves
        started = time.perf_counter()
        page = findings.page(store, "default", "vulnerabilities", filters)
        took = 1000 * (time.perf_counter() - started)
        print(f"  {what:38} {took:7.0f} ms  ({page.total} findings)")
    store.close()


def trend(name: str, url: str, scans: int = 100, images: int = 1000, count: int = 10) -> None:
    """The project page's trend: a registry scanned ``scans`` times."""
    store = Store(store_url(url, Path(tempfile.mkdtemp())))
    started = time.perf_counter()
    batch = [scanned(n, count) for n in range(images)]
    for _ in range(scans):
        run = store.begin_run("trend", REGISTRY, "DEFAULT_V2", "scan", "{}")
        store.record(run, "trend", REGISTRY, scanned=batch)
        store.finish_run(run, status="complete", found=images, new=0, skipped=0, failed=0, report=None)
    if store.url.get_backend_name() == "postgresql":
        with store.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    store.close()
    store = Store(store_url(url, Path(tempfile.mkdtemp())))
    wrote = time.perf_counter() - started
    store.trend("trend", REGISTRY, "vulnerability", scans)
    started = time.perf_counter()
    store.trend("trend", REGISTRY, "vulnerability", scans)
    took = 1000 * (time.perf_counter() - started)
    each = images * count
    print(f"{name}: the trend over {scans} scans of {each} findings each: {took:.0f} ms ({wrote:.0f} s to write)")
    store.close()


def main() -> None:
    images, count = (int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) > 2 else (10_000, 30)
    with tempfile.TemporaryDirectory() as tmp:
        measure("SQLite", f"sqlite:///{tmp}/state.db", images, count)
        trend("SQLite", f"sqlite:///{tmp}/trend.db")
    with PostgresServer() as postgres:
        measure("PostgreSQL", postgres.database(), images, count)
        trend("PostgreSQL", postgres.database())


if __name__ == "__main__":
    main()
