"""What a long history costs `results`: a project whose registry of IMAGES image platforms was scanned RUNS
times (RUNS x IMAGES scan rows, generated into the store directly), on SQLite and on PostgreSQL (a
throwaway cluster on loopback). Prints, for the latest scan: its images, each image's previous scan
(`results --changes`), the previous scan, one image's latest scan (`results --image`).

    .venv/bin/python benchmarks/store_history.py [RUNS] [IMAGES]      # default 100 10000
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import zlib
from pathlib import Path

from tcs_registry.analysis import ANALYSER_VERSION
from tcs_registry.schema import findings, inventories, runs, scans
from tcs_registry.store import Store, store_url
from tcs_registry.testing.postgres import PostgresServer

REGISTRY = "https://registry.example.com"


def populate(store: Store, count: int, images: int) -> None:
    """Each image's digest changes every 50 runs, as images are rebuilt."""
    blob = zlib.compress(json.dumps({"vulnerabilities": [], "violations": []}).encode())
    document = json.dumps({"packages": [], "os": "alpine"})
    with store.engine.begin() as connection:
        connection.execute(
            runs.insert(),
            [
                dict(id=run, project="default", registry=REGISTRY, registry_type="DEFAULT_V2", mode="scan",
                     started_at="2026-01-01T00:00:00Z", status="complete", scan_id=f"run-{run}", shard=1, shards=1)
                for run in range(1, count + 1)
            ],
        )  # fmt: skip
        digests = [f"sha256:{i}-{v}" for i in range(images) for v in (0, 1)]
        rows = [dict(project="default", digest=d, analyser=ANALYSER_VERSION, inventory=document) for d in digests]
        connection.execute(inventories.insert(), rows)
        for run in range(1, count + 1):
            rows = [
                dict(run=run, project="default", registry=REGISTRY, repository=f"team/app{i}", tag="1",
                     platform="linux/amd64", digest=f"sha256:{i}-{(run // 50) % 2}", analyser=ANALYSER_VERSION,
                     scanned_at="2026-01-01T00:00:00Z")
                for i in range(images)
            ]  # fmt: skip
            connection.execute(scans.insert(), rows)
            keys = ("run", "repository", "tag", "platform")
            connection.execute(findings.insert(), [{**{k: r[k] for k in keys}, "findings": blob} for r in rows])
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("ANALYZE")  # (autovacuum's, in a database that lives)


def measure(name: str, url: str, count: int, images: int) -> None:
    store = Store(store_url(url, Path(tempfile.mkdtemp())))
    started = time.perf_counter()
    populate(store, count, images)
    print(f"{name}: {count} runs x {images} image platforms written in {time.perf_counter() - started:.0f} s")
    store.close()  # as a run ends; then opened again, as `results` does
    store = Store(store_url(url, Path(tempfile.mkdtemp())))
    scan = store.scan_runs("default", count)
    for what, work in (
        ("the latest scan's images", lambda: store.scanned("default", scan)),
        ("each image's previous scan (--changes)", lambda: store.before("default", scan)),
        ("the previous scan", lambda: store.previous_scan("default", scan)),
        ("one image's latest scan (--image)", lambda: store.last_scanned("default", "team/app5", "1")),
    ):
        started = time.perf_counter()
        work()
        print(f"  {what:42} {1000 * (time.perf_counter() - started):8.0f} ms")
    store.close()


def main() -> None:
    count, images = (int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) > 2 else (100, 10_000)
    with tempfile.TemporaryDirectory() as tmp:
        measure("SQLite", f"sqlite:///{tmp}/state.db", count, images)
    with PostgresServer() as postgres:
        measure("PostgreSQL", postgres.database(), count, images)


if __name__ == "__main__":
    main()
